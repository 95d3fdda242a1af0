import { createServer, type Server } from "node:https";
import type { SecureVersion } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servingPki, type ServingPki } from "../../test/support/pki-webhook.js";
import { ProbeClient } from "../client.js";
import type { ProbePlan } from "../plan.js";
import { transportChecks } from "./transport.js";

async function serve(pki: ServingPki, minVersion: SecureVersion, clientCertificate = false): Promise<{ server: Server; url: URL }> {
  const tls = clientCertificate ? { requestCert: true, rejectUnauthorized: true, ca: pki.caPem } : {};
  const server = createServer({ cert: pki.certPem, key: pki.keyPem, minVersion, ...tls }, (_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, url: new URL(`https://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`) };
}

function plan(target: URL, minVersion: "TLSv1.2" | "TLSv1.3", mtls: "Disabled" | "Permissive" | "Strict" = "Disabled"): ProbePlan {
  return { target, workload: { listener: { port: 15006, tls: { minVersion, mtls } } } } as unknown as ProbePlan;
}

function client(target: URL, caPem?: string): ProbeClient {
  return new ProbeClient({ allowedHosts: [target.host], ratePerSecond: 100, maxRequests: 10, allowUnsafeMethods: false, timeoutMs: 2000, ...(caPem ? { caPem } : {}) });
}

describe("the transport checks against real TLS servers", () => {
  let pki: ServingPki;
  let strict: { server: Server; url: URL };
  let lax: { server: Server; url: URL };
  let mutual12: { server: Server; url: URL };
  let mutual13: { server: Server; url: URL };
  beforeAll(async () => {
    pki = await servingPki("probe-target");
    strict = await serve(pki, "TLSv1.3");
    lax = await serve(pki, "TLSv1.2");
    mutual12 = await serve(pki, "TLSv1.2", true);
    mutual13 = await serve(pki, "TLSv1.3", true);
  });
  afterAll(() => {
    for (const s of [strict, lax, mutual12, mutual13]) s.server.close();
  });

  it("passes a trusted certificate and a server that refuses TLS 1.2 when the policy asks for 1.3", async () => {
    const results = await transportChecks({ plan: plan(strict.url, "TLSv1.3"), client: client(strict.url, pki.caPem) });
    expect(results.map((r) => [r.id, r.outcome])).toEqual([
      ["transport/certificate", "passed"],
      ["transport/minimum-version", "passed"],
      ["transport/mtls", "skipped"],
    ]);
    expect(results[0]?.reason).toContain("TLSv1.3 negotiated");
  });

  it("fails a certificate nobody trusts, and a server that still speaks TLS 1.2", async () => {
    const results = await transportChecks({ plan: plan(lax.url, "TLSv1.3"), client: client(lax.url) });
    expect(results[0]?.outcome).toBe("failed");
    expect(results[0]?.reason).toMatch(/does not verify/);
    expect(results[1]?.outcome).toBe("failed");
    expect(results[1]?.reason).toContain("a TLS 1.2 client connected (TLSv1.2)");
  });

  it("passes Strict mTLS when a client without a certificate is refused (TLS 1.2 in the handshake, TLS 1.3 after it)", async () => {
    for (const server of [mutual12, mutual13]) {
      const mtls = (await transportChecks({ plan: plan(server.url, "TLSv1.2", "Strict"), client: client(server.url, pki.caPem) })).find((r) => r.id === "transport/mtls");
      expect(mtls?.outcome, mtls?.reason).toBe("passed");
      expect(mtls?.reason).toMatch(/^a client without a certificate was refused: /);
      expect(mtls?.evidence[0]?.headers).toEqual([["client", "no certificate"]]);
    }
  });

  it("fails Strict mTLS when a server answers a client without a certificate; reports Permissive taking it as passed, with a note", async () => {
    const strictPolicy = (await transportChecks({ plan: plan(lax.url, "TLSv1.2", "Strict"), client: client(lax.url, pki.caPem) })).find((r) => r.id === "transport/mtls");
    expect(strictPolicy?.outcome).toBe("failed");
    expect(strictPolicy?.reason).toContain("got an answer (HTTP/1.1 200 OK)");
    const permissive = (await transportChecks({ plan: plan(lax.url, "TLSv1.2", "Permissive"), client: client(lax.url, pki.caPem) })).find((r) => r.id === "transport/mtls");
    expect(permissive?.outcome).toBe("passed");
    expect(permissive?.reason).toMatch(/^mTLS is Permissive: a client without a certificate is taken/);
    const disabled = (await transportChecks({ plan: plan(lax.url, "TLSv1.2"), client: client(lax.url, pki.caPem) })).find((r) => r.id === "transport/mtls");
    expect(disabled?.reason).toBe("not applicable: the policy does not ask for mTLS (spec.tls.mtls)");
  });

  it("cannot run against a plain-HTTP target, and says so", async () => {
    const target = new URL("http://127.0.0.1:1/");
    const results = await transportChecks({ plan: plan(target, "TLSv1.3"), client: client(target) });
    expect(results.map((r) => r.outcome)).toEqual(["skipped", "skipped", "skipped"]);
    expect(results[0]?.reason).toContain("plain HTTP");
  });
});
