import { connect, rootCertificates, type ConnectionOptions, type SecureVersion } from "node:tls";
import { errorMessage } from "../../common/errors.js";
import type { CheckResult } from "../types.js";
import { result, type CheckContext, type CheckHead } from "./context.js";

/**
 * Transport: the target's TLS certificate verifies, a client limited to a version below the
 * policy's minimum cannot connect, and where the policy's mTLS is Strict a client without a
 * certificate gets no answer. A TLS handshake is not an HTTP request, but it counts against
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

/** What a client without a certificate got: an answer to a plain request, or the error that ended the connection. */
interface Attempt {
  answered: boolean;
  protocol?: string;
  /** The answer's first line, or why there was none. */
  detail: string;
}

/**
 * A TLS client without a certificate that, once connected, asks for `/`: under TLS 1.3 the server
 * checks the client's certificate after the client thinks the handshake is done, so only the
 * first answer (or the alert that replaces it) tells whether the server took the client.
 */
function withoutCertificate(target: URL, options: Partial<ConnectionOptions>): Promise<Attempt> {
  return new Promise((resolve) => {
    let protocol: string | undefined;
    let settled = false;
    const settle = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(protocol ? { ...a, protocol } : a);
    };
    const socket = connect({ host: target.hostname, port: Number(target.port || 443), servername: target.hostname, rejectUnauthorized: false, ...options }, () => {
      protocol = socket.getProtocol() ?? undefined;
      socket.write(`GET / HTTP/1.1\r\nhost: ${target.host}\r\nconnection: close\r\n\r\n`);
    });
    socket.setTimeout(5000, () => settle({ answered: false, detail: "no answer within 5 s" }));
    socket.on("data", (chunk: Buffer) => settle({ answered: true, detail: chunk.toString("latin1").split("\r\n")[0] ?? "" }));
    socket.on("error", (error) => settle({ answered: false, detail: errorMessage(error) }));
    socket.on("close", () => settle({ answered: false, detail: "the server closed the connection without an answer" }));
  });
}

function attemptEvidence(target: URL, a: Attempt): CheckResult["evidence"] {
  return [
    {
      method: "TLS",
      url: target.origin,
      headers: [["client", "no certificate"]],
      status: 0,
      responseHeaders: a.protocol ? { protocol: a.protocol } : {},
      body: a.answered ? a.detail : "",
      ...(a.answered ? {} : { error: a.detail }),
    },
  ];
}

/** mTLS as the policy's spec.tls.mtls says: Strict refuses a client without a certificate; Permissive takes it (reported, not a flaw). */
async function mtlsCheck(ctx: CheckContext): Promise<CheckResult> {
  const head: CheckHead = { id: "transport/mtls", checkClass: "transport", title: "mTLS where the policy requires it", severity: "high" };
  const target = ctx.plan.target;
  const mode = ctx.plan.workload.listener.tls?.mtls ?? "Disabled";
  if (target.protocol !== "https:") return result(head, "skipped", "not applicable: the target is plain HTTP (mTLS is checked on an https:// target)");
  if (mode === "Disabled") return result(head, "skipped", "not applicable: the policy does not ask for mTLS (spec.tls.mtls)");
  const extra = ctx.client.extraCa();
  const a = await withoutCertificate(target, extra ? { ca: [...rootCertificates, extra] } : {});
  if (mode === "Strict")
    return a.answered
      ? result(head, "failed", `the policy's mTLS is Strict, but a client without a certificate got an answer (${a.detail})`, attemptEvidence(target, a))
      : result(head, "passed", `a client without a certificate was refused: ${a.detail}`, attemptEvidence(target, a));
  return a.answered
    ? result(
        head,
        "passed",
        `mTLS is Permissive: a client without a certificate is taken (${a.detail}), as Permissive means; set Strict once every client presents one`,
        attemptEvidence(target, a),
      )
    : result(head, "passed", `mTLS is Permissive, yet a client without a certificate was refused: ${a.detail}`, attemptEvidence(target, a));
}

export async function transportChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const target = ctx.plan.target;
  const cert: CheckHead = { id: "transport/certificate", checkClass: "transport", title: "the target's certificate verifies", severity: "high" };
  const version: CheckHead = { id: "transport/minimum-version", checkClass: "transport", title: "TLS below the policy's minimum version is refused", severity: "medium" };
  const mtls = await mtlsCheck(ctx);
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
