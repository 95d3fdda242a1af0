/**
 * The Warnings condition is told where people look for trouble too: a Warning Event on the
 * policy, once per change of what the condition says, not once per reconcile. Real API server,
 * real `bulwark controller`.
 */
import { type KubeConfig } from "@kubernetes/client-node";
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
  patchPolicySpec,
  policyEvents,
  policyManifest,
  startController,
  type ControllerProcess,
  type E2eEnvironment,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";

let env: E2eEnvironment;
let kc: KubeConfig;
let leaseNamespace: string;
let namespace: string;
let controller: ControllerProcess;

const shadowed = {
  targetRefs: [{ kind: "Service", name: "api" }],
  defaultAction: "Allow",
  rules: [
    { name: "everything", match: { pathPrefix: "/v1/" }, authentication: "None" },
    { name: "orders", match: { path: "/v1/orders" }, authentication: "None" },
  ],
};

async function warningEvents(): Promise<{ reason: string; message: string; count: number }[]> {
  return (await policyEvents(kc, namespace, "api")).filter((e) => e.type === "Warning").map((e) => ({ reason: e.reason ?? "", message: e.message ?? "", count: e.count ?? 1 }));
}

async function warningsCondition(): Promise<string | undefined> {
  const c = conditionOf(await getPolicy(kc, namespace, "api"), "Warnings");
  return c ? `${c.status}/${c.reason}/${c.message}` : undefined;
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  await installCrds();
  leaseNamespace = uniqueName("warnings-system");
  namespace = uniqueName("warnings-app");
  await createNamespace(kc, leaseNamespace);
  await createNamespace(kc, namespace);
  await createService(kc, namespace, "api", { app: "api" });
  controller = await startController(env, { leaseNamespace, identity: "warnings-0" });
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  for (const ns of [namespace, leaseNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe("Warning Events of the Warnings condition", () => {
  it("one Warning Event per change of the warning, none per reconcile, none once the warning is gone", async () => {
    await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, "api", shadowed));
    await waitFor("the Warnings condition", async () => (await warningsCondition())?.startsWith("True/ShadowedRule/") || undefined, 30_000);
    const first = await waitFor("a Warning Event for the shadowed rule", async () => (await warningEvents()).find((e) => e.reason === "ShadowedRule"), 15_000);
    expect(first.message).toContain("orders");
    expect(first.message).toContain("/v1/");

    // Reconciles that change nothing in the warning: relabel the policy and the Service several times.
    for (let i = 0; i < 5; i++) {
      await kubectl(env, ["label", "--overwrite", "--namespace", namespace, "apisecuritypolicy/api", `touched=n${i}`]);
      await kubectl(env, ["label", "--overwrite", "--namespace", namespace, "service/api", `touched=n${i}`]);
    }
    // A new generation whose warning says the same: one more rule, shadowed by nothing.
    await patchPolicySpec(kc, namespace, "api", { rules: [...shadowed.rules, { name: "health", match: { path: "/healthz" }, authentication: "None" }] });
    await waitFor("generation 2 observed", async () => ((await getPolicy(kc, namespace, "api")).status?.observedGeneration === 2 ? true : undefined), 15_000);
    await new Promise((r) => setTimeout(r, 2000));
    let events = await warningEvents();
    expect(
      events.filter((e) => e.reason === "ShadowedRule").map((e) => e.count),
      "one Event, counted once",
    ).toEqual([1]);

    // A different warning: one more Event, with the new text.
    await patchPolicySpec(kc, namespace, "api", {
      rules: [
        { name: "everything", match: { pathPrefix: "/v2/" }, authentication: "None" },
        { name: "items", match: { path: "/v2/items" }, authentication: "None" },
      ],
    });
    await waitFor("a Warning Event for the new warning", async () => (await warningEvents()).find((e) => e.reason === "ShadowedRule" && e.message.includes("rule items")), 15_000);

    // The warning is fixed: the condition clears, and no Event says anything more.
    await patchPolicySpec(kc, namespace, "api", {
      rules: [
        { name: "items", match: { path: "/v2/items" }, authentication: "None" },
        { name: "everything", match: { pathPrefix: "/v2/" }, authentication: "None" },
      ],
    });
    await waitFor("the Warnings condition cleared", async () => (await warningsCondition())?.startsWith("False/NoWarnings/") || undefined, 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    events = await warningEvents();
    expect(events.filter((e) => e.reason === "ShadowedRule").map((e) => e.count)).toEqual([1, 1]);
  }, 90_000);
});
