import { describe, expect, it } from "vitest";
import { resolvePolicies } from "../resolve/resolve.js";
import type { ServiceObject, TranslationInput } from "../resolve/objects.js";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { buildIR } from "./build.js";
import type { MeshServiceBuilder } from "./build-mesh.js";
import { buildMesh } from "./build-mesh.js";

const MESH = { trustDomain: "cluster.local", clusterDomain: "cluster.local" };

function withPorts(s: ServiceObject): ServiceObject {
  return { ...s, spec: { ...s.spec, ports: [{ port: 80 }] } };
}

function input(): TranslationInput {
  const namespaces = ["alpha", "beta"];
  return {
    policies: namespaces.map((ns) =>
      policy({ name: "api", namespace: ns, created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], defaultAction: "Allow" } }),
    ),
    services: namespaces.map((ns) => withPorts(service(ns, "api", { app: "api" }))),
    pods: [...namespaces.map((ns) => sidecarPod(ns, "api-0", { app: "api" })), sidecarPod("gamma", "plain-0", { app: "plain" })],
    secrets: [],
    now: "2026-11-25T12:00:00Z",
  };
}

/** The real builder, except that the destination `failing` throws as a bug in it would. */
function failingFor(failing: string): MeshServiceBuilder {
  return (s, listeners, settings) => {
    if (`${s.namespace}/${s.name}` === failing) throw new Error("boom in the mesh");
    return buildMesh(
      [s],
      [...listeners].map(([id, listener]) => ({ sidecars: [id], listener }) as never),
      settings,
    ).mesh.services[0];
  };
}

describe("a destination whose mesh entry cannot be built", () => {
  it("fails only the policy that governs its sidecars; every other policy and destination is built", () => {
    const resolution = resolvePolicies(input());
    const ir = buildIR(resolution, MESH, failingFor("alpha/api"));
    const byNamespace = Object.fromEntries(resolution.policies.map((p) => [p.namespace, `${p.accepted.status}/${p.accepted.reason}`]));
    expect(byNamespace).toEqual({ alpha: "False/TranslationFailed", beta: "True/Accepted" });
    const alpha = resolution.policies.find((p) => p.namespace === "alpha");
    expect(alpha?.accepted.message).toContain("building the mesh destination alpha/api");
    expect(alpha?.accepted.message).toContain("boom in the mesh");
    expect(alpha?.held).toEqual(["api-0.alpha"]);
    expect(ir.workloads.map((w) => w.namespace)).toEqual(["beta", "gamma"]); // gamma: a pass-through sidecar, untouched
    expect(ir.mesh?.services.map((s) => s.name)).toEqual(["outbound/beta/api"]);
  });

  it("is the same mesh as without the failure when nothing fails", () => {
    const plain = buildIR(resolvePolicies(input()), MESH);
    const viaBuilder = buildIR(resolvePolicies(input()), MESH, failingFor("nowhere/none"));
    expect(viaBuilder).toEqual(plain);
    expect(plain.mesh?.services.map((s) => s.name)).toEqual(["outbound/alpha/api", "outbound/beta/api"]);
  });
});

describe("a workload serving a public certificate", () => {
  it("is no destination of the mesh (it presents no SPIFFE id a caller could verify); the others stay", () => {
    const objects = input();
    const alpha = objects.policies[0] as { spec: Record<string, unknown> };
    alpha.spec.tls = { certificate: { secretRef: { name: "api-tls" } } };
    const ir = buildIR(resolvePolicies(objects), MESH);
    expect(ir.mesh?.services.map((s) => s.name)).toEqual(["outbound/beta/api"]);
    expect(ir.workloads.find((w) => w.namespace === "alpha")?.listener.tls?.publicCertificate).toEqual({ sdsName: "public-cert/alpha/api-tls", usable: false });
  });
});
