import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../contract/telemetry.js";
import { policy, service, sidecarPod, jwtAuthentication } from "../../operator/testdata/objects.js";
import { translate } from "../../operator/translate/translate.js";
import { silentLog } from "../../test/support/controller-fakes.js";
import { MemoryAdaptiveStore } from "../adaptive/store.js";
import type { APIInventoryObject } from "./inventory/inventory-resource.js";
import type { TrafficStatus } from "./kubernetes-reporter.js";
import { EVENT_INTERVAL_MS, TelemetryReporting } from "./reporting.js";
import type { SignalKubernetesEvent } from "./signals/output.js";

/** What the reporter would have written to the API server (the boundary of this unit). */
class RecordingWriter {
  readonly inventories: APIInventoryObject[] = [];
  readonly traffic: { policy: string; traffic: TrafficStatus }[] = [];
  readonly events: { policy: string; event: SignalKubernetesEvent }[] = [];

  policyUid(): Promise<string | undefined> {
    return Promise.resolve("uid-1");
  }
  writeInventory(object: APIInventoryObject): Promise<boolean> {
    this.inventories.push(object);
    return Promise.resolve(true);
  }
  writeTraffic(namespace: string, name: string, traffic: TrafficStatus): Promise<boolean> {
    this.traffic.push({ policy: `${namespace}/${name}`, traffic });
    return Promise.resolve(true);
  }
  signalEvent(namespace: string, name: string, _uid: string | undefined, event: SignalKubernetesEvent): Promise<void> {
    this.events.push({ policy: `${namespace}/${name}`, event });
    return Promise.resolve();
  }
  configMapKey(): Promise<{ error: string }> {
    return Promise.resolve({ error: "none" });
  }
}

const SPEC = {
  targetRefs: [{ kind: "Service", name: "shop-api" }],
  authentication: jwtAuthentication,
  telemetry: {},
  rules: [
    { name: "login", match: { methods: ["POST"], path: "/v1/login" }, authentication: "None", purpose: "Login" },
    { name: "orders", match: { pathTemplate: "/v1/orders/{id}" } },
  ],
  adaptiveResponse: { rules: [{ signal: "CredentialStuffing", identity: "ClientAddress", action: "Block", duration: "15m" }] },
};

function setup(now: { ms: number }): { reporting: TelemetryReporting; writer: RecordingWriter; store: MemoryAdaptiveStore; workload: string } {
  const translation = translate({
    policies: [policy({ name: "shop-api", created: "2026-01-01T00:00:00Z", spec: SPEC })],
    services: [service("shop", "shop-api", { app: "shop" })],
    pods: [sidecarPod("shop", "shop-0", { app: "shop" })],
    secrets: [],
    now: "2026-12-03T12:00:00Z",
  });
  const workload = translation.ir.workloads.find((w) => w.policy)?.name;
  if (!workload) throw new Error("the policy governs no workload");
  const writer = new RecordingWriter();
  const store = new MemoryAdaptiveStore(() => now.ms);
  const reporting = new TelemetryReporting({ log: silentLog, registry: new Registry(), kubernetes: writer, adaptive: store, now: () => now.ms });
  reporting.configure(translation);
  return { reporting, writer, store, workload };
}

function entry(workload: string, over: Partial<TelemetryEntry>): TelemetryEntry {
  return {
    workload,
    route: "",
    method: "GET",
    path: "/",
    status: 200,
    authenticated: false,
    clientAddress: "198.51.100.7",
    timeMs: 0,
    latencyMs: 1,
    requestBytes: 0,
    responseBytes: 10,
    ...over,
  };
}

describe("bulwark telemetry's reports", () => {
  it("acts on a signal through the policy's adaptive rules, records one Event a minute, and sums it all up in status.traffic", async () => {
    const now = { ms: Date.parse("2026-12-03T12:00:00Z") };
    const { reporting, writer, store, workload } = setup(now);
    const login = `apisecuritypolicy/shop/shop-api/rule/login`;
    // Credential stuffing from one address: failed logins for many accounts, a few per second.
    const attack = Array.from({ length: 200 }, (_, i) =>
      entry(workload, {
        route: login,
        method: "POST",
        path: "/v1/login",
        status: 401,
        reason: "invalid_credentials",
        device: `d-${i}`,
        timeMs: now.ms + i * 100,
        clientAddress: "203.0.113.9",
      }),
    );
    const browsing = Array.from({ length: 50 }, (_, i) =>
      entry(workload, { route: "apisecuritypolicy/shop/shop-api/rule/orders", path: `/v1/orders/${i}`, authenticated: true, subject: `u${i}`, timeMs: now.ms + i * 400 }),
    );
    reporting.sink([...browsing, ...attack].sort((a, b) => a.timeMs - b.timeMs));
    await reporting.settle();

    const blocked = await store.list({ namespace: "shop", name: "shop-api" }, now.ms);
    expect(blocked.map((a) => [a.identity.kind, a.identity.value, a.action, a.signal])).toEqual([["ClientAddress", "203.0.113.9", "Block", "CredentialStuffing"]]);
    expect(writer.events.map((e) => [e.policy, e.event.reason])).toEqual([["shop/shop-api", "CredentialStuffing"]]);

    // More of the attack within the minute: no second Event; after it, one more.
    reporting.sink(attack.map((e) => ({ ...e, timeMs: e.timeMs + 30_000, clientAddress: "203.0.113.10" })));
    await reporting.settle();
    expect(writer.events).toHaveLength(1);
    now.ms += EVENT_INTERVAL_MS;
    reporting.sink(attack.map((e) => ({ ...e, timeMs: e.timeMs + 90_000, clientAddress: "203.0.113.11" })));
    await reporting.settle();
    expect(writer.events).toHaveLength(2);

    await reporting.report();
    const [inventory] = writer.inventories;
    expect(inventory?.metadata).toMatchObject({ name: "shop-api", namespace: "shop", ownerReferences: [{ uid: "uid-1", kind: "APISecurityPolicy" }] });
    const paths = inventory?.status.workloads.flatMap((w) => w.endpoints.map((e) => `${e.method} ${e.path} ${e.class}`));
    expect(paths).toEqual(["POST /v1/login documented", "GET /v1/orders/{id} documented"]);
    const traffic = writer.traffic[0]?.traffic;
    expect(traffic).toMatchObject({ documented: 2, shadow: 0, zombie: 0, unused: 0, blocked: 3, shadowActions: 0 });
    expect(traffic?.signals?.map((s) => s.kind)).toEqual(["CredentialStuffing"]);

    // Nothing changed: status.traffic is not written again.
    await reporting.report();
    expect(writer.traffic).toHaveLength(1);
  });

  it("keeps what it learned across a restart (the analysis restored from what it saved)", () => {
    const now = { ms: Date.parse("2026-12-03T12:00:00Z") };
    const first = setup(now);
    first.reporting.sink([entry(first.workload, { path: "/internal/debug", route: "apisecuritypolicy/shop/shop-api/default", status: 404, timeMs: now.ms })]);
    const saved = JSON.stringify(first.reporting.analysis.state());
    const second = setup(now);
    expect(second.reporting.analysis.restore(saved)).toEqual([]);
    const shadow = second.reporting.analysis.inventories().flatMap((w) => w.endpoints.filter((e) => e.class === "shadow").map((e) => e.path));
    expect(shadow).toEqual(["/internal/debug"]);
    expect(second.reporting.analysis.restore("{")).toEqual(["the stored analysis is not JSON"]);
  });
});
