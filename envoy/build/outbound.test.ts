import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { render } from "../../operator/translate/render.js";
import { readObjects } from "../../operator/translate/read-objects.js";
import { goldenDir, goldenNow, goldenSettings } from "../../operator/translate/golden-cases.js";
import { defaultSettings } from "../../operator/translate/render.js";
import type { JsonObject } from "../json.js";
import { OUTBOUND } from "./outbound.js";

function meshInput(): Parameters<typeof render>[0] {
  const path = join(goldenDir, "mesh-outbound.in.yaml");
  return { ...readObjects([{ path, text: readFileSync(path, "utf8") }]).input, now: goldenNow };
}

describe("egress proxy (mesh identity enabled)", () => {
  const rendered = render(meshInput(), goldenSettings("mesh-outbound"));
  const ALL = "apisecuritypolicy/shop/orders/ports/15006-8080/egress/*";
  const workload = (r: typeof rendered, name: string): (typeof rendered.workloads)[number] | undefined => r.workloads.find((w) => w.workload === name);

  it("is absent without mesh identity", () => {
    const plain = render(meshInput(), defaultSettings);
    expect(plain.ir.mesh).toBeUndefined();
    for (const w of plain.workloads) {
      expect(w.resources.listeners.map((l) => l.name)).toEqual(["inbound"]);
      expect(w.resources.clusters.some((c) => c.name.startsWith("outbound/"))).toBe(false);
    }
  });

  it("only pods annotated for the egress proxy get it, with the Services of their scope only", () => {
    const names = (w: (typeof rendered.workloads)[number] | undefined, type: "clusters" | "endpoints"): string[] =>
      (w?.resources[type] ?? []).map((c) => c.name).filter((n) => n.startsWith("outbound/"));
    const without = rendered.workloads.find((w) => w.sidecars.includes("mixed-2.shop"));
    expect(without?.resources.listeners.map((l) => l.name)).toEqual(["inbound"]);
    expect(names(without, "clusters")).toEqual([]);
    const narrowed = rendered.workloads.find((w) => w.sidecars.includes("mixed-1.shop"));
    expect(names(narrowed, "clusters")).toEqual(["outbound/shop/orders"]);
    expect(names(narrowed, "endpoints")).toEqual(["outbound/shop/orders"]);
    const hosts = (narrowed?.resources.routes.find((r) => r.name === OUTBOUND.routeConfiguration)?.resource as { virtual_hosts: { name: string }[] }).virtual_hosts.map(
      (v) => v.name,
    );
    expect(hosts).toEqual(["outbound/shop/orders", OUTBOUND.unknownHost]);
    expect(names(workload(rendered, ALL), "clusters")).toEqual(["outbound/billing/invoices", "outbound/shop/catalog", "outbound/shop/mixed", "outbound/shop/orders"]);
  });

  it("listens on loopback at the pod's egress port and routes unknown hosts to a 404, never to a wildcard cluster", () => {
    for (const w of rendered.workloads.filter((x) => x.resources.listeners.some((l) => l.name === OUTBOUND.listener))) {
      const listener = w.resources.listeners.find((l) => l.name === OUTBOUND.listener)?.resource as { address: { socket_address: { address: string; port_value: number } } };
      expect(listener.address.socket_address.address).toBe("127.0.0.1");
      expect(listener.address.socket_address.port_value).toBe(w.workload.includes("-15101/") ? 15101 : 15001);
      const routes = w.resources.routes.find((r) => r.name === OUTBOUND.routeConfiguration)?.resource as {
        virtual_hosts: { name: string; domains: string[]; routes: JsonObject[] }[];
      };
      const last = routes.virtual_hosts[routes.virtual_hosts.length - 1];
      expect(last?.domains).toEqual(["*"]);
      expect(JSON.stringify(last?.routes)).toContain('"status":404');
      expect(JSON.stringify(last?.routes)).not.toContain("cluster");
      // Every cluster a route names exists, and only mesh Services have one.
      const named = routes.virtual_hosts.flatMap((v) => v.routes.map((r) => (r.route as { cluster?: string } | undefined)?.cluster)).filter((c) => c !== undefined);
      expect(named.sort()).toEqual(w.resources.clusters.filter((c) => c.name.startsWith("outbound/")).map((c) => c.name));
    }
  });

  it("bare Service names resolve in the caller's namespace only", () => {
    const billing = rendered.workloads.find((w) => w.workload.startsWith("passthrough/billing/"));
    const shop = workload(rendered, ALL);
    const domains = (w: typeof billing): string[] =>
      ((w?.resources.routes.find((r) => r.name === OUTBOUND.routeConfiguration)?.resource as { virtual_hosts: { domains: string[] }[] }).virtual_hosts ?? []).flatMap(
        (v) => v.domains,
      );
    expect(domains(billing)).toContain("invoices");
    expect(domains(billing)).not.toContain("orders");
    expect(domains(shop)).toContain("orders:8081");
    expect(domains(shop)).toContain("orders.shop.svc.cluster.local");
    expect(domains(shop)).not.toContain("invoices");
  });

  it("mTLS with the caller's own certificate and the destination's SPIFFE ids, TLS 1.3 when the destination asks, plaintext to plaintext sidecars", () => {
    const clusters = new Map(workload(rendered, ALL)?.resources.clusters.map((c) => [c.name, JSON.stringify(c.resource)]));
    const orders = clusters.get("outbound/shop/orders") ?? "";
    expect(orders).toContain('"name":"workload-cert"');
    expect(orders).toContain('"validation_context_sds_secret_config":{"name":"trust-bundle"');
    expect(orders).toContain("spiffe://cluster.local/ns/shop/sa/orders-canary");
    expect(orders).toContain('"tls_minimum_protocol_version":"TLSv1_3"');
    expect(clusters.get("outbound/shop/catalog")).not.toContain("transport_socket");
    expect(clusters.get("outbound/shop/mixed")).toContain("transport_socket_matches");
    expect(JSON.parse(clusters.get("outbound/shop/mixed") ?? "{}")).not.toHaveProperty("transport_socket");
  });

  it("shares the mesh's clusters between sidecars instead of building a copy each", () => {
    const [a, b] = [workload(rendered, ALL), rendered.workloads.find((w) => w.sidecars.includes("mixed-1.shop"))];
    const cluster = (w: typeof a): unknown => w?.resources.clusters.find((c) => c.name === "outbound/shop/orders")?.resource;
    expect(cluster(a)).toBeDefined();
    expect(cluster(a)).toBe(cluster(b));
  });

  it("keeps a Service's objects from one mesh to the next while it is unchanged (nothing to encode again)", () => {
    const input = meshInput();
    const first = render(input, goldenSettings("mesh-outbound"));
    const moved = structuredClone(input);
    const pod = moved.pods.find((p) => p.metadata.name === "catalog-1");
    if (!pod?.status) throw new Error("no catalog-1");
    pod.status.podIP = "10.0.0.99";
    const second = render(moved, goldenSettings("mesh-outbound"));
    const byName = (r: typeof first, name: string): unknown => workload(r, ALL)?.resources.endpoints.find((e) => e.name === name)?.resource;
    expect(byName(second, "outbound/shop/orders")).toBe(byName(first, "outbound/shop/orders"));
    expect(byName(second, "outbound/shop/catalog")).not.toBe(byName(first, "outbound/shop/catalog"));
    expect(JSON.stringify(byName(second, "outbound/shop/catalog"))).toContain("10.0.0.99");
  });
});
