import type { PolicySpec } from "../api/v1alpha1/policy.js";
import type { RequestMeaningIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

/**
 * The headers of a policy whose value some decision reads: the authority (DPoP htu), the
 * credentials (Authorization, DPoP, the attestation header), the app-version and platform
 * headers, the headers rate limits are keyed by, the headers rules require (when.headers), and with CORS the Origin and the preflight's
 * Access-Control-Request-Method. Each must arrive once: Envoy joins copies
 * into one comma-separated value (`ios,windows`) that no check was written for.
 */
export function buildRequestMeaning(spec: PolicySpec): RequestMeaningIR {
  const headers = new Set([":authority", "authorization", "dpop"]);
  const version = spec.mobile?.minAppVersion;
  if (version) {
    headers.add(version.header.toLowerCase());
    headers.add(version.platformHeader.toLowerCase());
  }
  const attestation = spec.authentication?.appAttestation;
  if (attestation) headers.add(attestation.header.toLowerCase());
  // The device an adaptive block applies to: a second copy would make another device of it.
  if (spec.adaptiveResponse?.deviceHeader) headers.add(spec.adaptiveResponse.deviceHeader.toLowerCase());
  if (spec.cors) for (const name of ["origin", "access-control-request-method"]) headers.add(name);
  for (const rule of spec.rules ?? []) {
    // A required header value (when.headers): Envoy's matcher takes any copy, the app may read another.
    for (const name of Object.keys(rule.when?.headers ?? {})) headers.add(name.toLowerCase());
    for (const limit of rule.rateLimits ?? []) {
      for (const key of limit.key ?? []) if (key.startsWith("header:")) headers.add(key.slice("header:".length).toLowerCase());
    }
  }
  return { singleValueHeaders: [...headers].sort(compareStrings) };
}
