/**
 * What Flux and Argo CD conclude about a policy, asked of their own code: kstatus's
 * `status.Compute` (sigs.k8s.io/cli-utils) and the Argo CD health script of docs/gitops run in
 * gopher-lua as Argo CD runs it. The objects are read back from the real API server, with the
 * status a real `bulwark controller` wrote, in each state a policy can be in: Ready with a real
 * Envoy sidecar, Ready with no sidecar yet, waiting for a sidecar's acknowledgement, invalid,
 * conflicted, a missing or invalid Secret, and a generation the controller has not seen.
 */
import { type KubeConfig } from "@kubernetes/client-node";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../support/crds.js";
import {
  conditionOf,
  createNamespace,
  createSecret,
  createService,
  createSidecarPod,
  deleteNamespace,
  e2eEnvironment,
  getPolicy,
  kubeConfig,
  kubectl,
  patchPolicySpec,
  policyManifest,
  startController,
  startSidecarPod,
  type ControllerProcess,
  type E2eEnvironment,
  type PolicyObject,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { gitOpsJudges, type GitOpsJudges } from "../../support/gitops-tools.js";
import { waitFor } from "../../support/poll.js";

let env: E2eEnvironment;
let kc: KubeConfig;
let judges: GitOpsJudges;
let leaseNamespace: string;
let namespace: string;
let controller: ControllerProcess | undefined;
let sidecar: SidecarPod | undefined;

const target = (name: string): Record<string, unknown> => ({ targetRefs: [{ kind: "Service", name }] });
const jwtFromSecret = (service: string): Record<string, unknown> => ({
  ...target(service),
  authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop"], jwks: { secretRef: { name: `${service}-jwks` } } }] } },
});

/** Each policy and the Ready reason the controller gives it once it has looked. */
const policies: { name: string; spec: () => Record<string, unknown>; reason: string }[] = [
  { name: "programmed", spec: () => target("programmed"), reason: "Ready" },
  { name: "no-sidecars", spec: () => target("no-sidecars"), reason: "NoSidecars" },
  { name: "pending", spec: () => target("pending"), reason: "Pending" },
  // Distinct variable names are checked by the operator only (the CEL check is over the API server's cost budget).
  {
    name: "invalid",
    spec: () => ({ ...target("invalid"), rules: [{ name: "twice", match: { pathTemplate: "/v1/users/{id}/orders/{id}" }, authentication: "None" }] }),
    reason: "Invalid",
  },
  { name: "conflicted", spec: () => target("programmed"), reason: "Conflicted" },
  { name: "secret-missing", spec: () => jwtFromSecret("secret-missing"), reason: "SecretNotFound" },
  { name: "secret-invalid", spec: () => jwtFromSecret("secret-invalid"), reason: "InvalidSecret" },
];

async function settled(name: string, reason: string): Promise<PolicyObject> {
  return waitFor(
    `policy ${name}: Ready reason ${reason} for its generation`,
    async () => {
      const p = await getPolicy(kc, namespace, name);
      return p.status?.observedGeneration === p.metadata.generation && conditionOf(p, "Ready")?.reason === reason ? p : undefined;
    },
    60_000,
  );
}

/** The same object as the controller wrote it before Stalled and Reconciling existed. */
function withoutKstatusConditions(p: PolicyObject): PolicyObject {
  return { ...p, status: { ...p.status, conditions: p.status?.conditions?.filter((c) => c.type !== "Stalled" && c.type !== "Reconciling") } };
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  judges = await gitOpsJudges();
  await installCrds();
  leaseNamespace = uniqueName("gitops-system");
  namespace = uniqueName("gitops-app");
  await createNamespace(kc, leaseNamespace);
  await createNamespace(kc, namespace);
  for (const name of ["programmed", "no-sidecars", "pending", "invalid", "secret-missing", "secret-invalid"]) await createService(kc, namespace, name, { app: name });
  await createSecret(kc, namespace, "secret-invalid-jwks", { "jwks.json": '{"keys": "not a list"}' });
  controller = await startController(env, { leaseNamespace, identity: "gitops-0" });
  // A sidecar that runs Envoy and acknowledges; a Pod whose sidecar never connects.
  sidecar = await startSidecarPod(env, kc, { namespace, pod: "programmed-0", labels: { app: "programmed" }, xdsPort: controller.xdsPort, delta: false });
  await createSidecarPod(kc, { namespace, name: "pending-0", labels: { app: "pending" }, sidecarPort: 15006, appPort: 8080 });
  for (const p of policies) {
    await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, p.name, p.spec()));
    // The older policy keeps the Service; the second one on it loses, as Conflicted.
    if (p.name === "programmed") await new Promise((r) => setTimeout(r, 1100));
  }
}, 180_000);

