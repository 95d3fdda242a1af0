/**
 * The controller's incremental translation (translation-runner.ts with resolve-memo.ts, the IR and
 * destination memos, snapshot-runner.ts) against a translation from scratch after every step of
 * random edits: the same resolution (status data), the same IR and, for every sidecar, the same
 * snapshot version (a hash of every encoded resource) — byte-identical Envoy configuration.
 */
import fc from "fast-check";
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SnapshotCache } from "../../envoy/xds/cache.js";
import { realSnapshot, silentLog } from "../../test/support/controller-fakes.js";
import { WorkloadCa } from "../identity/ca.js";
import { WorkloadCertificates } from "../identity/workload-certificates.js";
import { SidecarAnnotation, type PodObject, type SecretObject, type ServiceObject, type TranslationInput } from "../resolve/objects.js";
import { policy } from "../testdata/objects.js";
import { warnTelemetryWithoutReceiver } from "../resolve/telemetry-warning.js";
import { policySpecArbitrary } from "../testdata/random-policies.js";
import { translate, type Translation } from "../translate/translate.js";
import { ControllerMetrics } from "./metrics.js";
import { SnapshotRunner } from "./snapshot-runner.js";
import { TranslationRunner } from "./translation-runner.js";

const mesh = { trustDomain: "cluster.local", clusterDomain: "cluster.local" };
const at = new Date("2026-11-25T12:00:00Z");
const NAMESPACES = ["shop", "pay"];
const APPS = ["a", "b", "c", "d"];
const INSTANTS = ["2026-11-25T12:00:00Z", "2027-03-01T00:00:00Z", "2028-06-01T00:00:00Z", "2031-01-01T00:00:00Z"];
const specs = fc.sample(policySpecArbitrary, { numRuns: 40, seed: 1203 });
const issuers = [...new Set(specs.flatMap((s) => JSON.stringify(s).match(/https:\/\/id[0-9]+\.example\.com\//g) ?? []))];
const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k", alg: "ES256", use: "sig" }] });

/** A small seeded generator: the same seed, the same edits. */
function random(seed: number): { int(n: number): number; pick<T>(list: readonly T[]): T; chance(p: number): boolean } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n) => Math.floor(next() * n), pick: (list) => list[Math.floor(next() * list.length)] as never, chance: (p) => next() < p };
}
type Random = ReturnType<typeof random>;

interface World {
  policies: Map<string, Record<string, unknown>>;
  services: Map<string, ServiceObject>;
  pods: Map<string, PodObject>;
  secrets: Map<string, SecretObject>;
  discovery: Record<string, { jwksUri: string } | { error: string }>;
  now: string;
}

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

function newPolicy(r: Random, namespace: string, name: string, previous: { metadata: { generation: number; uid: string } } | undefined): Record<string, unknown> {
  const generation = (previous?.metadata.generation ?? 0) + 1;
  const spec = r.chance(0.1) ? { rules: "not a list" } : r.pick(specs);
  const target = r.chance(0.15) ? { podSelector: { matchLabels: { app: r.pick(APPS) } } } : { targetRefs: [{ kind: "Service", name: `svc-${r.pick(APPS)}` }] };
  // A policy keeps its creation instant across edits, as the API server keeps it; instants repeat, so ties (broken by name) decide conflicts too.
  const created = `2026-01-0${1 + (Number(name.slice(2)) % 3)}T00:00:00Z`;
  const object = policy({ namespace, name, created, generation, spec: { ...spec, ...target } }) as { metadata: Record<string, unknown> };
  // As from the API server: a uid, and a new generation for every new spec (the memo reads a policy once per generation).
  object.metadata.uid = previous?.metadata.uid ?? `uid-${namespace}-${name}-${r.int(1e9)}`;
  return object;
}

function newService(r: Random, namespace: string, app: string): ServiceObject {
  const targetPort = r.pick<number | string>([15006, 8080, "bulwark-inbound"]);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `svc-${app}`, namespace },
    spec: { selector: { app: r.chance(0.8) ? app : r.pick(APPS) }, ports: [{ port: 80, targetPort }], ...(r.chance(0.2) ? { publishNotReadyAddresses: true } : {}) },
  };
}

