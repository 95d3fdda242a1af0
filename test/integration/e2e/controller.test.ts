/**
 * The controller end to end: the real API server, `bulwark controller` as a separate process,
 * real Envoy sidecars (Bulwark's bootstrap, SotW and delta ADS) in front of a tiny app, and
 * policies written with kubectl. What users see — HTTP answers and `kubectl get asp` status —
 * is what is asserted.
 */
import { readFile } from "node:fs/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../support/crds.js";
import {
  conditionOf,
  createIssuer,
  createNamespace,
  createSecret,
  createService,
  deleteNamespace,
  e2eEnvironment,
  getPolicy,
  kubeConfig,
  kubectl,
  leaseHolder,
  policyEvents,
  policyManifest,
  startController,
  startSidecarPod,
  trafficLoop,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type HttpAnswer,
  type PolicyObject,
  type SidecarPod,
  type TokenIssuer,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { errorMessage } from "../../../common/errors.js";
import { compareStrings } from "../../../common/order.js";

/**
 * The API server refuses what Envoy would (the schema follows Envoy's limits), so the rejection
 * comes from the sidecar's side: its runtime caps RE2 programs far below Envoy's default. A GET
 * rule is matched with `^(GET|HEAD)$` (HEAD goes under GET's rule; RE2 program size 11), which
 * fits the cap; a rule with GET and POST needs a larger program, which exceeds it.
 */
const SIDECAR_RUNTIME = { "re2.max_program_size.error_level": 12 };
const METHODS_ENVOY_REJECTS = ["GET", "POST"];
const RATE_LIMIT = 3;

let env: E2eEnvironment;
let kc: KubeConfig;
let idp: TokenIssuer;
let leaseNamespace: string;
let controller: ControllerProcess;
const namespaces: string[] = [];
const sidecars: SidecarPod[] = [];
const controllers: ControllerProcess[] = [];

interface SpecOptions {
  service: string;
  scope: string;
  defaultAction: "Deny" | "Allow";
  /** Adds a public rule matching this path template. */
  template?: string;
  /** The methods of that rule (GET when absent). */
  methods?: string[];
}

function shopSpec(o: SpecOptions): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [
    { name: "orders", match: { methods: ["GET"], pathPrefix: "/v1/orders/" }, require: { scopes: [o.scope] } },
    {
      name: "images",
      match: { methods: ["GET"], pathPrefix: "/v1/images/" },
      authentication: "None",
      rateLimits: [{ name: "shield", scope: "Local", limit: { requests: RATE_LIMIT, per: "60s" } }],
    },
  ];
  if (o.template) rules.push({ name: "catalog", match: { methods: o.methods ?? ["GET"], pathTemplate: o.template }, authentication: "None" });
  return {
    targetRefs: [{ kind: "Service", name: o.service }],
    authentication: {
      jwt: {
        providers: [
          { name: "idp", issuer: idp.issuer, audiences: [idp.audience], jwks: { secretRef: { name: "idp-jwks" } }, claimsToHeaders: [{ claim: "sub", header: "x-user-id" }] },
        ],
      },
    },
    rules,
    defaultAction: o.defaultAction,
  };
}

async function apply(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, name, spec));
}

