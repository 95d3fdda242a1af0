import { describe, expect, it } from "vitest";
import { desiredStatus } from "../controller/policy-status.js";
import { buildIR } from "../ir/build.js";
import type { TranslationInput } from "../resolve/objects.js";
import { resolvePolicies } from "../resolve/resolve.js";
import { jwtAuthentication, policy, service, sidecarPod } from "../testdata/objects.js";
import { buildPerWorkload, translate } from "./translate.js";
import { errorMessage } from "../../common/errors.js";
import { meshService } from "../ir/build-mesh.js";
import { buildSidecarResources } from "../../envoy/build/sidecar.js";
import { defaultSettings } from "./render.js";
import { sharedEncodingSnapshot } from "../../envoy/snapshot/shared-encoding.js";

const now = "2026-11-25T12:00:00Z";

/** Two policies in two namespaces, each governing one sidecar; `spec` overrides the first one's spec. */
function twoPolicies(spec: Record<string, unknown> = {}): TranslationInput {
  const publicRules = { rules: [{ name: "all", match: { pathPrefix: "/" }, authentication: "None" }] };
  return {
    policies: [
      policy({ namespace: "a", name: "broken", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], ...publicRules, ...spec } }),
      policy({ namespace: "b", name: "fine", created: "2026-01-02T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], ...publicRules } }),
    ],
    services: [service("a", "api", { app: "api" }), service("b", "api", { app: "api" })],
    pods: [sidecarPod("a", "api-1", { app: "api" }), sidecarPod("b", "api-1", { app: "api" }), sidecarPod("c", "other", { app: "other" })],
    secrets: [],
    now,
  };
}

const badJwks = { authentication: { jwt: { providers: [{ ...jwtAuthentication.jwt.providers[0], jwks: { remote: { uri: "https://host:99999/x" } } }] } } };

describe("one policy's failure stays in that policy", () => {
  it("a JWKS URI whose port is out of range does not stop the other policies", () => {
    const { resolution, ir } = translate(twoPolicies(badJwks));
    const [broken, fine] = resolution.policies;
    expect(broken?.accepted.status).toBe("False");
    expect(fine?.accepted.status).toBe("True");
    expect(ir.workloads.flatMap((w) => w.sidecars).sort()).toEqual(["api-1.b", "other.c"]);
  });

  it("an IR step that throws gives that policy Accepted=False TranslationFailed naming the cause, and holds its sidecars", () => {
    const resolution = resolvePolicies(twoPolicies({ authentication: jwtAuthentication }));
    // What the schema now refuses at apply, put back past it: the IR builder meets a URL it cannot parse.
    const jwks = resolution.policies[0]?.policy?.spec.authentication?.jwt?.providers[0]?.jwks;
    if (!jwks?.remote) throw new Error("the fixture has a remote JWKS");
    jwks.remote.uri = "https://host:99999/x";
    const ir = buildIR(resolution);
    const [broken, fine] = resolution.policies;
    expect(broken?.accepted).toMatchObject({ status: "False", reason: "TranslationFailed" });
    expect(broken?.accepted.message).toContain('jwks.remote.uri "https://host:99999/x"');
    expect(broken?.accepted.message).toContain("1 sidecar(s) keep their last good configuration");
    expect(broken?.held).toEqual(["api-1.a"]);
    expect(fine?.accepted.status).toBe("True");
    expect(ir.workloads.map((w) => w.name).some((n) => n.includes("/a/broken"))).toBe(false);
    expect(ir.workloads.flatMap((w) => w.sidecars).sort()).toEqual(["api-1.b", "other.c"]);
  });

  it("an Envoy-side build that throws for one workload fails its policy alone; the others are built", () => {
    const translation = translate(twoPolicies());
    const { built, failed } = buildPerWorkload(translation, (workload) => {
      if (workload.policy?.name === "broken") throw new Error("encoding the listener failed");
      return workload.name;
    });
    expect(built.flatMap((b) => b.workload.sidecars).sort()).toEqual(["api-1.b", "other.c"]);
    expect(failed.flatMap((f) => f.workload.sidecars)).toEqual(["api-1.a"]);
    const [broken, fine] = translation.resolution.policies;
    expect(broken?.accepted).toMatchObject({ status: "False", reason: "TranslationFailed" });
    expect(broken?.accepted.message).toContain("encoding the listener failed");
    expect(broken?.held).toEqual(["api-1.a"]);
    expect(fine?.accepted.status).toBe("True");
  });

  it("a pass-through workload whose Envoy side throws is left out alone: the policies' workloads are built and nothing throws", () => {
    const translation = translate(twoPolicies());
    const { built, failed } = buildPerWorkload(translation, (workload) => {
      if (!workload.policy) throw new Error("a bug in the pass-through listener");
      return workload.name;
    });
    expect(built.flatMap((b) => b.workload.sidecars).sort()).toEqual(["api-1.a", "api-1.b"]);
    expect(failed.map((f) => [f.workload.sidecars, errorMessage(f.error)])).toEqual([[["other.c"], "a bug in the pass-through listener"]]);
    expect(translation.resolution.policies.map((p) => p.accepted.status)).toEqual(["True", "True"]);
  });

  it("a mesh destination whose Envoy resources cannot be built fails only the policy behind it; callers keep the other destinations", () => {
    const input = twoPolicies();
    input.pods.push(sidecarPod("b", "caller-1", { app: "caller" }));
    input.services.push(service("b", "caller", { app: "caller" }));
    const mesh = { trustDomain: "cluster.local", clusterDomain: "cluster.local" };
    // What today's IR never holds, put in past it: an endpoint address Envoy's builder refuses.
    const translation = translate(input, mesh, (s, listeners, settings) => {
      const entry = meshService(s, listeners, settings);
      return entry && s.namespace === "a" ? { ...entry, endpoints: [{ address: "not an address", port: Number.NaN, tls: false }] } : entry;
    });
    const [broken, fine] = translation.resolution.policies;
    expect(broken?.accepted).toMatchObject({ status: "False", reason: "TranslationFailed" });
    expect(broken?.accepted.message).toContain("building the mesh destination a/api");
    expect(fine?.accepted.status).toBe("True");
    expect(translation.ir.mesh?.services.map((s) => s.name)).toEqual(["outbound/b/api", "outbound/b/caller"]);
    // As the controller builds each sidecar: resources, then their protobuf encoding.
    const { built, failed } = buildPerWorkload(translation, (w) => sharedEncodingSnapshot(buildSidecarResources(w, defaultSettings, translation.ir.mesh)));
    expect(failed).toEqual([]);
    expect(built.flatMap((b) => b.workload.sidecars).sort()).toEqual(["api-1.b", "caller-1.b", "other.c"]);
  });

  it("a failed translation reads Programmed=False and Ready=False with reason TranslationFailed in the status", () => {
    const translation = translate(twoPolicies());
    buildPerWorkload(translation, (workload) => {
      if (workload.policy?.name === "broken") throw new Error("boom");
      return workload;
    });
    const [broken] = translation.resolution.policies;
    if (!broken) throw new Error("no policy");
    const status = desiredStatus(broken, { runningGeneration: () => undefined, rejection: () => undefined }, undefined, now);
    const reasons = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));
    expect(reasons).toEqual({
      Accepted: "False TranslationFailed",
      ResolvedRefs: "True ResolvedRefs",
      Programmed: "False TranslationFailed",
      Ready: "False TranslationFailed",
      Stalled: "True TranslationFailed",
      Warnings: "False NoWarnings",
    });
  });
});
