import { describe, expect, it } from "vitest";
import { failTranslation } from "../resolve/conditions.js";
import { resolvePolicies, type ResolvedPolicy } from "../resolve/resolve.js";
import { jwksSecret, policy, service, sidecarPod } from "../testdata/objects.js";
import { desiredStatus, sameStatus, type SidecarObservation } from "./policy-status.js";

const now = "2026-11-25T12:00:00Z";
const SIDECARS = ["api-1.shop", "api-2.shop"];

type Situation = "valid" | "invalid" | "missing service" | "translation failed" | "no sidecars" | "conflicted" | "missing secret" | "invalid secret";

/** A JWT provider whose keys come from Secret idp-jwks. */
const jwtFromSecret = { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop"], jwks: { secretRef: { name: "idp-jwks" } } }] } };

/** The policy as translation resolves it, in one of the situations a table row names. */
function resolved(situation: Situation): ResolvedPolicy {
  const targetRefs = [{ kind: "Service", name: "api" }];
  const spec =
    situation === "invalid"
      ? { targetRefs, defaultAction: "Maybe" }
      : situation === "missing secret" || situation === "invalid secret"
        ? { targetRefs, authentication: jwtFromSecret }
        : { targetRefs };
  // An older policy on the same Service takes it; "p" is the one that loses.
  const older = situation === "conflicted" ? [policy({ name: "older", created: "2025-01-01T00:00:00Z", spec: { targetRefs } })] : [];
  const { policies } = resolvePolicies({
    policies: [...older, policy({ name: "p", created: "2026-01-01T00:00:00Z", spec })],
    services: situation === "missing service" ? [] : [service("shop", "api", { app: "api" })],
    pods: situation === "no sidecars" ? [] : [sidecarPod("shop", "api-1", { app: "api" }), sidecarPod("shop", "api-2", { app: "api" })],
    secrets: situation === "invalid secret" ? [jwksSecret("shop", "idp-jwks", { keys: "not a list" })] : [],
    now,
  });
  const p = policies.find((x) => x.name === "p");
  if (!p) throw new Error("no policy");
  if (situation === "translation failed") failTranslation(p, "building the Envoy resources of workload w", new Error("boom"));
  return p;
}

/** What the xDS side saw, as a table row names it. */
function observed(sidecars: "all run it" | "one runs it" | "one rejected it" | "none"): SidecarObservation {
  return {
    runningGeneration: (id) => (sidecars === "all run it" || (sidecars !== "none" && id === SIDECARS[0]) ? 1 : undefined),
    rejection: (id) => (sidecars === "one rejected it" && id === SIDECARS[1] ? "Proto constraint validation failed" : undefined),
  };
}

describe("policy status from given inputs: Accepted, ResolvedRefs, Programmed, Ready, and kstatus's Stalled / Reconciling", () => {
  // kstatus: Stalled=True is Failed, Reconciling=True is InProgress, neither with Ready=True is Current.
  it.each([
    ["valid", "all run it", "True Accepted", "True ResolvedRefs", "True Programmed", "True Ready", "-", "2/2"],
    ["valid", "one runs it", "True Accepted", "True ResolvedRefs", "False Pending", "False Pending", "Reconciling Pending", "1/2"],
    ["valid", "none", "True Accepted", "True ResolvedRefs", "False Pending", "False Pending", "Reconciling Pending", "0/2"],
    ["valid", "one rejected it", "True Accepted", "True ResolvedRefs", "False Rejected", "False Rejected", "Stalled Rejected", "1/2"],
    ["no sidecars", "none", "True Accepted", "True ResolvedRefs", "True NoSidecars", "True NoSidecars", "-", "0/0"],
    ["missing service", "none", "True Accepted", "False TargetNotFound", "True NoSidecars", "False TargetNotFound", "Stalled TargetNotFound", "0/0"],
    ["missing secret", "none", "True Accepted", "False SecretNotFound", "False Pending", "False SecretNotFound", "Stalled SecretNotFound", "0/2"],
    ["invalid secret", "all run it", "True Accepted", "False InvalidSecret", "True Programmed", "False InvalidSecret", "Stalled InvalidSecret", "2/2"],
    ["conflicted", "all run it", "False Conflicted", "True ResolvedRefs", "True NoSidecars", "False Conflicted", "Stalled Conflicted", "0/0"],
    ["invalid", "all run it", "False Invalid", "False Invalid", "False Invalid", "False Invalid", "Stalled Invalid", "0/0"],
    ["translation failed", "all run it", "False TranslationFailed", "True ResolvedRefs", "False TranslationFailed", "False TranslationFailed", "Stalled TranslationFailed", "2/2"],
  ] as const)("%s policy, sidecars: %s", (situation, sidecars, accepted, resolvedRefs, programmed, ready, kstatus, count) => {
    const status = desiredStatus(resolved(situation), observed(sidecars), undefined, now);
    const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));
    expect(byType).toMatchObject({ Accepted: accepted, ResolvedRefs: resolvedRefs, Programmed: programmed, Ready: ready });
    // Abnormal-true: present only when True, never both.
    const abnormal = (status.conditions ?? []).filter((c) => c.type === "Stalled" || c.type === "Reconciling");
    expect(abnormal.map((c) => `${c.type} ${c.reason}`).join(", ") || "-").toBe(kstatus);
    expect(abnormal.every((c) => c.status === "True")).toBe(true);
    // The same words as Ready, so Flux and Argo CD show why.
    for (const c of abnormal) expect(c.message).toBe(status.conditions?.find((r) => r.type === "Ready")?.message);
    expect(status.sidecars).toBe(count);
    expect(status.observedGeneration).toBe(1);
    for (const c of status.conditions ?? []) expect(c.observedGeneration, c.type).toBe(1);
  });

  it("says a policy with no sidecars is Ready because nothing is left to wait for, not that sidecars enforce it", () => {
    const ready = desiredStatus(resolved("no sidecars"), observed("none"), undefined, now).conditions?.find((c) => c.type === "Ready");
    expect(ready?.message).toMatch(/no sidecar serves its targets yet, so nothing enforces it now/);
    expect(ready?.message).not.toMatch(/enforced by every sidecar/i);
    const programmed = desiredStatus(resolved("valid"), observed("all run it"), undefined, now).conditions?.find((c) => c.type === "Ready");
    expect(programmed?.message).toBe("Enforced by every sidecar of its targets: 2/2 sidecars run generation 1.");
  });

  it("drops Reconciling once every sidecar runs the generation, and Stalled once the spec is fixed", () => {
    const pending = desiredStatus(resolved("valid"), observed("one runs it"), undefined, now);
    const done = desiredStatus(resolved("valid"), observed("all run it"), pending, now);
    expect(done.conditions?.map((c) => c.type)).not.toContain("Reconciling");
    const invalid = desiredStatus(resolved("invalid"), observed("none"), undefined, now);
    const fixed = desiredStatus(resolved("valid"), observed("all run it"), invalid, now);
    expect(fixed.conditions?.map((c) => c.type)).not.toContain("Stalled");
  });

  it("names Envoy's error and the sidecar in Programmed when a sidecar rejected the configuration", () => {
    const status = desiredStatus(resolved("valid"), observed("one rejected it"), undefined, now);
    expect(status.conditions?.find((c) => c.type === "Programmed")?.message).toContain("api-2.shop: Proto constraint validation failed");
  });

  it("reads an issuer whose OpenID configuration is not found yet as Reconciling, not Stalled: the controller keeps fetching it", () => {
    const discovering = { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com", audiences: ["shop"], jwks: { oidcDiscovery: {} } }] } };
    for (const [oidcDiscovery, reason] of [
      [undefined, "DiscoveryPending"],
      [{ "https://id.example.com": { error: "GET https://id.example.com/.well-known/openid-configuration answered 503" } }, "DiscoveryFailed"],
    ] as const) {
      const { policies } = resolvePolicies({
        policies: [policy({ name: "p", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], authentication: discovering } })],
        services: [service("shop", "api", { app: "api" })],
        pods: [sidecarPod("shop", "api-1", { app: "api" })],
        secrets: [],
        ...(oidcDiscovery ? { oidcDiscovery } : {}),
        now,
      });
      const p = policies[0];
      if (!p) throw new Error("no policy");
      const status = desiredStatus(p, observed("all run it"), undefined, now);
      const types = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));
      expect(types).toMatchObject({ ResolvedRefs: `False ${reason}`, Ready: `False ${reason}`, Reconciling: `True ${reason}` });
      expect(types.Stalled).toBeUndefined();
    }
  });

  it("keeps a condition's transition time while its status stays, and moves it when the status changes", () => {
    const pending = desiredStatus(resolved("valid"), observed("one runs it"), undefined, "2026-11-25T12:00:00Z");
    const later = desiredStatus(resolved("valid"), observed("one runs it"), pending, "2026-11-25T12:05:00Z");
    const done = desiredStatus(resolved("valid"), observed("all run it"), later, "2026-11-25T12:10:00Z");
    const time = (s: typeof pending, type: string): string | undefined => s.conditions?.find((c) => c.type === type)?.lastTransitionTime;
    expect(time(later, "Programmed")).toBe("2026-11-25T12:00:00Z");
    expect(time(done, "Programmed")).toBe("2026-11-25T12:10:00Z");
    expect(time(done, "Accepted")).toBe("2026-11-25T12:00:00Z");
  });
});

describe("what the controller compares before writing status", () => {
  const desired = { observedGeneration: 2, sidecars: "2/2" };
  const traffic = { documented: 3, shadow: 1, zombie: 0, unused: 2, blocked: 0, shadowActions: 0, updated: now };

  it("ignores the traffic bulwark telemetry writes, so it neither rewrites nor erases it", () => {
    expect(sameStatus({ ...desired, traffic }, desired)).toBe(true);
    expect(sameStatus({ ...desired, traffic }, { ...desired, sidecars: "1/2" })).toBe(false);
  });
});
