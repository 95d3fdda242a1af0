/**
 * The two sample backends `bulwark probe` is proven against, each behind a real Envoy sidecar
 * rendered from its policy by the whole offline pipeline, calling a bulwark authz and a bulwark
 * ratelimit (in this process, on free ports):
 * - a deliberately vulnerable one: a route whose object owner nobody checks, a catch-all rule that
 *   shadows the ownership rule after it, a per-address budget whose address is read from
 *   X-Forwarded-For sent by anyone, a second Service that reaches the app past the sidecar, a
 *   debug endpoint no rule declares, and a policy that says the backend tells paths apart by case
 *   and trailing slash while the app, like many frameworks, does not;
 * - the hardened demo: scripts/demo/policy.yaml in front of the demo's sample backend.
 * The objects are written to a directory, as a user hands them to `bulwark probe -f`.
 */
import { readFile, mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { pino } from "pino";
import { parse, stringify } from "yaml";
import { standaloneBootstrap } from "../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { jwksSecret, policy, sidecarPod } from "../../operator/testdata/objects.js";
import { defaultSettings, render } from "../../operator/translate/render.js";
import { buildRouteTable, RouteTableHolder } from "../../services/authz/config.js";
import { DpopNonces } from "../../services/authz/dpop-nonce.js";
import { KeySets } from "../../services/authz/keys.js";
import { MemoryReplayStore } from "../../services/authz/replay-store.js";
import { AuthzServer } from "../../services/authz/service.js";
import { limitsOf } from "../../services/ratelimit/limit-source.js";
import { MemoryStore } from "../../services/ratelimit/memory-store.js";
import { RateLimitGrpcService } from "../../services/ratelimit/service.js";
import { freePort } from "../env/processes.js";
import { startEnvoy } from "./envoy-process.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface ProbeTarget {
  /** The sidecar's base URL. */
  url: string;
  /** The app's own port (what a Service past the sidecar reaches). */
  appPort: number;
  /** Directory with the policy, its Services, Pod and Secret as YAML files. */
  dir: string;
  /** Access tokens of two users (`sub` user-a and user-b). */
  tokens: [string, string];
  /** The issuer's private JWK (for --issuer-key), as a file in `dir`. */
  issuerKeyFile: string;
  /** The app's OpenAPI document (for --openapi), outside `dir`. */
  openapiFile?: string;
  /** Requests that reached the app, by path. */
  hits: string[];
  stop(): Promise<void>;
}

interface Issuer {
  privateJwk: JWK;
  jwks: { keys: JWK[] };
  sign(sub: string, claims?: Record<string, unknown>): Promise<string>;
}

async function issuer(iss: string, aud: string, kid: string): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256" },
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] },
    sign: (sub, claims = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject(sub)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
    },
  };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the app has no port");
  return { server, port: address.port };
}

/** A replay store in use for an hour: a new one refuses proofs that may predate it (restart-replay.test.ts). */
function replayStoreInUse(): MemoryReplayStore {
  return new MemoryReplayStore(Date.now, { rememberedSince: Date.now() - 3_600_000 });
}

/** The sidecar, authz and ratelimit for `input`'s only workload. */
async function startSidecarStack(input: TranslationInput, name: string): Promise<() => Promise<void>> {
  const log = pino({ level: "silent" });
  const tables = new RouteTableHolder();
  tables.swap(buildRouteTable(render(input).ir));
  const authz = new AuthzServer({
    host: "127.0.0.1",
    port: 0,
    tables,
    deps: { now: Date.now, replay: replayStoreInUse(), nonces: new DpopNonces(), keys: new KeySets().keys },
    log,
  });
  const authzPort = await authz.start();
  const limits = limitsOf(input);
  const store = new MemoryStore();
  const ratelimit = new RateLimitGrpcService({ store, limits: () => limits, domain: defaultSettings.rateLimitDomain, log });
  const ratelimitPort = await ratelimit.start("127.0.0.1", 0);
  const rendered = render(input, {
    ...defaultSettings,
    authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 },
    ratelimit: { host: "127.0.0.1", port: ratelimitPort, timeoutMs: 1000 },
  });
  const policyStatus = rendered.resolution.policies[0]?.accepted;
  const workload = rendered.workloads.find((w) => w.workload.startsWith("apisecuritypolicy/"));
  if (policyStatus?.status !== "True" || !workload) throw new Error(`the policy was not rendered: ${JSON.stringify(policyStatus)}`);
  const envoy = await startEnvoy(standaloneBootstrap(workload.resources), `envoy-probe-${name}`);
  return async () => {
    await envoy.stop();
    await authz.stop(100);
    await ratelimit.stop(100);
    await store.close();
  };
}