function newPod(r: Random, namespace: string, name: string): PodObject {
  const annotations: Record<string, string> = { [SidecarAnnotation.sidecarPort]: r.chance(0.9) ? "15006" : "15007", [SidecarAnnotation.appPort]: "8080" };
  if (r.chance(0.3)) annotations[SidecarAnnotation.egressProxy] = "enabled";
  if (r.chance(0.1)) annotations[SidecarAnnotation.egressServices] = `${r.pick(NAMESPACES)}/svc-${r.pick(APPS)}`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: r.pick(APPS) }, annotations },
    spec: { serviceAccountName: r.pick(["default", "api"]) },
    status: { phase: "Running", ...(r.chance(0.9) ? { podIP: `10.0.0.${r.int(20)}` } : {}), conditions: [{ type: "Ready", status: r.chance(0.8) ? "True" : "False" }] },
  };
}

function newSecret(r: Random, namespace: string, name: string): SecretObject {
  const value = name === "partner-keys" ? { [r.pick(["ios", "android"])]: `key-${r.int(3)}-0123456789abcdef` } : { "jwks.json": r.chance(0.8) ? jwks : "{}" };
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: value };
}

/** One random change, replacing objects (never changing one in place), as the watch cache does. */
function edit(r: Random, world: World): void {
  const namespace = r.pick(NAMESPACES);
  const step = r.int(9);
  if (step <= 1) {
    const name = `p-${r.int(6)}`;
    const previous = world.policies.get(key(namespace, name)) as { metadata: { generation: number; uid: string } } | undefined;
    if (previous && r.chance(0.2)) world.policies.delete(key(namespace, name));
    else world.policies.set(key(namespace, name), newPolicy(r, namespace, name, previous));
  } else if (step === 2) {
    const app = r.pick(APPS);
    if (r.chance(0.2)) world.services.delete(key(namespace, `svc-${app}`));
    else world.services.set(key(namespace, `svc-${app}`), newService(r, namespace, app));
  } else if (step <= 4) {
    const name = `pod-${r.int(8)}`;
    if (r.chance(0.2)) world.pods.delete(key(namespace, name));
    else world.pods.set(key(namespace, name), newPod(r, namespace, name));
  } else if (step === 5) {
    const name = r.pick(["jwks-0", "jwks-1", "partner-keys"]);
    if (r.chance(0.3)) world.secrets.delete(key(namespace, name));
    else world.secrets.set(key(namespace, name), newSecret(r, namespace, name));
  } else if (step === 6) {
    // The same content in a new object: nothing may change.
    const maps = [world.policies, world.services, world.pods, world.secrets] as Map<string, unknown>[];
    const map = r.pick(maps);
    const entries = [...map.entries()];
    if (entries.length > 0) {
      const [k, v] = r.pick(entries);
      map.set(k, structuredClone(v));
    }
  } else if (step === 7 && r.chance(0.5)) {
    // The controller's own status write: a new object, the same generation.
    const entries = [...world.policies.entries()];
    if (entries.length > 0) {
      const [k, v] = r.pick(entries);
      world.policies.set(k, { ...structuredClone(v), status: { observedGeneration: r.int(5) } });
    }
  } else if (step === 7) {
    world.now = r.pick(INSTANTS);
  } else {
    const issuer = r.pick(issuers);
    if (issuer) world.discovery = { ...world.discovery, [issuer]: r.chance(0.7) ? { jwksUri: `${issuer}keys-${r.int(2)}` } : { error: "unreachable" } };
  }
}

function inputOf(world: World): TranslationInput {
  return {
    policies: [...world.policies.values()],
    services: [...world.services.values()],
    pods: [...world.pods.values()],
    secrets: [...world.secrets.values()],
    oidcDiscovery: world.discovery,
    now: world.now,
  };
}

/**
 * The resolution as text, without the status each validated policy carries: a policy is read once
 * per generation (resolve-memo.ts), so its reading keeps the status of the object it was read
 * from; translation never reads a policy's status.
 */
function resolutionText(translation: Translation): string {
  return JSON.stringify({ ...translation.resolution, policies: translation.resolution.policies.map((p) => (p.policy ? { ...p, policy: { ...p.policy, status: undefined } } : p)) });
}

function snapshotRunner(certificates: WorkloadCertificates): { runner: SnapshotRunner; cache: SnapshotCache } {
  const cache = new SnapshotCache();
  return { runner: new SnapshotRunner({ cache, buildSnapshot: realSnapshot, certificates, metrics: new ControllerMetrics(), log: silentLog }), cache };
}

