/**
 * The adversarial corpus (test/support/authz-corpus.ts) through real Envoy sidecars rendered by
 * the real translation, with bulwark authz behind ext_authz and the real Redis for DPoP replay:
 * every refusal comes with its status and machine-readable reason (x-bulwark-reason, or
 * jwt_authn's message), and the app never sees a refused request; the valid cases reach it.
 */
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { certificateThumbprint } from "../../../services/authz/certificate-binding.js";
import { RouteTableHolder, buildRouteTable } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { markerValue, RedisReplayStore, replayStoreMarkerKey } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import { WorkloadCa } from "../../../operator/identity/ca.js";
import { DEFAULT_ROTATION } from "../../../operator/identity/rotation.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { DpopKey, TestIssuer } from "../../support/authz-client.js";
import {
  corpus,
  CORPUS_HOSTS,
  refusalCount,
  type ClientCertificate,
  type CorpusContext,
  type CorpusReply,
  type CorpusRequest,
  type CorpusTarget,
} from "../../support/authz-corpus.js";
import { ATTESTER, AUDIENCE, corpusPolicyInput, CORPUS_NS, ISSUER, RSA_ISSUER } from "../../support/authz-policy.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { testEnvironment } from "../../support/environment.js";
import { REASON_HEADER } from "../../../contract/wire.js";

const CASE_HEADER = "x-corpus-case";
const NONCE_SECRET = "the-corpus-nonce-secret";