afterAll(async () => {
  await sidecar?.stop();
  await controller?.stop();
  for (const ns of [namespace, leaseNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe("kstatus and Argo CD health of policies in each state, on objects from the real API server", () => {
  it.each([
    // policy, kstatus, Argo CD health, kstatus before Stalled/Reconciling existed
    ["programmed", "Current", "Healthy", "Current"],
    ["no-sidecars", "Current", "Healthy", "Current"],
    ["pending", "InProgress", "Progressing", "InProgress"],
    ["invalid", "Failed", "Degraded", "InProgress"],
    ["conflicted", "Failed", "Degraded", "InProgress"],
    ["secret-missing", "Failed", "Degraded", "InProgress"],
    ["secret-invalid", "Failed", "Degraded", "InProgress"],
  ])("%s: kstatus %s, Argo CD %s (was %s)", async (name, kstatus, argo, before) => {
    const reason = policies.find((p) => p.name === name)?.reason ?? "";
    const policy = await settled(name, reason);
    const [computed, health, previously] = await Promise.all([judges.kstatus(policy), judges.argoHealth(policy), judges.kstatus(withoutKstatusConditions(policy))]);
    expect(computed.status, computed.message).toBe(kstatus);
    expect(health.status, health.message).toBe(argo);
    expect(previously.status).toBe(before);
    // Flux and Argo CD show the reason and the controller's words.
    if (kstatus === "Failed") {
      expect(computed.message).toBe(conditionOf(policy, "Stalled")?.message);
      expect(health.message).toContain(`${reason}: `);
    }
    if (kstatus === "InProgress") expect(health.message).toMatch(/^Pending: .*waiting for the others to acknowledge/);
    for (const c of policy.status?.conditions ?? []) expect(c.observedGeneration, c.type).toBe(policy.metadata.generation);
  });

  it("says honestly that a policy with no sidecar is enforced by nothing yet, and is not waited for", async () => {
    const policy = await settled("no-sidecars", "NoSidecars");
    expect(conditionOf(policy, "Ready")?.message).toMatch(/no sidecar serves its targets yet, so nothing enforces it now/);
    expect((await judges.argoHealth(policy)).message).toMatch(/^NoSidecars: /);
    const programmed = await settled("programmed", "Ready");
    expect(conditionOf(programmed, "Ready")?.message).toBe("Enforced by every sidecar of its targets: 1/1 sidecars run generation 1.");
  });

  it("turns Failed into Current once the missing Secret appears", async () => {
    const { publicKey } = await generateKeyPair("ES256");
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
    await createSecret(kc, namespace, "secret-missing-jwks", { "jwks.json": jwks });
    // Its Service has no pods: Ready with NoSidecars once the Secret resolves.
    const policy = await settled("secret-missing", "NoSidecars");
    expect(conditionOf(policy, "Stalled")).toBeUndefined();
    expect((await judges.kstatus(policy)).status).toBe("Current");
    expect((await judges.argoHealth(policy)).status).toBe("Healthy");
  });

  it("a generation the controller has not observed is InProgress and Progressing, whatever the conditions say", async () => {
    await controller?.stop();
    controller = undefined;
    const policy = await patchPolicySpec(kc, namespace, "no-sidecars", { rules: [{ name: "health", match: { path: "/healthz" }, authentication: "None" }] });
    expect(policy.metadata.generation).toBe(2);
    expect(policy.status?.observedGeneration).toBe(1);
    const [computed, health] = await Promise.all([judges.kstatus(policy), judges.argoHealth(policy)]);
    expect(computed).toEqual({ status: "InProgress", message: "APISecurityPolicy generation is 2, but latest observed generation is 1" });
    expect(health).toEqual({ status: "Progressing", message: "Waiting for the Bulwark controller to observe generation 2" });
  });
});
