import { describe, expect, it } from "vitest";
import { SnapshotCache } from "../../envoy/xds/cache.js";
import { acknowledgeAll, realSnapshot, silentLog } from "../../test/support/controller-fakes.js";
import type { MeshIR, WorkloadIR } from "../../contract/ir.js";
import type { Snapshot } from "../../envoy/snapshot/snapshot.js";
import type { TranslationInput } from "../resolve/objects.js";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { translate } from "../translate/translate.js";
import { ControllerMetrics } from "./metrics.js";
import { SnapshotRunner } from "./snapshot-runner.js";
import { XdsType } from "../../envoy/type-urls.js";
import { issuePublicCertificate, tlsSecret } from "../../test/support/public-certificate.js";

const now = new Date("2026-11-25T12:00:00Z");
const publicRules = { rules: [{ name: "all", match: { pathPrefix: "/" }, authentication: "None" }] };

function objects(options: { generation?: number; spec?: Record<string, unknown>; pods?: string[] } = {}): TranslationInput {
  return {
    policies: [
      policy({
        namespace: "shop",
        name: "api",
        created: "2026-01-01T00:00:00Z",
        generation: options.generation ?? 1,
        spec: { targetRefs: [{ kind: "Service", name: "api" }], ...publicRules, ...options.spec },
      }),
    ],
    services: [service("shop", "api", { app: "api" })],
    pods: (options.pods ?? ["api-1", "api-2"]).map((name) => sidecarPod("shop", name, { app: "api" })),
    secrets: [],
    now: now.toISOString(),
  };
}

function runner(): { runner: SnapshotRunner; cache: SnapshotCache; builds: WorkloadIR[]; metrics: ControllerMetrics } {
  const cache = new SnapshotCache();
  const builds: WorkloadIR[] = [];
  const metrics = new ControllerMetrics();
  const buildSnapshot = (workload: WorkloadIR, mesh?: MeshIR): Snapshot => {
    builds.push(workload);
    return realSnapshot(workload, mesh);
  };
  return { runner: new SnapshotRunner({ cache, buildSnapshot, metrics, log: silentLog }), cache, builds, metrics };
}

