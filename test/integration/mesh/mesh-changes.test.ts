/**
 * The mesh under endpoint churn and TLS, through the real API server, `bulwark controller` as a
 * process and real Envoy sidecars: one pod's IP changing many times must not re-push unrelated
 * sidecars nor flap any policy's status; a policy with `tls` is programmed without Envoy waiting
 * for a resource the controller never sends.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../support/crds.js";
import {
  conditionOf,
  createNamespace,
  createService,
  deleteNamespace,
  e2eEnvironment,
  getPolicy,
  kubeConfig,
  kubectl,
  policyEvents,
  policyManifest,
  proxyRequest,
  createSidecarPod,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { startMeshController } from "../../support/pki-mesh.js";

const EGRESS = "bulwark.dev/egress-proxy";
const EGRESS_SERVICES = "bulwark.dev/egress-services";
const CHURN = 100;

let env: E2eEnvironment;
let kc: KubeConfig;
let systemNamespace: string;
let shop: string;
let other: string;
let controller: ControllerProcess;
const sidecars: SidecarPod[] = [];

async function applyPolicy(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, name, spec));
}

async function programmedFor(namespace: string, name: string, generation: number): Promise<void> {
  await waitFor(
    `${namespace}/${name} Programmed for generation ${generation}`,
    async () => {
      const p = await getPolicy(kc, namespace, name);
      return p.status?.observedGeneration === generation && conditionOf(p, "Programmed")?.reason === "Programmed" ? true : undefined;
    },
    60_000,
  );
}

async function sum(sidecar: SidecarPod, filter: string): Promise<number> {
  return [...(await sidecar.stats(filter)).values()].reduce((n, v) => n + v, 0);
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  await installCrds();
  systemNamespace = uniqueName("bulwark-churn");
  shop = uniqueName("churn-shop");
  other = uniqueName("churn-other");
  for (const ns of [systemNamespace, shop, other]) await createNamespace(kc, ns);
  controller = await startMeshController(env, { leaseNamespace: systemNamespace, identity: "churn-0", trustDomain: "mesh.test" });
}, 180_000);

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await controller?.stop();
  for (const ns of [shop, other, systemNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe.each([
  { mode: "sotw", delta: false },
  { mode: "delta", delta: true },
])("a policy with tls, $mode sidecar", ({ mode, delta }) => {
  it("is programmed without any initial-fetch timeout in its sidecar, on apply and on listener edits", async () => {
    const name = `tls-${mode}`;
    await createService(kc, shop, name, { app: name });
    const spec = (tls?: Record<string, string>): Record<string, unknown> => ({ targetRefs: [{ kind: "Service", name }], defaultAction: "Allow", ...(tls ? { tls } : {}) });
    await applyPolicy(shop, name, spec());
    const orders = await startSidecarPod(env, kc, { namespace: shop, pod: `${name}-0`, labels: { app: name }, xdsPort: controller.xdsPort, delta });
    sidecars.push(orders);
    await programmedFor(shop, name, 1);
    const edits: Record<string, string>[] = [{ mtls: "Permissive" }, { mtls: "Strict" }, { mtls: "Strict", minVersion: "TLSv1.3" }];
    for (const [i, tls] of edits.entries()) {
      const edited = Date.now();
      await applyPolicy(shop, name, spec(tls));
      await programmedFor(shop, name, i + 2);
      console.log(`tls ${JSON.stringify(tls)} programmed ${Date.now() - edited} ms after the edit`);
      expect(await sum(orders, "init_fetch_timeout$"), JSON.stringify(tls)).toBe(0);
    }
  }, 120_000);
});

describe("one pod's IP changing many times", () => {
  let orders: SidecarPod;
  let caller: SidecarPod;
  let bystander: SidecarPod;
  const core = (): CoreV1Api => kc.makeApiClient(CoreV1Api);
  const patchStatus = async (status: Record<string, unknown>): Promise<void> => {
    await core().patchNamespacedPodStatus({ namespace: shop, name: "orders-churn", body: { status } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  };
  /** The addresses the caller's Envoy has for orders' cluster. */
  const callerEndpoints = async (): Promise<string[]> => {
    const body = (await caller.admin("/clusters")).body;
    return [...body.matchAll(new RegExp(`^outbound/${shop}/orders::([0-9.]+):\\d+::cx_active`, "gm"))].map((m) => m[1] ?? "").sort();
  };
  const policies = (): [string, string][] => [
    [shop, "orders"],
    [shop, "caller"],
    [other, "bystander"],
  ];

  beforeAll(async () => {
    for (const [ns, name] of policies()) {
      await createService(kc, ns, name, { app: name });
      // orders' policy governs orders-0 only: orders-churn (no Envoy runs it) is an endpoint of the Service, not a sidecar the policy waits for.
      await applyPolicy(ns, name, {
        ...(name === "orders" ? { podSelector: { matchLabels: { app: name, role: "main" } } } : { targetRefs: [{ kind: "Service", name }] }),
        defaultAction: "Allow",
      });
    }
    orders = await startSidecarPod(env, kc, { namespace: shop, pod: "orders-0", labels: { app: "orders", role: "main" }, xdsPort: controller.xdsPort, delta: false });
    caller = await startSidecarPod(env, kc, {
      namespace: shop,
      pod: "caller-0",
      labels: { app: "caller" },
      xdsPort: controller.xdsPort,
      delta: false,
      annotations: { [EGRESS]: "enabled" },
    });
    // An unrelated workload in another namespace whose app calls only its own namespace's Services.
    bystander = await startSidecarPod(env, kc, {
      namespace: other,
      pod: "bystander-0",
      labels: { app: "bystander" },
      xdsPort: controller.xdsPort,
      delta: true,
      annotations: { [EGRESS]: "enabled", [EGRESS_SERVICES]: `${other}/*` },
    });
    sidecars.push(orders, caller, bystander);
    for (const [ns, name] of policies()) await programmedFor(ns, name, 1);
    // A second pod of orders (no Envoy runs it: its IP is all that matters here).
    await createSidecarPod(kc, { namespace: shop, name: "orders-churn", labels: { app: "orders" }, sidecarPort: 15006, appPort: 8080 });
    await patchStatus({ podIP: "10.250.0.1", podIPs: [{ ip: "10.250.0.1" }] });
    await waitFor("the caller to have orders-churn as an endpoint", async () => ((await callerEndpoints()).includes("10.250.0.1") ? true : undefined), 30_000);
  }, 180_000);

  it("reaches the caller coalesced, never reaches the unrelated sidecar, and changes no policy's status", async () => {
    const answer = await waitFor(
      "the caller reaching orders through its egress proxy",
      async () => {
        const a = await proxyRequest(caller.outboundPort, `http://orders.${shop}.svc.cluster.local/via-mesh`).catch(() => undefined);
        return a?.status === 200 && a.body.includes("orders-0") ? a : undefined;
      },
      30_000,
    );
    expect(answer.status).toBe(200);
    // The bystander's egress proxy does not even know orders.
    expect((await proxyRequest(bystander.outboundPort, `http://orders.${shop}.svc.cluster.local/`)).status).toBe(404);

    const eventsOf = async (): Promise<number> => (await Promise.all(policies().map(([ns, name]) => policyEvents(kc, ns, name)))).reduce((n, e) => n + e.length, 0);
    const before = {
      snapshots: (await controller.metric("bulwark_snapshot_updates_total")) ?? 0,
      written: (await controller.metric("bulwark_status_writes_total", { result: "written" })) ?? 0,
      events: await eventsOf(),
      bystanderUpdates: await sum(bystander, "update_attempt$"),
      callerEds: await sum(caller, `cluster\\.outbound/${shop}/orders\\.update_attempt$`),
    };
    // Poll every policy's status while the pod's IP changes.
    const notProgrammed: string[] = [];
    let polling = true;
    const poller = (async (): Promise<void> => {
      while (polling) {
        for (const [ns, name] of policies()) {
          const p = await getPolicy(kc, ns, name);
          const programmed = conditionOf(p, "Programmed");
          if (programmed?.reason !== "Programmed") notProgrammed.push(`${name}: ${programmed?.reason ?? "none"} ${programmed?.message ?? ""}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const last = `10.250.1.${CHURN}`;
    for (let i = 1; i <= CHURN; i++) await patchStatus({ podIP: `10.250.1.${i}`, podIPs: [{ ip: `10.250.1.${i}` }] });
    await waitFor("the caller to have the last IP", async () => ((await callerEndpoints()).includes(last) ? true : undefined), 30_000);
    // Let whatever is still queued happen before counting.
    await new Promise((r) => setTimeout(r, 2000));
    polling = false;
    await poller;
    const after = {
      snapshots: (await controller.metric("bulwark_snapshot_updates_total")) ?? 0,
      written: (await controller.metric("bulwark_status_writes_total", { result: "written" })) ?? 0,
      events: await eventsOf(),
      bystanderUpdates: await sum(bystander, "update_attempt$"),
      callerEds: await sum(caller, `cluster\\.outbound/${shop}/orders\\.update_attempt$`),
    };
    const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
    console.log(`${CHURN} IP changes of one pod: ${JSON.stringify(delta)}; status reads not Programmed: ${notProgrammed.length}`);
    expect(await callerEndpoints()).toEqual([last, "127.0.0.1"]);
    // The unrelated sidecar got no update of any type; only the caller's sidecar was pushed, coalesced.
    expect(delta.bystanderUpdates).toBe(0);
    expect(delta.snapshots).toBeLessThanOrEqual(CHURN / 2);
    expect(delta.callerEds).toBeLessThanOrEqual(CHURN / 2);
    // Endpoint changes are no policy change: no status write, no Event, never Pending.
    expect(delta.written).toBe(0);
    expect(delta.events).toBe(0);
    expect(notProgrammed.slice(0, 5)).toEqual([]);
  }, 120_000);

  it("sends only ready endpoints: a pod whose Ready condition is False, or that is terminating, is no endpoint", async () => {
    await patchStatus({ podIP: "10.250.2.1", podIPs: [{ ip: "10.250.2.1" }], conditions: [{ type: "Ready", status: "False" }] });
    await waitFor(
      "the not-ready pod to leave the caller's endpoints",
      async () => (JSON.stringify(await callerEndpoints()) === JSON.stringify(["127.0.0.1"]) ? true : undefined),
      30_000,
    );
    await patchStatus({ conditions: [{ type: "Ready", status: "True" }] });
    await waitFor("the ready pod to come back", async () => ((await callerEndpoints()).includes("10.250.2.1") ? true : undefined), 30_000);
    // Terminating: a finalizer keeps the deleted pod (with its deletionTimestamp) in the API server.
    await core().patchNamespacedPod(
      { namespace: shop, name: "orders-churn", body: { metadata: { finalizers: ["bulwark.dev/test-hold"] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await core().deleteNamespacedPod({ namespace: shop, name: "orders-churn" });
    await waitFor(
      "the terminating pod to leave the caller's endpoints",
      async () => (JSON.stringify(await callerEndpoints()) === JSON.stringify(["127.0.0.1"]) ? true : undefined),
      30_000,
    );
    await core().patchNamespacedPod(
      { namespace: shop, name: "orders-churn", body: { metadata: { finalizers: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }, 120_000);
});

describe("a Service that reaches the app past its sidecar", () => {
  it("is reported on the policy (SidecarBypass condition) and in a Warning Event naming the Service and port; retargeting it clears the condition", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const app = sidecars.find((s) => s.pod === "bystander-0");
    if (!app) throw new Error("no bystander sidecar");
    await core.createNamespacedService({
      namespace: other,
      body: { metadata: { name: "direct", namespace: other }, spec: { selector: { app: "bystander" }, ports: [{ name: "http", port: 8080, targetPort: app.app.port }] } },
    });
    const condition = await waitFor(
      "the SidecarBypass condition",
      async () => {
        const c = conditionOf(await getPolicy(kc, other, "bystander"), "SidecarBypass");
        return c?.status === "True" ? c : undefined;
      },
      30_000,
    );
    expect(condition.reason).toBe("ServicePortBypassesSidecar");
    expect(condition.message).toContain(`Service direct port 8080 targets port ${app.app.port}`);
    // A warning beside Ready, not a failure of it: the policy is enforced on what goes through the sidecar.
    expect(conditionOf(await getPolicy(kc, other, "bystander"), "Ready")?.status).toBe("True");
    const warning = await waitFor("the SidecarBypass Warning Event", async () => (await policyEvents(kc, other, "bystander")).find((e) => e.reason === "SidecarBypass"), 30_000);
    expect(warning.type).toBe("Warning");
    expect(warning.message).toContain("Service direct port 8080");
    await core.patchNamespacedService(
      { namespace: other, name: "direct", body: { spec: { ports: [{ name: "http", port: 8080, targetPort: "bulwark-inbound" }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    await waitFor("the condition to go", async () => (conditionOf(await getPolicy(kc, other, "bystander"), "SidecarBypass") === undefined ? true : undefined), 30_000);
    expect((await policyEvents(kc, other, "bystander")).filter((e) => e.reason === "SidecarBypass")).toHaveLength(1);
  }, 120_000);
});
