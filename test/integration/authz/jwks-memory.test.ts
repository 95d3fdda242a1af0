/**
 * authz's memory across rotations of a large inline JWKS: the real API server, `bulwark authz` as
 * a process watching it, and a 1 MiB attestation key set in a Secret replaced 40 times. Each
 * rotation swaps authz's route table; the key sets only older tables used must be let go.
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import type { KubeConfig } from "@kubernetes/client-node";
import { CoreV1Api } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAuthzProcess, type AuthzProcess } from "../../support/authz-process.js";
import { installCrds } from "../../support/crds.js";
import {
  createNamespace,
  createService,
  createSidecarPod,
  deleteNamespace,
  e2eEnvironment,
  kubeConfig,
  kubectl,
  policyManifest,
  waitFor,
  type E2eEnvironment,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { TestIssuer } from "../../support/authz-client.js";
import { authorizationService } from "../../../services/authz/authorization-service.js";

type CheckClient = Client & { Check(request: unknown, callback: (error: ServiceError | null, response?: { status?: { message?: string } }) => void): void };

const ROTATIONS = 40;
const MIB = 1024 * 1024;

/** About 1 MiB of RSA public keys (4096-bit random odd moduli: loading a public key does not factor it). */
function largeKeySet(): { keys: Record<string, string>[] } {
  const keys: Record<string, string>[] = [];
  let size = 0;
  for (let i = 0; size < MIB - 2048; i++) {
    const n = randomBytes(512);
    n[0] = (n[0] ?? 0) | 0x80;
    n[511] = (n[511] ?? 0) | 1;
    const key = { kty: "RSA", kid: `k${i}`, alg: "RS256", use: "sig", n: n.toString("base64url"), e: "AQAB" };
    size += JSON.stringify(key).length + 1;
    keys.push(key);
  }
  return { keys };
}

function tableVersion(metrics: string): string | undefined {
  return /^bulwark_authz_route_table_info\{version="([^"]+)"\} 1$/m.exec(metrics)?.[1];
}

let env: E2eEnvironment;
let kc: KubeConfig;
let namespace: string;
let authz: AuthzProcess;
let snapshots: string;

/** authz's live heap: a heap snapshot (a full collection first), once written, then the heap used from its metrics. */
async function liveHeap(): Promise<number> {
  const before = (await readdir(snapshots)).length;
  process.kill(authz.process.pid, "SIGUSR2");
  let last = -1;
  await waitFor(
    "the heap snapshot written",
    async () => {
      const files = await readdir(snapshots);
      if (files.length <= before) return undefined;
      const sizes = await Promise.all(files.map(async (f) => (await stat(join(snapshots, f))).size));
      const total = sizes.reduce((a, b) => a + b, 0);
      const done = total === last && total > 0;
      last = total;
      return done ? true : undefined;
    },
    60_000,
    500,
  );
  // The process answers again once the snapshot is written.
  return waitFor("authz's heap after the snapshot", () => authz.metric("nodejs_heap_size_used_bytes"), 60_000, 500);
}

describe("authz memory across rotations of a 1 MiB inline attestation JWKS (real API server, authz process)", () => {
  beforeAll(async () => {
    env = e2eEnvironment(testEnvironment());
    kc = kubeConfig(env);
    await installCrds();
    namespace = uniqueName("jwks-memory");
    await createNamespace(kc, namespace);
    await createService(kc, namespace, "shop-api", { app: "shop" });
    await createSidecarPod(kc, { namespace, name: "shop-0", labels: { app: "shop" }, sidecarPort: 15006, appPort: 8080 });
    const idp = await TestIssuer.create("https://id.example.com/");
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedSecret({ namespace, body: { metadata: { name: "idp-jwks", namespace }, stringData: { "jwks.json": JSON.stringify(idp.jwks) } } });
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedSecret({ namespace, body: { metadata: { name: "attest-jwks", namespace }, stringData: { "jwks.json": JSON.stringify(largeKeySet()) } } });
    await kubectl(
      env,
      ["apply", "--namespace", namespace],
      policyManifest(namespace, "shop", {
        targetRefs: [{ kind: "Service", name: "shop-api" }],
        authentication: {
          jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop"], jwks: { secretRef: { name: "idp-jwks" } } }] },
          appAttestation: { issuer: "https://attest.example.com/", audiences: ["projects/shop"], appIds: ["com.example.shop"], jwks: { secretRef: { name: "attest-jwks" } } },
        },
        rules: [{ name: "checkout", match: { methods: ["POST"], path: "/v1/checkout" }, requireAppAttestation: true }],
      }),
    );
    snapshots = await mkdtemp(join(tmpdir(), "bulwark-authz-heap-"));
    // A heap snapshot starts with a full garbage collection: the heap measured after one is what is live.
    authz = await startAuthzProcess({ kubeconfig: env.kubeconfig, nodeOptions: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}` });
  });

  afterAll(async () => {
    await authz?.stop();
    if (kc) await deleteNamespace(kc, namespace);
    if (snapshots) await rm(snapshots, { recursive: true, force: true });
  });

  it("holds only the key set in use after 40 rotations, and its heap does not grow with them", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    let version = await waitFor("a route table with the attestation route", async () => tableVersion(await authz.metrics()), 60_000, 200);
    // A check that verifies an attestation is what makes authz load the key set: one per table.
    const Ctor = makeGenericClientConstructor(authorizationService(), "Authorization");
    const client = new Ctor(`127.0.0.1:${authz.grpcPort}`, credentials.createInsecure()) as unknown as CheckClient;
    const touch = (): Promise<string | undefined> =>
      new Promise((resolve, reject) =>
        client.Check(
          {
            attributes: {
              request: { http: { method: "POST", path: "/v1/checkout", host: "shop.test", scheme: "http", headers: { "x-app-attestation": "e30.e30.c2ln" } } },
              context_extensions: { "bulwark.dev/route": `apisecuritypolicy/${namespace}/shop/rule/checkout` },
            },
          },
          (error, response) => (error ? reject(error) : resolve(response?.status?.message)),
        ),
      );
    expect(await touch()).toBe("attestation_invalid");
    const start = await liveHeap();
    const base = largeKeySet();
    for (let i = 0; i < ROTATIONS; i++) {
      base.keys[0] = { ...base.keys[0], kid: `rotation-${i}` };
      await core.replaceNamespacedSecret({
        namespace,
        name: "attest-jwks",
        body: { metadata: { name: "attest-jwks", namespace }, stringData: { "jwks.json": JSON.stringify(base) } },
      });
      const previous = version;
      version = await waitFor(
        `the route table of rotation ${i}`,
        async () => {
          const v = tableVersion(await authz.metrics());
          return v !== undefined && v !== previous ? v : undefined;
        },
        60_000,
        100,
      );
      expect(await touch()).toBe("attestation_invalid");
    }
    client.close();
    const end = await liveHeap();
    const sets = await authz.metric("bulwark_authz_key_sets", { kind: "inline" });
    process.stdout.write(
      `authz live heap: ${(start / MIB).toFixed(1)} MiB → ${(end / MIB).toFixed(1)} MiB after ${ROTATIONS} rotations of a 1 MiB key set; inline key sets held: ${sets}\n`,
    );
    expect(sets).toBe(1);
    // One key set is live at a time (its text and parsed keys, a few MiB): 40 kept would be over 40 MiB.
    expect(end - start).toBeLessThan(10 * MIB);
  }, 600_000);
});
