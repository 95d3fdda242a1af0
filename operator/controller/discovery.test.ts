import { afterEach, describe, expect, it } from "vitest";
import { SnapshotCache } from "../../envoy/xds/cache.js";
import { XdsType } from "../../envoy/type-urls.js";
import { FixedLeadership, MemoryObjects, MemoryReports, RecordingWriter, realSnapshot, silentLog } from "../../test/support/controller-fakes.js";
import { startOidcIssuer, type OidcIssuer } from "../../test/support/oidc-issuer.js";
import { waitFor } from "../../test/support/poll.js";
import { DiscoveryBook } from "../oidc/discovery-book.js";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { Controller } from "./controller.js";
import { ControllerMetrics } from "./metrics.js";

let controller: Controller | undefined;
let issuer: OidcIssuer | undefined;

afterEach(async () => {
  await controller?.stop();
  await issuer?.close();
  controller = undefined;
  issuer = undefined;
});

describe("the controller with OpenID Connect Discovery (in process, a real issuer on loopback)", () => {
  it("translates again when discovery finds the jwks_uri: ResolvedRefs turns True and the sidecar gets the JWKS host's cluster", async () => {
    issuer = await startOidcIssuer();
    const spec = {
      targetRefs: [{ kind: "Service", name: "api" }],
      authentication: { jwt: { providers: [{ name: "idp", issuer: issuer.issuer, audiences: ["api"], jwks: { oidcDiscovery: {} } }] } },
      rules: [{ name: "all", match: { pathPrefix: "/" } }],
    };
    const objects = new MemoryObjects({
      policies: [policy({ namespace: "shop", name: "api", created: "2026-01-01T00:00:00Z", spec })],
      services: [service("shop", "api", { app: "api" })],
      pods: [sidecarPod("shop", "api-1", { app: "api" })],
      secrets: [],
    });
    const cache = new SnapshotCache();
    const writer = new RecordingWriter();
    // As wiring.ts does it: a changed discovery result schedules a reconcile.
    const discovery = new DiscoveryBook({ onChange: () => controller?.schedule(), log: silentLog, intervalMs: () => 100, retryMs: 50 });
    controller = new Controller({
      objects,
      writer,
      reports: new MemoryReports(),
      cache,
      leadership: new FixedLeadership(true),
      clock: (): Date => new Date("2026-11-25T12:00:00Z"),
      metrics: new ControllerMetrics(),
      log: silentLog,
      buildSnapshot: realSnapshot,
      debounceMs: 1,
      discovery,
    });
    const resolvedRefs = (): { reason?: string; message?: string } | undefined => writer.statuses.at(-1)?.status.conditions?.find((c) => c.type === "ResolvedRefs");
    const jwksCluster = `jwks/127.0.0.1/${issuer.port}`;
    const hasJwksCluster = (): boolean => cache.getSnapshot("api-1.shop")?.resources.get(XdsType.Cluster)?.has(jwksCluster) === true;

    await controller.start();
    await waitFor("DiscoveryFailed", () => resolvedRefs()?.reason === "DiscoveryFailed");
    expect(resolvedRefs()?.message).toContain("answered 503");
    expect(hasJwksCluster()).toBe(false);

    issuer.pointAt(`${issuer.issuer}/keys/a`);
    await waitFor("ResolvedRefs True", () => resolvedRefs()?.reason === "ResolvedRefs");
    await waitFor("the JWKS host's cluster in the sidecar's snapshot", hasJwksCluster);
  });
});