describe("adversarial corpus through real Envoy and bulwark authz", () => {
  const log = pino({ level: "silent" });
  /** Values of the case header of every request the app received. */
  const seenByApp = new Set<string>();
  let app: Server;
  let authz: AuthzServer;
  let redis: Redis;
  const envoys: EnvoyProcess[] = [];
  const ports = {} as Record<CorpusTarget, number>;
  let trustBundle: string;
  let ctx: CorpusContext;
  let sequence = 0;

  function send(req: CorpusRequest, caseId = `setup-${(sequence += 1)}`): Promise<CorpusReply> {
    const headers = [["host", CORPUS_HOSTS[req.target]], ...req.headers, [CASE_HEADER, caseId]].flat();
    const certificate = req.tls?.certificate;
    const chosen: ClientCertificate | undefined = certificate === "alice" || certificate === "mallory" ? ctx.certificates[certificate] : undefined;
    return new Promise((resolve, reject) => {
      const options = {
        host: "127.0.0.1",
        port: ports[req.target],
        method: req.method,
        path: req.path,
        headers: headers as unknown as OutgoingHttpHeaders,
        agent: false as const,
        timeout: 5000,
      };
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      };
      const r = req.tls
        ? httpsRequest(
            { ...options, ca: trustBundle, checkServerIdentity: () => undefined, ...(chosen ? { cert: chosen.certificatePem, key: chosen.privateKeyPem } : {}) },
            onResponse,
          )
        : httpRequest(options, onResponse);
      r.on("error", reject);
      r.on("timeout", () => r.destroy(new Error("timed out")));
      r.end();
    });
  }

  beforeAll(async () => {
    app = createServer((req, res) => {
      const id = req.headers[CASE_HEADER];
      if (typeof id === "string") seenByApp.add(id);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");

    const [idp, rsaIdp, forger, attester, attestForger] = await Promise.all([
      TestIssuer.create(ISSUER),
      TestIssuer.create(RSA_ISSUER, "r1", "RS256"),
      TestIssuer.create(ISSUER),
      TestIssuer.create(ATTESTER),
      TestIssuer.create(ATTESTER),
    ]);
    const [phone, thief, edPhone, psPhone, rsPhone] = await Promise.all([
      DpopKey.generate("ES256"),
      DpopKey.generate("ES256"),
      DpopKey.generate("EdDSA"),
      DpopKey.generate("PS256"),
      DpopKey.generate("RS256"),
    ]);

    const ca = await WorkloadCa.generate("corpus.test", new Date());
    trustBundle = ca.trustBundlePem;
    const issue = async (namespace: string, serviceAccount: string): Promise<ClientCertificate> => {
      const issued = await ca.issue({ namespace, serviceAccount }, new Date(), DEFAULT_ROTATION);
      const thumbprint = certificateThumbprint(issued.certificateChainPem);
      if (!thumbprint) throw new Error("no thumbprint");
      return { certificatePem: issued.certificateChainPem, privateKeyPem: issued.privateKeyPem, thumbprint };
    };
    const server = await issue(CORPUS_NS.bank, "default");
    const certificates = { alice: await issue("mobile", "alice"), mallory: await issue("mobile", "mallory") };

    for (const target of ["shop", "wallet", "bank"] as const) ports[target] = await freePort();
    const input = corpusPolicyInput({ idpJwks: idp.jwks, rsaJwks: rsaIdp.jwks, attestJwks: attester.jwks }, { ...ports, app: address.port });
    const tables = new RouteTableHolder();
    tables.swap(buildRouteTable(render(input).ir));
    redis = new Redis(testEnvironment().redisUrl, { maxRetriesPerRequest: 1 });
    const prefix = `bulwark-corpus:${Date.now()}:`;
    // A store in use for an hour: a new one refuses proofs that may predate it (restart-replay.test.ts).
    await redis.set(replayStoreMarkerKey(prefix), markerValue(Date.now() - 3_600_000));
    authz = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: { now: Date.now, replay: new RedisReplayStore(redis, prefix), nonces: new DpopNonces({ secret: NONCE_SECRET }), keys: new KeySets().keys },
      log,
    });
    const authzPort = await authz.start();
    const settings: TranslationSettings = {
      authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 },
      ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
      rateLimitDomain: "bulwark",
    };
    const rendered = render(input, settings);
    const placeholders = { certificateChain: server.certificatePem, privateKey: server.privateKeyPem, trustedCa: ca.trustBundlePem };
    for (const target of ["shop", "wallet", "bank"] as const) {
      const workload = rendered.workloads.find((w) => w.workload.startsWith(`apisecuritypolicy/${CORPUS_NS[target === "wallet" ? "nonce" : target]}/`));
      if (!workload) throw new Error(`no workload rendered for ${target}`);
      envoys.push(await startEnvoy(standaloneBootstrap(workload.resources, { placeholders }), `envoy-corpus-${target}`));
    }

    ctx = {
      idp,
      rsaIdp,
      forger,
      attester,
      attestForger,
      phone,
      thief,
      edPhone,
      psPhone,
      rsPhone,
      certificates,
      staleNonce: new DpopNonces({ secret: NONCE_SECRET, now: () => Date.now() - 300_000 }).current(),
      send: (req) => send(req),
    };
  });

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    await authz?.stop(100);
    redis?.disconnect();
    await new Promise((resolve) => app?.close(resolve));
  });

  it("has at least 80 requests that must be refused, and valid ones", () => {
    expect(refusalCount).toBeGreaterThanOrEqual(80);
    for (const group of ["equivalent", "clients"] as const) expect(corpus.some((c) => c.group === group && c.expect.kind === "pass")).toBe(true);
    expect(corpus.length - refusalCount).toBeGreaterThanOrEqual(15);
    expect(new Set(corpus.map((c) => `${c.group}: ${c.name}`)).size).toBe(corpus.length);
  });

  it.each(corpus.map((c, i) => [`${c.group}: ${c.name}`, i] as const))("%s", async (_name, index) => {
    const c = corpus[index];
    if (!c) throw new Error("no case");
    const id = `case-${index}`;
    const request = await c.build(ctx);
    const reply = await send(request, id);
    // A HEAD answer has no body to read the reason from.
    const body = request.method === "HEAD" ? undefined : reply.body;
    const reason = reply.headers[REASON_HEADER];
    const summary = `${reply.status} ${String(reason)} ${reply.body.slice(0, 200)}`;
    switch (c.expect.kind) {
      case "pass":
        expect(reply.status, summary).toBe(200);
        expect(seenByApp.has(id)).toBe(true);
        return;
      case "authz":
        expect([reply.status, reason], summary).toEqual([c.expect.status, c.expect.reason]);
        if (body !== undefined) expect(JSON.parse(body)).toHaveProperty("error");
        if (c.expect.reason.startsWith("dpop_")) expect(String(reply.headers["www-authenticate"])).toMatch(/^DPoP error="(invalid_dpop_proof|invalid_token|use_dpop_nonce)"/);
        break;
      case "jwt_authn":
        expect([reply.status, reason], summary).toEqual([c.expect.status, undefined]);
        expect(reply.body, summary).toMatch(c.expect.message);
        if (c.expect.status === 401) expect(String(reply.headers["www-authenticate"])).toMatch(/^Bearer realm=/);
        break;
      case "envoy":
        expect([reply.status, reason], summary).toEqual([c.expect.status, undefined]);
        break;
      case "meaning":
        expect([reply.status, reason], summary).toEqual([400, c.expect.reason]);
        expect(JSON.parse(reply.body)).toMatchObject({ error: "bad_request", reason: c.expect.reason });
        break;
    }
    expect(seenByApp.has(id), "the app saw a refused request").toBe(false);
  });

  describe("DPoP server nonces through Envoy", () => {
    async function walletRequest(nonce?: string): Promise<{ headers: [string, string][] }> {
      const token = await ctx.idp.sign({ sub: "alice", cnf: { jkt: ctx.phone.jkt } }, { audience: AUDIENCE });
      const proof = await ctx.phone.proof({ htm: "GET", htu: `http://${CORPUS_HOSTS.wallet}/v1/balance`, accessToken: token, ...(nonce !== undefined ? { nonce } : {}) });
      return {
        headers: [
          ["authorization", `DPoP ${token}`],
          ["dpop", proof],
        ],
      };
    }

    it("answers the first call with 401 use_dpop_nonce and a DPoP-Nonce; the retry with it passes and carries the next nonce", async () => {
      const first = await send({ target: "wallet", method: "GET", path: "/v1/balance", ...(await walletRequest()) }, "nonce-first");
      expect([first.status, first.headers[REASON_HEADER]]).toEqual([401, "dpop_nonce_required"]);
      expect(String(first.headers["www-authenticate"])).toMatch(/^DPoP error="use_dpop_nonce"/);
      const nonce = first.headers["dpop-nonce"];
      expect(typeof nonce).toBe("string");
      expect(seenByApp.has("nonce-first")).toBe(false);

      const retry = await send({ target: "wallet", method: "GET", path: "/v1/balance", ...(await walletRequest(String(nonce))) }, "nonce-retry");
      expect(retry.status, retry.body).toBe(200);
      expect(seenByApp.has("nonce-retry")).toBe(true);
      expect(retry.headers["dpop-nonce"]).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
      expect(retry.headers[REASON_HEADER]).toBeUndefined();
    });

    it("refuses a nonce issued by a replica with another secret", async () => {
      const foreign = new DpopNonces({ secret: "another-secret-of-16+bytes" }).current();
      const reply = await send({ target: "wallet", method: "GET", path: "/v1/balance", ...(await walletRequest(foreign)) }, "nonce-foreign");
      expect([reply.status, reply.headers[REASON_HEADER]]).toEqual([401, "dpop_nonce_required"]);
      expect(reply.headers["dpop-nonce"]).not.toBe(foreign);
      expect(seenByApp.has("nonce-foreign")).toBe(false);
    });
  });
});
