import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeReports, SidecarReports, type SidecarReport } from "../../../operator/controller/sidecar-reports.js";
import { adminKubeConfig, uniqueName } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";

/**
 * A replica's record of its sidecars lives in a Lease annotation, which the API server caps at
 * 256 KiB. However many sidecars a replica has, and whatever they send, its writes must go
 * through: a refused write freezes what the leader knows about every sidecar of the replica.
 */
describe("per-replica sidecar reports through the real API server", () => {
  const kc = adminKubeConfig();
  const namespace = uniqueName("reports");
  let reports: SidecarReports | undefined;

  beforeAll(async () => {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterAll(async () => {
    await reports?.stop();
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it("a record of thousands of sidecars with long ids and incompressible errors is written, within the annotation limit, programmed ones kept", async () => {
    const sidecars = new Map<string, SidecarReport>();
    for (let i = 0; i < 4000; i++) {
      const pod = `${randomBytes(120).toString("hex").slice(0, 240)}-${i}`;
      sidecars.set(`${pod}.${"n".repeat(63)}`, { nack: randomBytes(384).toString("base64"), connected: true });
    }
    sidecars.set("api-0.shop", { policy: "shop/api", generation: 4, connected: true });
    reports = new SidecarReports(kc, { namespace, leaseName: "bulwark-controller", identity: "replica-a", debounceMs: 10 }, pino({ level: "silent" }));
    await reports.start(() => new Map(sidecars));
    reports.schedule();
    const api = kc.makeApiClient(CoordinationV1Api);
    const lease = await waitFor(
      "the replica's record written to its Lease",
      async () => {
        const list = await api.listNamespacedLease({ namespace });
        return list.items.find((l) => l.metadata?.annotations?.["bulwark.dev/sidecars"]);
      },
      30_000,
      100,
    );
    const text = lease.metadata?.annotations?.["bulwark.dev/sidecars"] ?? "";
    expect(text.length).toBeLessThan(256 * 1024);
    const back = decodeReports(text);
    expect(back.get("api-0.shop")).toEqual({ policy: "shop/api", generation: 4, connected: true });
    expect(back.size).toBeGreaterThan(100);
  });
});