describe("incremental translation", () => {
  it("gives, after every random edit, the resolution, IR and snapshot versions of a translation from scratch", async () => {
    const certificates = new WorkloadCertificates(await WorkloadCa.generate("cluster.local", at), { rotation: { lifetimeMs: 24 * 3600_000, renewAfter: 2 / 3 } });
    let reused = 0;
    let steps = 0;
    for (let seed = 1; seed <= Number(process.env.SEEDS ?? 12); seed++) {
      const r = random(seed);
      const world: World = { policies: new Map(), services: new Map(), pods: new Map(), secrets: new Map(), discovery: {}, now: INSTANTS[0] as string };
      for (let i = 0; i < 12; i++) edit(r, world);
      const translation = new TranslationRunner(mesh);
      const incremental = snapshotRunner(certificates);
      for (let step = 0; step < 25; step++) {
        for (let n = 1 + r.int(3); n > 0; n--) edit(r, world);
        const input = inputOf(world);
        const ours = translation.run(input);
        reused += translation.lastRun.reused;
        const published = await incremental.runner.publish(ours, input.pods, at);

        // From scratch: new objects (no memo knows them), a new snapshot runner and cache.
        // The runner's translation is translate() plus the warnings that need the installation's settings (no telemetry receiver here).
        const translated = translate(structuredClone(input), mesh);
        const fresh = { ...translated, resolution: warnTelemetryWithoutReceiver(translated.resolution, false) };
        const scratch = snapshotRunner(certificates);
        const expected = await scratch.runner.publish(fresh, input.pods, at);

        const where = `seed ${seed}, step ${step}`;
        expect(resolutionText(ours), where).toBe(resolutionText(fresh));
        expect(JSON.stringify(ours.ir), where).toBe(JSON.stringify(fresh.ir));
        expect([...published.wanted].sort(), where).toEqual([...expected.wanted].sort());
        expect([...published.held].sort(), where).toEqual([...expected.held].sort());
        for (const id of expected.wanted) expect(incremental.cache.getSnapshot(id)?.version, `${where}, ${id}`).toBe(scratch.cache.getSnapshot(id)?.version);
        steps += 1;
      }
    }
    expect(steps).toBe(25 * Number(process.env.SEEDS ?? 12));
    // The memo was used, or this test would prove nothing about it.
    expect(reused).toBeGreaterThan(500);
  }, 120_000);

  it("resolves again only the policy an edit touches, and sets only its sidecar's snapshot", async () => {
    const world: World = { policies: new Map(), services: new Map(), pods: new Map(), secrets: new Map(), discovery: {}, now: INSTANTS[0] as string };
    for (let i = 0; i < 50; i++) {
      const app = `app-${i}`;
      world.services.set(key("shop", app), { metadata: { name: app, namespace: "shop" }, spec: { selector: { app }, ports: [{ port: 80, targetPort: 15006 }] } });
      world.pods.set(key("shop", `${app}-0`), {
        metadata: { name: `${app}-0`, namespace: "shop", labels: { app }, annotations: { [SidecarAnnotation.sidecarPort]: "15006", [SidecarAnnotation.appPort]: "8080" } },
        status: { phase: "Running", podIP: "10.0.0.1" },
      });
      world.policies.set(
        key("shop", app),
        policy({ namespace: "shop", name: app, created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: app }], ...(specs[i % specs.length] ?? {}) } }),
      );
    }
    const translation = new TranslationRunner(mesh);
    const built: string[] = [];
    const cache = new SnapshotCache();
    const runner = new SnapshotRunner({
      cache,
      buildSnapshot: (w, m) => {
        built.push(w.name);
        return realSnapshot(w, m);
      },
      metrics: new ControllerMetrics(),
      log: silentLog,
    });
    await runner.publish(translation.run(inputOf(world)), inputOf(world).pods, at);
    expect(translation.lastRun).toEqual({ reused: 0, computed: 50 });
    built.length = 0;
    world.policies.set(
      key("shop", "app-7"),
      policy({ namespace: "shop", name: "app-7", created: "2026-01-01T00:00:00Z", generation: 2, spec: { targetRefs: [{ kind: "Service", name: "app-7" }], ...specs[8] } }),
    );
    const before = cache.getSnapshot("app-7-0.shop")?.version;
    await runner.publish(translation.run(inputOf(world)), inputOf(world).pods, at);
    expect(translation.lastRun).toEqual({ reused: 49, computed: 1 });
    expect(built).toEqual([expect.stringContaining("app-7")]);
    expect(cache.getSnapshot("app-7-0.shop")?.version).not.toBe(before);
  }, 60_000);
});
