import { createHash, X509Certificate } from "node:crypto";
import { refuse, type Decision } from "./decision.js";

/** base64url SHA-256 of the certificate's DER encoding (RFC 8705 `x5t#S256`). */
export function certificateThumbprint(pem: string): string | undefined {
  try {
    return createHash("sha256").update(new X509Certificate(pem).raw).digest("base64url");
  } catch {
    return undefined;
  }
}

function boundThumbprint(payload: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const cnf = payload?.cnf;
  if (typeof cnf !== "object" || cnf === null) return undefined;
  const value = (cnf as Record<string, unknown>)["x5t#S256"];
  return typeof value === "string" ? value : undefined;
}

/**
 * Certificate-bound access tokens (RFC 8705): `cnf.x5t#S256` must be the thumbprint of the
 * client certificate of the connection. When binding is not required, only tokens that claim a
 * binding are checked.
 */
export function checkCertificateBinding(options: {
  payload: Readonly<Record<string, unknown>> | undefined;
  peerCertificate: string | undefined;
  required: boolean;
}): Decision | undefined {
  const bound = boundThumbprint(options.payload);
  const challenge = [{ name: "www-authenticate", value: 'Bearer error="invalid_token", error_description="certificate-bound token required"' }];
  if (bound === undefined) return options.required ? refuse(401, options.payload ? "certificate_token_not_bound" : "token_missing", { headers: challenge }) : undefined;
  if (options.peerCertificate === undefined) return refuse(401, "certificate_missing", { headers: challenge });
  const seen = certificateThumbprint(options.peerCertificate);
  if (seen === undefined) return refuse(401, "certificate_malformed", { headers: challenge });
  return seen === bound ? undefined : refuse(401, "certificate_mismatch", { headers: challenge });
}
