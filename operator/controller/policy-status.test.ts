import { describe, expect, it } from "vitest";
import { failTranslation } from "../resolve/conditions.js";
import { resolvePolicies, type ResolvedPolicy } from "../resolve/resolve.js";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { desiredStatus, type SidecarObservation } from "./policy-status.js";

const now = "2026-11-25T12:00:00Z";
const SIDECARS = ["api-1.shop", "api-2.shop"];

/** The policy as translation resolves it, in one of the situations a table row names. */
function resolved(situation: "valid" | "invalid" | "missing service" | "translation failed" | "no sidecars"): ResolvedPolicy {
  const spec = situation === "invalid" ? { targetRefs: [{ kind: "Service", name: "api" }], defaultAction: "Maybe" } : { targetRefs: [{ kind: "Service", name: "api" }] };
  const [p] = resolvePolicies({
    policies: [policy({ name: "p", created: "2026-01-01T00:00:00Z", spec })],
    services: situation === "missing service" ? [] : [service("shop", "api", { app: "api" })],
    pods: situation === "no sidecars" ? [] : [sidecarPod("shop", "api-1", { app: "api" }), sidecarPod("shop", "api-2", { app: "api" })],
    secrets: [],
    namespaces: [],
    now,
  }).policies;
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

describe("policy status from given inputs: Accepted, ResolvedRefs, Programmed, Ready", () => {
  it.each([
    ["valid", "all run it", "True Accepted", "True ResolvedRefs", "True Programmed", "True Ready", "2/2"],
    ["valid", "one runs it", "True Accepted", "True ResolvedRefs", "False Pending", "False Pending", "1/2"],
    ["valid", "none", "True Accepted", "True ResolvedRefs", "False Pending", "False Pending", "0/2"],
    ["valid", "one rejected it", "True Accepted", "True ResolvedRefs", "False Rejected", "False Rejected", "1/2"],
    ["no sidecars", "none", "True Accepted", "True ResolvedRefs", "True NoSidecars", "True Ready", "0/0"],
    ["missing service", "none", "True Accepted", "False TargetNotFound", "True NoSidecars", "False TargetNotFound", "0/0"],
    ["invalid", "all run it", "False Invalid", "False Invalid", "False Invalid", "False Invalid", "0/0"],
    ["translation failed", "all run it", "False TranslationFailed", "True ResolvedRefs", "False TranslationFailed", "False TranslationFailed", "2/2"],
  ] as const)("%s policy, sidecars: %s", (situation, sidecars, accepted, resolvedRefs, programmed, ready, count) => {
    const status = desiredStatus(resolved(situation), observed(sidecars), undefined, now);
    const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));
    expect(byType).toMatchObject({ Accepted: accepted, ResolvedRefs: resolvedRefs, Programmed: programmed, Ready: ready });
    expect(status.sidecars).toBe(count);
    expect(status.observedGeneration).toBe(1);
  });

  it("names Envoy's error and the sidecar in Programmed when a sidecar rejected the configuration", () => {
    const status = desiredStatus(resolved("valid"), observed("one rejected it"), undefined, now);
    expect(status.conditions?.find((c) => c.type === "Programmed")?.message).toContain("api-2.shop: Proto constraint validation failed");
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
