import { createServer, type Server } from "node:http";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REASON_HEADER } from "../../../contract/wire.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { render } from "../../../operator/translate/render.js";
import { buildRouteTable, RouteTableHolder } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { MemoryReplayStore } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { httpRequest } from "../../support/http.js";
import { TEST_ISSUER, TEST_JWKS_SECRET, testIssuer, type TestIssuer } from "../../support/policy-sidecar.js";

const ACME_KEY = "acme-live-7c1e4b2a9f30d8e6";

/**
 * API keys for a partner's server through a real Envoy and a real bulwark authz: the partner
 * route takes a key of the Secret and nothing else, the backend learns the client's name and
 * never sees the key; the app's routes keep their tokens, and a key opens none of them.
 */
describe("API keys of server-to-server partners, checked by bulwark authz behind a real Envoy", () => {
  let app: Server;
  let seen: Record<string, string | string[] | undefined>[] = [];
  let issuer: TestIssuer;
  let authz: AuthzServer;
  let envoy: EnvoyProcess;
  let port: number;

  beforeAll(async () => {
    issuer = await testIssuer();
    app = createServer((req, res) => {
      seen.push(req.headers);
      res.end("ok");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    port = await freePort();
    const input: TranslationInput = {
      policies: [
        policy({
          namespace: "shop",
          name: "shop-api",
          created: "2026-01-01T00:00:00Z",
          spec: {
            targetRefs: [{ kind: "Service", name: "shop-api" }],
            authentication: {
              jwt: { providers: [{ name: "idp", issuer: TEST_ISSUER, audiences: ["shop"], jwks: { secretRef: { name: TEST_JWKS_SECRET } } }] },
              apiKeys: { secretRef: { name: "partner-keys" } },
            },
            rules: [
              { name: "partner-stock", match: { pathPrefix: "/partner/" }, authentication: "APIKey" },
              { name: "orders", match: { pathPrefix: "/v1/" } },
            ],
          },
        }),
      ],
      services: [service("shop", "shop-api", { app: "shop" })],
      pods: [sidecarPod("shop", "shop-0", { app: "shop" }, { sidecar: port, app: address.port })],
      secrets: [
        jwksSecret("shop", TEST_JWKS_SECRET, issuer.jwks),
        {
          metadata: { name: "partner-keys", namespace: "shop" },
          data: { "acme-logistics": Buffer.from(ACME_KEY).toString("base64"), globex: Buffer.from("globex-live-0e5d1c9b8a7f6e54").toString("base64") },
        },
      ],
      now: new Date().toISOString(),
    };
    const tables = new RouteTableHolder();
    tables.swap(buildRouteTable(render(input).ir));
    authz = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: { now: Date.now, replay: new MemoryReplayStore(), nonces: new DpopNonces({ secret: "a-test-secret-of-32-characters!!" }), keys: new KeySets().keys },
      log: pino({ level: "silent" }),
    });
    const authzPort = await authz.start();
    const settings: TranslationSettings = {
      authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 },
      ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
      rateLimitDomain: "bulwark",
    };
    const rendered = render(input, settings);
    expect(rendered.resolution.policies[0]?.resolvedRefs.status).toBe("True");
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("no workload rendered");
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-api-keys");
  });

  afterAll(async () => {
    await envoy?.stop();
    await authz?.stop(100);
    await new Promise((resolve) => app?.close(resolve));
  });

  const get = (path: string, headers: Record<string, string> = {}): ReturnType<typeof httpRequest> => httpRequest(port, path, { headers });

  it("lets a partner's key through, names the client to the backend (replacing a forged name) and removes the key", async () => {
    seen = [];
    const answer = await get("/partner/stock", { "x-api-key": ACME_KEY, "x-api-client": "globex" });
    expect(answer.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.["x-api-client"]).toBe("acme-logistics");
    expect(seen[0]?.["x-api-key"]).toBeUndefined();
  });

  it("refuses a missing or unknown key, and a token instead of a key, with 401 and a reason, before the backend", async () => {
    seen = [];
    const token = await issuer.sign({ sub: "alice" }, "shop");
    const cases: [Record<string, string>, string][] = [
      [{}, "api_key_missing"],
      [{ "x-api-key": `${ACME_KEY}x` }, "api_key_invalid"],
      [{ "x-api-key": ACME_KEY.toUpperCase() }, "api_key_invalid"],
      [{ authorization: `Bearer ${token}` }, "api_key_missing"],
    ];
    for (const [headers, reason] of cases) {
      const answer = await get("/partner/stock", headers);
      expect(answer.status, reason).toBe(401);
      expect(answer.headers[REASON_HEADER]).toBe(reason);
    }
    expect(seen).toHaveLength(0);
  });

  it("keeps the app's routes on tokens: a key opens none of them, and a client name the caller writes is dropped", async () => {
    seen = [];
    expect((await get("/v1/orders", { "x-api-key": ACME_KEY })).status).toBe(401);
    expect(seen).toHaveLength(0);
    const token = await issuer.sign({ sub: "alice" }, "shop");
    const answer = await get("/v1/orders", { authorization: `Bearer ${token}`, "x-api-client": "acme-logistics" });
    expect(answer.status).toBe(200);
    expect(seen[0]?.["x-api-client"]).toBeUndefined();
  });
});