/** Writes an OpenAPI 3 document of `paths` (template → methods, and example values of path parameters) next to `dir`. */
async function writeOpenApi(dir: string, paths: Record<string, { methods: string[]; examples?: Record<string, string> }>): Promise<string> {
  const doc = {
    openapi: "3.0.3",
    info: { title: "probe target", version: "1.0.0" },
    paths: Object.fromEntries(
      Object.entries(paths).map(([template, { methods, examples = {} }]) => [
        template,
        {
          parameters: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => ({
            name: m[1],
            in: "path",
            required: true,
            schema: { type: "string" },
            ...(examples[m[1] ?? ""] ? { example: examples[m[1] ?? ""] } : {}),
          })),
          ...Object.fromEntries(methods.map((m) => [m.toLowerCase(), { responses: { "200": { description: "ok" } } }])),
        },
      ]),
    ),
  };
  const file = join(`${dir}-openapi.yaml`);
  await writeFile(file, stringify(doc));
  return file;
}

async function writeObjects(input: TranslationInput, issuerKey: JWK): Promise<{ dir: string; issuerKeyFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-probe-"));
  const objects = [...input.policies, ...input.services, ...input.pods, ...input.secrets];
  await writeFile(join(dir, "objects.yaml"), objects.map((o) => stringify(o)).join("---\n"));
  const keyDir = await mkdtemp(join(tmpdir(), "bulwark-probe-key-"));
  const issuerKeyFile = join(keyDir, "issuer-key.json");
  await writeFile(issuerKeyFile, JSON.stringify(issuerKey));
  return { dir, issuerKeyFile };
}

/** A backend that reads paths as lenient frameworks do: any case, matrix parameters dropped, slashes merged, trailing ones ignored, dot segments resolved. */
function lenientPath(url: string): string {
  const path = (url.split("?")[0] ?? "/").replace(/;[^/]*/g, "").replace(/\/+/g, "/");
  const out: string[] = [];
  for (const segment of path.split("/").slice(1)) {
    if (segment === "..") out.pop();
    else if (segment !== ".") out.push(segment);
  }
  return `/${out.filter((segment) => segment !== "").join("/")}`.toLowerCase();
}

/** The password of the vulnerable app's logins (--login-body). */
export const VULNERABLE_LOGIN_BODY = JSON.stringify({ user: "probe-user-a", password: "right" });

function vulnerableApp(hits: string[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    hits.push(req.url ?? "");
    const path = lenientPath(req.url ?? "/");
    const json = (status: number, body: unknown): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if ((path === "/v1/login" || path === "/v2/login") && req.method === "POST") {
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => (body += c));
      req.on("end", () => (body === VULNERABLE_LOGIN_BODY ? json(200, { session: "s-1" }) : json(401, { error: "wrong password" })));
      return;
    }
    const wallet = /^\/v1\/wallets\/([^/]+)$/.exec(path);
    if (wallet) return json(200, { owner: wallet[1], balance: 7 });
    const user = /^\/v1\/users\/([^/]+)\/(profile|orders)$/.exec(path);
    if (user) return json(200, { user: user[1], [user[2] ?? "x"]: user[2] === "profile" ? { email: `${user[1]}@example.com` } : ["order-1"] });
    if (path === "/v1/account") return json(200, { balance: 42 });
    // Like many frameworks, the app takes the method from an override header.
    const method = String(req.headers["x-http-method-override"] ?? req.headers["x-http-method"] ?? req.method);
    if (path === "/v1/cart/reset") return method === "POST" ? json(200, { reset: true }) : json(405, { error: "method not allowed" });
    if (path === "/v1/search") return json(200, { results: [] });
    if (path === "/internal/debug") return json(200, { heap: "…", env: { DB_PASSWORD: "hunter2" } });
    json(404, { error: "not found" });
  };
}

