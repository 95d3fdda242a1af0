import { createServer, type Server } from "node:https";
import type { SecureVersion } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servingPki, type ServingPki } from "../../test/support/pki-webhook.js";
import { ProbeClient } from "../client.js";
import type { ProbePlan } from "../plan.js";
import { transportChecks } from "./transport.js";

async function serve(pki: ServingPki, minVersion: SecureVersion): Promise<{ server: Server; url: URL }> {
  const server = createServer({ cert: pki.certPem, key: pki.keyPem, minVersion }, (_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, url: new URL(`https://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`) };
}

function plan(target: URL, minVersion: "TLSv1.2" | "TLSv1.3"): ProbePlan {
  return { target, workload: { listener: { port: 15006, tls: { minVersion, mtls: "Disabled" } } } } as unknown as ProbePlan;
}

function client(target: URL, caPem?: string): ProbeClient {
  return new ProbeClient({ allowedHosts: [target.host], ratePerSecond: 100, maxRequests: 10, allowUnsafeMethods: false, timeoutMs: 2000, ...(caPem ? { caPem } : {}) });
}

describe("the transport checks against real TLS servers", () => {
  let pki: ServingPki;
  let strict: { server: Server; url: URL };
  let lax: { server: Server; url: URL };
  beforeAll(async () => {
    pki = await servingPki("probe-target");
    strict = await serve(pki, "TLSv1.3");
    lax = await serve(pki, "TLSv1.2");
  });
  afterAll(() => {
    strict.server.close();
    lax.server.close();
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

  it("cannot run against a plain-HTTP target, and says so", async () => {
    const target = new URL("http://127.0.0.1:1/");
    const results = await transportChecks({ plan: plan(target, "TLSv1.3"), client: client(target) });
    expect(results.map((r) => r.outcome)).toEqual(["skipped", "skipped", "skipped"]);
    expect(results[0]?.reason).toContain("plain HTTP");
  });
});