describe("SnapshotRunner", () => {
  it("sets one snapshot per sidecar, built once per workload, and does not rebuild or push an unchanged workload", async () => {
    const { runner: snapshots, cache, builds, metrics } = runner();
    const first = await snapshots.publish(translate(objects()), objects().pods, now);
    expect([...first.wanted].sort()).toEqual(["api-1.shop", "api-2.shop"]);
    expect(builds).toHaveLength(1);
    const version = cache.getSnapshot("api-1.shop")?.version;
    expect(version).toBeDefined();
    expect(cache.getSnapshot("api-2.shop")?.version).toBe(version);
    expect((await metrics.snapshotUpdates.get()).values[0]?.value).toBe(2);

    await snapshots.publish(translate(objects()), objects().pods, now);
    expect(builds).toHaveLength(1);
    expect(cache.getSnapshot("api-1.shop")?.version).toBe(version);
    expect((await metrics.snapshotUpdates.get()).values[0]?.value).toBe(2);
  });

  it("clears the snapshot of a sidecar that is gone, and keeps those an invalid policy holds", async () => {
    const { runner: snapshots, cache } = runner();
    await snapshots.publish(translate(objects()), objects().pods, now);
    const gone = await snapshots.publish(translate(objects({ pods: ["api-1"] })), objects({ pods: ["api-1"] }).pods, now);
    expect(gone.cleared).toEqual(["api-2.shop"]);
    expect(cache.getSnapshot("api-2.shop")).toBeUndefined();

    const invalid = objects({ pods: ["api-1"], generation: 2, spec: { rules: "not a list" } });
    const held = await snapshots.publish(translate(invalid), invalid.pods, now);
    expect([...held.held]).toEqual(["api-1.shop"]);
    expect(held.cleared).toEqual([]);
    expect(cache.getSnapshot("api-1.shop")).toBeDefined();
  });

  it("reports the policy generation a sidecar acknowledged, and keeps it until the next push is acknowledged", async () => {
    const { runner: snapshots, cache } = runner();
    await snapshots.publish(translate(objects()), objects().pods, now);
    expect(snapshots.ownReport("api-1.shop")).toBeUndefined(); // never heard from
    cache.streamOpened("api-1.shop");
    expect(snapshots.ownReport("api-1.shop")).toEqual({ connected: true });
    acknowledgeAll(cache, "api-1.shop");
    expect(snapshots.acknowledged("api-1.shop")).toBe(true); // the push completed
    expect(snapshots.acknowledged("api-1.shop")).toBe(false); // already counted
    expect(snapshots.ownReport("api-1.shop")).toEqual({ policy: "shop/api", generation: 1, connected: true });

    const next = objects({ generation: 2, spec: { rules: [{ name: "all", match: { pathPrefix: "/v2" }, authentication: "None" }] } });
    await snapshots.publish(translate(next), next.pods, now);
    expect(snapshots.ownReport("api-1.shop")).toEqual({ policy: "shop/api", generation: 1, connected: true });
    acknowledgeAll(cache, "api-1.shop");
    expect(snapshots.acknowledged("api-1.shop")).toBe(true);
    expect(snapshots.ownReports().get("api-1.shop")).toEqual({ policy: "shop/api", generation: 2, connected: true });
    expect([...snapshots.ownReports().keys()]).toEqual(["api-1.shop"]);
  });

  describe("a public certificate (spec.tls.certificate)", () => {
    const spec = { tls: { certificate: { secretRef: { name: "api-tls" } } } };
    const versions = (snapshot: Snapshot | undefined, type: XdsType): Record<string, string> =>
      Object.fromEntries([...(snapshot?.resources.get(type)?.values() ?? [])].map((r) => [r.name, r.version]));

    it("reaches the sidecar as its own SDS secret; a new certificate in the Secret changes that secret alone", async () => {
      const { runner: snapshots, cache } = runner();
      const first = await issuePublicCertificate(["api.shop.example"]);
      const second = await issuePublicCertificate(["api.shop.example"]);
      const withSecret = (certificate: typeof first): TranslationInput => ({ ...objects({ spec }), secrets: [tlsSecret("shop", "api-tls", certificate)] });
      await snapshots.publish(translate(withSecret(first)), objects().pods, now);
      const before = cache.getSnapshot("api-1.shop");
      const secret = before?.resources.get(XdsType.Secret)?.get("public-cert/shop/api-tls");
      expect(secret).toBeDefined();
      expect(Buffer.from(secret?.body ?? []).includes(first.leafPem)).toBe(true);

      await snapshots.publish(translate(withSecret(second)), objects().pods, now);
      const after = cache.getSnapshot("api-1.shop");
      for (const type of [XdsType.Listener, XdsType.Route, XdsType.Cluster, XdsType.Endpoints]) expect(versions(after, type)).toEqual(versions(before, type));
      expect(versions(after, XdsType.Secret)["public-cert/shop/api-tls"]).not.toBe(versions(before, XdsType.Secret)["public-cert/shop/api-tls"]);
      expect(Buffer.from(after?.resources.get(XdsType.Secret)?.get("public-cert/shop/api-tls")?.body ?? []).includes(second.leafPem)).toBe(true);
    });

    it("a missing Secret: no secret, and a listener that refuses every connection (no plaintext chain)", async () => {
      const { runner: snapshots, cache } = runner();
      const translation = translate(objects({ spec }));
      await snapshots.publish(translation, objects().pods, now);
      expect(translation.resolution.policies[0]?.resolvedRefs).toMatchObject({ status: "False", reason: "SecretNotFound" });
      const snapshot = cache.getSnapshot("api-1.shop");
      expect(versions(snapshot, XdsType.Secret)).toEqual({});
      const listener = Buffer.from(snapshot?.resources.get(XdsType.Listener)?.get("inbound")?.body ?? []).toString("latin1");
      expect(listener).toContain("public-certificate-unavailable");
      expect(listener).not.toContain("http_connection_manager");
    });

    it("a broken Secret fails its own policy's sidecars alone: another policy's sidecar keeps its certificate and chains", async () => {
      const { runner: snapshots, cache } = runner();
      const good = await issuePublicCertificate(["orders.shop.example"]);
      const both = (ordersSecret: ReturnType<typeof tlsSecret>): TranslationInput => ({
        policies: ["api", "orders"].map((name) =>
          policy({
            namespace: "shop",
            name,
            created: "2026-01-01T00:00:00Z",
            spec: { targetRefs: [{ kind: "Service", name }], ...publicRules, tls: { certificate: { secretRef: { name: `${name}-tls` } } } },
          }),
        ),
        services: ["api", "orders"].map((name) => service("shop", name, { app: name })),
        pods: ["api", "orders"].map((name) => sidecarPod("shop", `${name}-1`, { app: name })),
        secrets: [tlsSecret("shop", "api-tls", good, "Opaque"), ordersSecret],
        now: now.toISOString(),
      });
      const input = both(tlsSecret("shop", "orders-tls", good));
      const translation = translate(input);
      await snapshots.publish(translation, input.pods, now);
      const [api, orders] = translation.resolution.policies;
      expect(api?.resolvedRefs).toMatchObject({ status: "False", reason: "InvalidSecret" });
      expect(orders?.resolvedRefs.status).toBe("True");
      expect(Object.keys(versions(cache.getSnapshot("api-1.shop"), XdsType.Secret))).toEqual([]);
      expect(Object.keys(versions(cache.getSnapshot("orders-1.shop"), XdsType.Secret))).toEqual(["public-cert/shop/orders-tls"]);
    });
  });
});