export async function startVulnerableTarget(): Promise<ProbeTarget> {
  const hits: string[] = [];
  const app = await listen(vulnerableApp(hits));
  const sidecarPort = await freePort();
  const idp = await issuer("https://id.example.com/", "vuln-api", "k1");
  const input: TranslationInput = {
    policies: [
      policy({
        name: "vuln",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "vuln-api" }],
          authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["vuln-api"], jwks: { secretRef: { name: "idp-jwks" } } }] } },
          // Believes X-Forwarded-For from any peer: the per-address budget below is the client's to pick.
          clientAddress: { trustedHops: 1 },
          // Flaw: declares a backend that tells /v1/ACCOUNT and /v1/account/ from /v1/account; this app does not.
          backendMatching: { caseSensitive: true, trailingSlash: "Strict" },
          rules: [
            // Flaw: {userId} names the owner, but no ownership rule checks it.
            { name: "profile", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/profile" } },
            { name: "account", match: { methods: ["GET"], path: "/v1/account" } },
            { name: "cart-reset", match: { methods: ["POST"], path: "/v1/cart/reset" } },
            {
              name: "search",
              match: { methods: ["GET"], path: "/v1/search" },
              authentication: "None",
              rateLimits: [{ name: "per-address", key: ["clientIP"], limit: { requests: 3, per: "1m" } }],
            },
            // A failed-login budget that counts failures only (the probe finds it sound)...
            {
              name: "login",
              match: { methods: ["POST"], path: "/v1/login" },
              authentication: "None",
              rateLimits: [{ name: "failed-logins", key: ["clientIP"], limit: { requests: 3, per: "1m" }, counts: { responseCodes: [401] } }],
            },
            // ...and flaw: one that counts every answer, successful logins too, locking users out.
            {
              name: "login-v2",
              match: { methods: ["POST"], path: "/v2/login" },
              authentication: "None",
              rateLimits: [{ name: "failed-logins-v2", key: ["clientIP"], limit: { requests: 3, per: "1m" }, counts: { responseCodes: [200, 401] } }],
            },
            // Flaw: a catch-all before the ownership rule shadows it.
            { name: "public", match: { pathPrefix: "/" }, authentication: "None" },
            { name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" }, ownership: { pathParam: "userId" } },
          ],
          defaultAction: "Deny",
        },
      }),
    ],
    services: [
      { apiVersion: "v1", kind: "Service", metadata: { name: "vuln-api", namespace: "shop" }, spec: { selector: { app: "vuln" }, ports: [{ port: 80, targetPort: sidecarPort }] } },
      // Flaw: a second Service straight to the app's port.
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "vuln-api-direct", namespace: "shop" },
        spec: { selector: { app: "vuln" }, ports: [{ port: 8080, targetPort: app.port }] },
      },
    ],
    pods: [sidecarPod("shop", "vuln-0", { app: "vuln" }, { sidecar: sidecarPort, app: app.port })],
    secrets: [jwksSecret("shop", "idp-jwks", idp.jwks)],
    now: new Date().toISOString(),
  };
  const stopStack = await startSidecarStack(input, "vulnerable");
  const files = await writeObjects(input, idp.privateJwk);
  // Flaw: the app documents (and serves) a wallet per owner that no rule declares: the catch-all lets anyone read anyone's.
  const openapiFile = await writeOpenApi(files.dir, {
    "/v1/users/{userId}/profile": { methods: ["GET"], examples: { userId: "user-x" } },
    "/v1/users/{userId}/orders": { methods: ["GET"] },
    "/v1/account": { methods: ["GET"] },
    "/v1/cart/reset": { methods: ["POST"] },
    "/v1/search": { methods: ["GET"] },
    "/v1/login": { methods: ["POST"] },
    "/v2/login": { methods: ["POST"] },
    "/v1/wallets/{ownerId}": { methods: ["GET"], examples: { ownerId: "w-1" } },
    "/internal/debug": { methods: ["GET"] },
  });
  return {
    url: `http://127.0.0.1:${sidecarPort}`,
    appPort: app.port,
    ...files,
    openapiFile,
    tokens: [await idp.sign("user-a"), await idp.sign("user-b")],
    hits,
    stop: async () => {
      await stopStack();
      await new Promise((resolve) => app.server.close(resolve));
    },
  };
}