/** Waits until the policy's status is about `generation` and `ready` holds; returns the policy. */
async function statusFor(namespace: string, name: string, generation: number, ready: (p: PolicyObject) => boolean, what: string, timeoutMs = 20_000): Promise<PolicyObject> {
  let last: PolicyObject | undefined;
  try {
    return await waitFor(
      `${namespace}/${name} ${what} for generation ${generation}`,
      async () => {
        last = await getPolicy(kc, namespace, name);
        return last.metadata.generation === generation && last.status?.observedGeneration === generation && ready(last) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${errorMessage(error)}; last status: ${JSON.stringify(last?.status)}`);
  }
}

function programmed(p: PolicyObject): boolean {
  return conditionOf(p, "Programmed")?.status === "True" && conditionOf(p, "Ready")?.status === "True";
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** A namespace with the IdP's JWKS Secret and a Service selecting app=<service>. */
async function workloadNamespace(prefix: string, service: string): Promise<string> {
  const namespace = uniqueName(prefix);
  await createNamespace(kc, namespace);
  namespaces.push(namespace);
  await createSecret(kc, namespace, "idp-jwks", { "jwks.json": idp.jwks });
  await createService(kc, namespace, service, { app: service });
  return namespace;
}

async function sidecar(namespace: string, pod: string, service: string, xdsPort: number, delta: boolean, runtime?: Record<string, unknown>): Promise<SidecarPod> {
  const s = await startSidecarPod(env, kc, { namespace, pod, labels: { app: service }, xdsPort, delta, ...(runtime ? { runtime } : {}) });
  sidecars.push(s);
  return s;
}

/** What the app answered (the request passed the sidecar). */
function fromApp(answer: HttpAnswer, pod: string): boolean {
  return answer.status === 200 && (JSON.parse(answer.body) as { app?: string }).app === pod;
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  idp = await createIssuer("https://idp.e2e.bulwark.test/", "shop-api");
  // `kubectl wait` can fail on a CRD the API server has only just stored; installCrds() may be called again after a failure.
  await waitFor("the CRDs to be installed", () => installCrds().then(() => true), 90_000, 500);
  leaseNamespace = uniqueName("bulwark-system");
  await createNamespace(kc, leaseNamespace);
  namespaces.push(leaseNamespace);
  controller = await startController(env, { leaseNamespace, identity: "replica-a" });
  controllers.push(controller);
});

afterAll(async () => {
  for (const s of sidecars) await s.stop();
  for (const c of controllers) await c.stop();
  for (const namespace of namespaces) await deleteNamespace(kc, namespace);
});

describe.each([
  { mode: "sotw", delta: false },
  { mode: "delta", delta: true },
])("a policy's life with a $mode sidecar", ({ mode, delta }) => {
  const service = "shop-api";
  let namespace: string;
  let shop: SidecarPod;
  let read: string;
  let write: string;

  beforeAll(async () => {
    namespace = await workloadNamespace(`e2e-${mode}`, service);
    shop = await sidecar(namespace, "shop-1", service, controller.xdsPort, delta, SIDECAR_RUNTIME);
    read = await idp.mint({ sub: "alice", scope: "orders:read profile" });
    write = await idp.mint({ sub: "alice", scope: "orders:write" });
  });

  it("passes traffic through before any policy exists", async () => {
    expect(fromApp(await shop.request("/v1/orders/1"), "shop-1")).toBe(true);
  });

  it("apply → enforced, with Accepted, ResolvedRefs, Programmed and Ready True and n/n sidecars", async () => {
    await apply(namespace, "shop", shopSpec({ service, scope: "orders:read", defaultAction: "Deny" }));
    const policy = await statusFor(namespace, "shop", 1, programmed, "Programmed");
    // Programmed means every sidecar ACKed this generation: enforcement must hold right now.
    const noToken = await shop.request("/v1/orders/1");
    expect(noToken.status).toBe(401);
    const ok = await shop.request("/v1/orders/1", bearer(read));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ app: "shop-1", path: "/v1/orders/1", user: "alice" });
    expect((await shop.request("/v1/orders/1", bearer(write))).status).toBe(403);
    const forged = await (await createIssuer(idp.issuer, idp.audience)).mint({ sub: "mallory", scope: "orders:read" });
    expect((await shop.request("/v1/orders/1", bearer(forged))).status).toBe(401);
    expect((await shop.request("/v1/unlisted")).status).toBe(404);
    const images: number[] = [];
    for (let i = 0; i < RATE_LIMIT + 2; i++) images.push((await shop.request("/v1/images/logo.png")).status);
    expect(images).toEqual([...Array<number>(RATE_LIMIT).fill(200), 429, 429]);

    for (const type of ["Accepted", "ResolvedRefs", "Programmed", "Ready"]) {
      expect(conditionOf(policy, type), type).toMatchObject({ status: "True", observedGeneration: 1 });
    }
    expect(conditionOf(policy, "Programmed")?.message).toBe("1/1 sidecars run generation 1.");
    expect(policy.status).toMatchObject({ observedGeneration: 1, sidecars: "1/1", targets: [{ kind: "Service", name: service, sidecars: 1, programmed: 1 }] });
    const table = (await kubectl(env, ["get", "asp", "shop", "--namespace", namespace, "--no-headers"])).stdout.trim().split(/\s+/);
    expect(table.slice(0, 5)).toEqual(["shop", service, "True", "1/1", "True"]);
    // Status is written under the controller's own field manager, not its HTTP library's.
    const managed = (policy.metadata as { managedFields?: { manager: string; subresource?: string }[] }).managedFields ?? [];
    expect(managed.filter((f) => f.subresource === "status").map((f) => f.manager)).toEqual(["bulwark-controller"]);
    // Day-2 signals: /livez, and log lines with the level as a word and an ISO 8601 UTC time.
    expect((await controller.get("/livez")).status).toBe(200);
    const lines = (await readFile(controller.logFile, "utf8")).split("\n").filter((l) => l.startsWith("{"));
    expect(lines.length).toBeGreaterThan(0);
    expect(
      lines.some((l) => l.includes('"msg":"sidecar connected"')),
      "an info line for the sidecar's connection",
    ).toBe(true);
    for (const line of lines.slice(0, 20)) {
      const entry = JSON.parse(line) as { level?: unknown; time?: unknown; component?: unknown };
      expect(String(entry.level), line).toMatch(/^(trace|debug|info|warn|error|fatal)$/);
      expect(String(entry.time), line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(entry.component).toBe("controller");
    }
  });

  it("edit → the new behaviour, Programmed for the new generation", async () => {
    await apply(namespace, "shop", shopSpec({ service, scope: "orders:write", defaultAction: "Allow" }));
    const policy = await statusFor(namespace, "shop", 2, programmed, "Programmed");
    expect(conditionOf(policy, "Programmed")).toMatchObject({ status: "True", observedGeneration: 2, message: "1/1 sidecars run generation 2." });
    expect((await shop.request("/v1/orders/1", bearer(write))).status).toBe(200);
    expect((await shop.request("/v1/orders/1", bearer(read))).status).toBe(403);
    expect((await shop.request("/v1/orders/1")).status).toBe(401);
    expect(fromApp(await shop.request("/v1/unlisted"), "shop-1")).toBe(true);
  });

  it("a configuration Envoy rejects → Programmed False (Rejected) with Envoy's error and a Warning Event; traffic keeps the last good config", async () => {
    const started = new Date(Date.now() - 1000);
    await apply(namespace, "shop", shopSpec({ service, scope: "orders:write", defaultAction: "Allow", template: "/v1/catalog/{item}", methods: METHODS_ENVOY_REJECTS }));
    const policy = await statusFor(namespace, "shop", 3, (p) => conditionOf(p, "Programmed")?.reason === "Rejected", "Programmed=False Rejected");
    const condition = conditionOf(policy, "Programmed");
    expect(condition?.status).toBe("False");
    expect(condition?.message).toContain(shop.nodeId);
    expect(condition?.message).toContain("RE2 program size");
    expect(conditionOf(policy, "Ready")).toMatchObject({ status: "False", reason: "Rejected" });
    expect(conditionOf(policy, "Accepted")?.status).toBe("True");
    expect(policy.status?.sidecars).toBe("0/1");
    const warning = await waitFor("a Warning Event for the rejection", async () =>
      (await policyEvents(kc, namespace, "shop")).find((e) => e.type === "Warning" && e.reason === "Rejected" && new Date(e.lastTimestamp ?? 0) >= started),
    );
    expect(warning.message).toContain("RE2 program size");
    // Generation 2 still answers: its scope, its default action.
    expect((await shop.request("/v1/orders/1", bearer(write))).status).toBe(200);
    expect((await shop.request("/v1/orders/1", bearer(read))).status).toBe(403);
    expect((await shop.request("/v1/orders/1")).status).toBe(401);
    expect(fromApp(await shop.request("/v1/unlisted"), "shop-1")).toBe(true);

    // A fixed policy is programmed again.
    await apply(namespace, "shop", shopSpec({ service, scope: "orders:write", defaultAction: "Allow", template: "/v1/catalog/{item}" }));
    await statusFor(namespace, "shop", 4, programmed, "Programmed after the fix");
    expect(fromApp(await shop.request("/v1/catalog/42"), "shop-1")).toBe(true);
  });

  it("two policies claiming one target → the younger is Conflicted and names the winner, which stays enforced", async () => {
    await apply(namespace, "shop-rival", { targetRefs: [{ kind: "Service", name: service }], defaultAction: "Allow" });
    const rival = await statusFor(namespace, "shop-rival", 1, (p) => conditionOf(p, "Accepted")?.reason === "Conflicted", "Accepted=False Conflicted");
    expect(conditionOf(rival, "Accepted")?.status).toBe("False");
    expect(conditionOf(rival, "Accepted")?.message).toContain(`older policy ${namespace}/shop`);
    expect(conditionOf(rival, "Ready")?.status).toBe("False");
    const winner = await getPolicy(kc, namespace, "shop");
    expect(conditionOf(winner, "Accepted")?.status).toBe("True");
    expect(conditionOf(winner, "Programmed")?.status).toBe("True");
    expect((await shop.request("/v1/orders/1")).status).toBe(401);
    await kubectl(env, ["delete", "asp", "shop-rival", "--namespace", namespace]);
  });

  it("delete → back to the default: the sidecar passes traffic through", async () => {
    await kubectl(env, ["delete", "asp", "shop", "--namespace", namespace]);
    const answer = await waitFor("pass-through", async () => {
      const a = await shop.request("/v1/orders/1");
      return a.status === 200 ? a : undefined;
    });
    expect(fromApp(answer, "shop-1")).toBe(true);
    const statuses: number[] = [];
    for (let i = 0; i < RATE_LIMIT + 2; i++) statuses.push((await shop.request("/v1/images/logo.png")).status);
    expect(statuses).toEqual(Array<number>(RATE_LIMIT + 2).fill(200));
  });
});

/** Counters that move only when Envoy accepts or rejects configuration from the control plane. */
async function configCounters(s: SidecarPod): Promise<Record<string, number>> {
  const stats = await s.stats("(update_success|update_rejected)$");
  const counters = Object.fromEntries([...stats].filter(([name]) => !name.startsWith("cluster.bulwark-xds.")).sort(([a], [b]) => compareStrings(a, b)));
  expect(
    Object.keys(counters).some((name) => name.includes(".rds.")),
    "an RDS counter",
  ).toBe(true);
  return counters;
}

/** The versions Envoy runs, per resource, from its config dump. */
async function runningVersions(s: SidecarPod): Promise<string[]> {
  const dump = await s.admin("/config_dump?resource=dynamic_active_clusters");
  const listeners = await s.admin("/config_dump?resource=dynamic_listeners");
  const routes = await s.admin("/config_dump?resource=dynamic_route_configs");
  const versions: string[] = [];
  for (const answer of [dump, listeners, routes]) {
    const configs =
      (JSON.parse(answer.body) as { configs?: { version_info?: string; active_state?: { version_info?: string }; cluster?: { name?: string }; name?: string }[] }).configs ?? [];
    for (const c of configs) versions.push(`${c.cluster?.name ?? c.name ?? "route"}@${c.version_info ?? c.active_state?.version_info ?? "?"}`);
  }
  expect(versions.length).toBeGreaterThanOrEqual(3);
  return versions.sort();
}

async function connected(s: SidecarPod): Promise<boolean> {
  return (await s.stats("^control_plane\\.connected_state$")).get("control_plane.connected_state") === 1;
}

describe("kill -9 of the controller during traffic", () => {
  const service = "orders-api";
  let namespace: string;
  let pods: SidecarPod[];

  beforeAll(async () => {
    namespace = await workloadNamespace("e2e-kill", service);
    pods = [await sidecar(namespace, "orders-sotw", service, controller.xdsPort, false), await sidecar(namespace, "orders-delta", service, controller.xdsPort, true)];
    await apply(namespace, "orders", shopSpec({ service, scope: "orders:read", defaultAction: "Deny" }));
    await statusFor(namespace, "orders", 1, (p) => programmed(p) && p.status?.sidecars === "2/2", "Programmed 2/2");
  });

  it("fails no request, and the restarted controller serves the same versions (no churn)", async () => {
    const token = await idp.mint({ sub: "bob", scope: "orders:read" });
    const before = await Promise.all(pods.map(async (s) => ({ counters: await configCounters(s), versions: await runningVersions(s) })));
    const policyBefore = await getPolicy(kc, namespace, "orders");
    // The Event follows the status write.
    const eventsBefore = await waitFor("the Programmed Event", async () => {
      const events = (await policyEvents(kc, namespace, "orders")).map((e) => `${e.reason ?? ""}: ${e.message ?? ""}`);
      return events.includes("Programmed: 2/2 sidecars run generation 1.") ? events : undefined;
    });
    const loops = pods.flatMap((s) => [
      trafficLoop(
        () => s.request("/v1/orders/7", bearer(token)),
        (a) => fromApp(a, s.pod),
      ),
      trafficLoop(
        () => s.request("/v1/orders/7"),
        (a) => a.status === 401,
      ),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await controller.kill();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const restarted = await startController(env, { leaseNamespace, identity: controller.identity, xdsPort: controller.xdsPort });
    controllers.push(restarted);
    controller = restarted;
    // Sidecars retry ADS over TLS with Envoy's default backoff (up to 30 s) while no replica answers.
    await waitFor(
      "both sidecars reconnected",
      async () => ((await Promise.all(pods.map(connected))).every(Boolean) && ((await restarted.metric("bulwark_xds_connected_sidecars")) ?? 0) >= pods.length ? true : undefined),
      45_000,
    );
    // Give a late push time to land before comparing.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const reports = await Promise.all(loops.map((l) => l.stop()));
    for (const report of reports) {
      expect(report.failures).toEqual([]);
      expect(report.ok).toBeGreaterThan(10);
    }
    const after = await Promise.all(pods.map(async (s) => ({ counters: await configCounters(s), versions: await runningVersions(s) })));
    expect(after).toEqual(before);
    // The restarted leader found the status it would write already there: no write, no flapping.
    const policyAfter = await getPolicy(kc, namespace, "orders");
    expect(policyAfter.status).toEqual(policyBefore.status);
    expect(policyAfter.metadata.resourceVersion).toBe(policyBefore.metadata.resourceVersion);
    expect((await policyEvents(kc, namespace, "orders")).map((e) => `${e.reason ?? ""}: ${e.message ?? ""}`)).toEqual(eventsBefore);
    expect(await restarted.metric("bulwark_xds_acks_total")).toBeGreaterThan(0);
  });
});

describe("two controller replicas", () => {
  const service = "cart-api";
  let namespace: string;
  let replicaB: ControllerProcess;
  let onA: SidecarPod;
  let onB: SidecarPod;
  let token: string;

  beforeAll(async () => {
    namespace = await workloadNamespace("e2e-replicas", service);
    replicaB = await startController(env, { leaseNamespace, identity: "replica-b" });
    controllers.push(replicaB);
    onA = await sidecar(namespace, "cart-a", service, controller.xdsPort, false);
    onB = await sidecar(namespace, "cart-b", service, replicaB.xdsPort, true);
    token = await idp.mint({ sub: "carol", scope: "orders:read" });
  });

  it("both serve xDS; only the Lease holder writes status, and it counts the sidecars of both", async () => {
    await apply(namespace, "cart", shopSpec({ service, scope: "orders:read", defaultAction: "Deny" }));
    const policy = await statusFor(namespace, "cart", 1, (p) => programmed(p) && p.status?.sidecars === "2/2", "Programmed 2/2");
    expect(conditionOf(policy, "Programmed")?.message).toBe("2/2 sidecars run generation 1.");
    for (const s of [onA, onB]) {
      expect((await s.request("/v1/orders/1")).status).toBe(401);
      expect(fromApp(await s.request("/v1/orders/1", bearer(token)), s.pod)).toBe(true);
      expect((await s.request("/v1/unlisted")).status).toBe(404);
    }
    expect(await leaseHolder(kc, leaseNamespace)).toBe(controller.identity);
    expect(await controller.metric("bulwark_leader")).toBe(1);
    expect(await replicaB.metric("bulwark_leader")).toBe(0);
    expect(await controller.metric("bulwark_status_writes_total", { result: "written" })).toBeGreaterThan(0);
    expect((await replicaB.metric("bulwark_status_writes_total", { result: "written" })) ?? 0).toBe(0);
    expect(await replicaB.metric("bulwark_xds_connected_sidecars")).toBe(1);
  });

  it("killing the leader hands over: the other replica takes the Lease and writes status, truthfully", async () => {
    const identityA = controller.identity;
    await controller.kill();
    await waitFor("replica-b to hold the Lease", async () => ((await leaseHolder(kc, leaseNamespace)) === replicaB.identity ? true : undefined), 30_000, 200);
    await waitFor("replica-b to lead", async () => ((await replicaB.metric("bulwark_leader")) === 1 ? true : undefined));

    // Generation 2 reaches only the sidecar whose replica lives; the other still runs generation 1.
    await apply(namespace, "cart", shopSpec({ service, scope: "orders:write", defaultAction: "Deny" }));
    const pending = await statusFor(namespace, "cart", 2, (p) => conditionOf(p, "Programmed")?.reason === "Pending" && p.status?.sidecars === "1/2", "Programmed Pending 1/2");
    expect(conditionOf(pending, "Programmed")?.message).toBe("1/2 sidecars run generation 2; waiting for the others to acknowledge.");
    expect(await replicaB.metric("bulwark_status_writes_total", { result: "written" })).toBeGreaterThan(0);
    expect((await onB.request("/v1/orders/1", bearer(token))).status).toBe(403);
    expect(fromApp(await onA.request("/v1/orders/1", bearer(token)), onA.pod)).toBe(true);

    // Replica A comes back (same identity, same address): its sidecar catches up, replica B stays the leader.
    controller = await startController(env, { leaseNamespace, identity: identityA, xdsPort: controller.xdsPort });
    controllers.push(controller);
    // Envoy's default ADS retry backs off up to 30 s after a long outage (the bootstrap sets no retry policy).
    await waitFor("cart-a to reconnect to replica A", async () => ((await connected(onA)) ? true : undefined), 45_000, 100);
    const done = await statusFor(namespace, "cart", 2, (p) => programmed(p) && p.status?.sidecars === "2/2", "Programmed 2/2");
    expect(conditionOf(done, "Programmed")?.message).toBe("2/2 sidecars run generation 2.");
    expect((await onA.request("/v1/orders/1", bearer(token))).status).toBe(403);
    expect(await leaseHolder(kc, leaseNamespace)).toBe(replicaB.identity);
    expect(await controller.metric("bulwark_leader")).toBe(0);
  });
});
