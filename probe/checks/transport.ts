import { connect, rootCertificates, type ConnectionOptions, type SecureVersion } from "node:tls";
import { errorMessage } from "../../common/errors.js";
import type { CheckResult } from "../types.js";
import { NOT_IMPLEMENTED } from "../types.js";
import { result, type CheckContext, type CheckHead } from "./context.js";

/**
 * Transport: the target's TLS certificate verifies, and a client limited to a version below the
 * policy's minimum cannot connect. A TLS handshake is not an HTTP request, but it counts against
 * the same host bounds: only the target is contacted.
 */

interface Handshake {
  protocol?: string;
  authorized: boolean;
  error?: string;
}

function handshake(target: URL, options: Partial<ConnectionOptions>): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.hostname, port: Number(target.port || 443), servername: target.hostname, rejectUnauthorized: false, ...options }, () => {
      const done = {
        protocol: socket.getProtocol() ?? undefined,
        authorized: socket.authorized,
        ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
      };
      socket.end();
      resolve(done);
    });
    socket.setTimeout(5000, () => socket.destroy(new Error("no handshake within 5 s")));
    socket.on("error", (error) => resolve({ authorized: false, error: errorMessage(error) }));
  });
}

function evidence(target: URL, what: string, h: Handshake): CheckResult["evidence"] {
  return [
    {
      method: "TLS",
      url: target.origin,
      headers: [["client", what]],
      status: 0,
      responseHeaders: h.protocol ? { protocol: h.protocol } : {},
      body: "",
      ...(h.error ? { error: h.error } : {}),
    },
  ];
}

export async function transportChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const target = ctx.plan.target;
  const cert: CheckHead = { id: "transport/certificate", checkClass: "transport", title: "the target's certificate verifies", severity: "high" };
  const version: CheckHead = { id: "transport/minimum-version", checkClass: "transport", title: "TLS below the policy's minimum version is refused", severity: "medium" };
  const mtls = result({ id: "transport/mtls", checkClass: "transport", title: "mTLS where the policy requires it", severity: "high" }, "skipped", NOT_IMPLEMENTED);
  if (target.protocol !== "https:") {
    const why = "could not run: the target is plain HTTP (give an https:// target to check TLS)";
    return [result(cert, "skipped", why), result(version, "skipped", why), mtls];
  }
  const extra = ctx.client.extraCa();
  const h = await handshake(target, extra ? { ca: [...rootCertificates, extra] } : {});
  const certResult = h.authorized
    ? result(cert, "passed", `verified; ${h.protocol ?? "?"} negotiated`, evidence(target, "default", h))
    : result(cert, "failed", `does not verify: ${h.error ?? "unknown reason"}`, evidence(target, "default", h));
  const minimum = ctx.plan.workload.listener.tls?.minVersion;
  if (!minimum || minimum === "TLSv1.2")
    return [certResult, result(version, "skipped", `not applicable: the policy's minimum is ${minimum ?? "not set"}, the lowest a client offers here`), mtls];
  const below: SecureVersion = "TLSv1.2";
  const old = await handshake(target, { maxVersion: below, minVersion: below });
  const versionResult = old.protocol
    ? result(version, "failed", `a TLS 1.2 client connected (${old.protocol}); the policy's minimum is ${minimum}`, evidence(target, "TLS 1.2 only", old))
    : result(version, "passed", `a TLS 1.2 client was refused: ${old.error ?? "handshake failed"}`, evidence(target, "TLS 1.2 only", old));
  return [certResult, versionResult, mtls];
}