/** The demo's policy (scripts/demo/policy.yaml) in front of the demo's sample backend, which answers every path. */
export async function startHardenedDemoTarget(): Promise<ProbeTarget> {
  const hits: string[] = [];
  const app = await listen((req, res) => {
    hits.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ servedBy: "mobile-shop-a", path: req.url, user: req.headers["x-user-id"] ?? null }));
  });
  const sidecarPort = await freePort();
  const demo = parse(await readFile(join(root, "scripts/demo/policy.yaml"), "utf8")) as Record<string, unknown>;
  const idp = await issuer("https://id.demo.bulwark.dev/", "mobile-shop", "demo-1");
  const namespace = "bulwark-demo";
  const input: TranslationInput = {
    policies: [{ ...demo, metadata: { ...(demo.metadata as object), creationTimestamp: "2026-01-01T00:00:00Z", generation: 1 } }],
    services: [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "mobile-shop", namespace },
        spec: { selector: { app: "mobile-shop" }, ports: [{ port: 80, targetPort: sidecarPort }] },
      },
    ],
    pods: [sidecarPod(namespace, "mobile-shop-a", { app: "mobile-shop" }, { sidecar: sidecarPort, app: app.port })],
    secrets: [jwksSecret(namespace, "demo-idp-jwks", idp.jwks)],
    now: new Date().toISOString(),
  };
  const stopStack = await startSidecarStack(input, "hardened");
  const files = await writeObjects(input, idp.privateJwk);
  const scopes = { scope: "orders:read profile" };
  // The app also documents an admin API and a debug endpoint no rule declares: the default Deny hides them.
  const openapiFile = await writeOpenApi(files.dir, {
    "/v1/catalog/items": { methods: ["GET"] },
    "/v1/orders/{orderId}": { methods: ["GET"], examples: { orderId: "o-1001" } },
    "/v1/images/{name}": { methods: ["GET"], examples: { name: "shoe.png" } },
    "/v0/products": { methods: ["GET"] },
    "/v1/admin/users/{userId}": { methods: ["GET", "DELETE"], examples: { userId: "user-b" } },
    "/internal/debug": { methods: ["GET"] },
  });
  return {
    url: `http://127.0.0.1:${sidecarPort}`,
    appPort: app.port,
    ...files,
    openapiFile,
    tokens: [await idp.sign("user-a", scopes), await idp.sign("user-b", scopes)],
    hits,
    stop: async () => {
      await stopStack();
      await new Promise((resolve) => app.server.close(resolve));
    },
  };
}

/** A user's DPoP key pair: the private JWK (for --dpop-key-*) and its thumbprint (the token's cnf.jkt). */
async function dpopUserKey(): Promise<{ privateJwk: JWK; jkt: string }> {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), alg: "ES256" }, jkt: await calculateJwkThumbprint(await exportJWK(publicKey), "sha256") };
}

/**
 * A wallet API whose tokens are bound to the app's key (DPoP required) with an ownership rule:
 * what a stolen token, a replayed proof and a Bearer downgrade run into. `dpopKeyFiles` are the
 * users' private keys, for --dpop-key-a and --dpop-key-b.
 */
export async function startDpopTarget(): Promise<ProbeTarget & { dpopKeyFiles: [string, string] }> {
  const hits: string[] = [];
  const app = await listen((req, res) => {
    hits.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ path: req.url }));
  });
  const sidecarPort = await freePort();
  const idp = await issuer("https://id.example.com/", "wallet-api", "k1");
  const input: TranslationInput = {
    policies: [
      policy({
        name: "wallet",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "wallet-api" }],
          authentication: {
            jwt: {
              providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["wallet-api"], jwks: { secretRef: { name: "idp-jwks" } } }],
              senderConstraint: { dpop: { required: true, maxProofAge: "60s" } },
            },
          },
          rules: [{ name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" }, ownership: { pathParam: "userId" } }],
          defaultAction: "Deny",
        },
      }),
    ],
    services: [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "wallet-api", namespace: "shop" },
        spec: { selector: { app: "wallet" }, ports: [{ port: 80, targetPort: sidecarPort }] },
      },
    ],
    pods: [sidecarPod("shop", "wallet-0", { app: "wallet" }, { sidecar: sidecarPort, app: app.port })],
    secrets: [jwksSecret("shop", "idp-jwks", idp.jwks)],
    now: new Date().toISOString(),
  };
  const stopStack = await startSidecarStack(input, "dpop");
  const files = await writeObjects(input, idp.privateJwk);
  const keys = [await dpopUserKey(), await dpopUserKey()] as const;
  const dpopKeyFiles: [string, string] = [
    join(files.dir, "..", `${files.dir.split("/").pop() ?? "x"}-dpop-a.json`),
    join(files.dir, "..", `${files.dir.split("/").pop() ?? "x"}-dpop-b.json`),
  ];
  await writeFile(dpopKeyFiles[0], JSON.stringify(keys[0].privateJwk));
  await writeFile(dpopKeyFiles[1], JSON.stringify(keys[1].privateJwk));
  return {
    url: `http://127.0.0.1:${sidecarPort}`,
    appPort: app.port,
    ...files,
    dpopKeyFiles,
    tokens: [await idp.sign("user-a", { cnf: { jkt: keys[0].jkt } }), await idp.sign("user-b", { cnf: { jkt: keys[1].jkt } })],
    hits,
    stop: async () => {
      await stopStack();
      await new Promise((resolve) => app.server.close(resolve));
    },
  };
}
