/**
 * The APIInventory CRD in the real API server: the generated schema is accepted, an object
 * built by the pure pipeline (endpoint table → classification → inventoryResource) is created,
 * its status written through the status subresource and read back unchanged, and
 * `kubectl get apiinventories` shows the class counts.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { policySpec } from "../../../operator/api/v1alpha1/policy.js";
import { buildRoutes } from "../../../operator/ir/build-routes.js";
import { deprecationWindows } from "../../../operator/ir/deprecations.js";
import { classifyWorkload } from "../../../services/telemetry/inventory/classify.js";
import { declaredByRoutes, declaredTemplates } from "../../../services/telemetry/inventory/declared-routes.js";
import { EndpointTable } from "../../../services/telemetry/inventory/endpoint-table.js";
import { inventoryResource } from "../../../services/telemetry/inventory/inventory-resource.js";
import { installCrds } from "../../support/crds.js";
import { uniqueName } from "../../support/environment.js";
import { kubectl } from "../../support/kubectl.js";

const namespaces: string[] = [];
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bulwark-inventory-crd-"));
  await installCrds();
});

afterAll(async () => {
  await Promise.all(namespaces.map((ns) => kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => undefined)));
});

function table(output: string): string[][] {
  return output
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s{2,}/));
}

/** An inventory from traffic on a small policy: documented, shadow, zombie and unused endpoints. */
function inventoryOf(namespace: string, policy: { metadata: { name: string; namespace: string; uid: string; generation: number } }): ReturnType<typeof inventoryResource> {
  const name = `apisecuritypolicy/${namespace}/shop`;
  const workload = `${name}/ports/15006-8080`;
  const spec = policySpec.parse({
    targetRefs: [{ kind: "Service", name: "shop-api" }],
    rules: [
      { name: "orders", match: { pathTemplate: "/v1/orders/{id}", methods: ["GET"] }, authentication: "None" },
      { name: "profile", match: { path: "/v1/profile", methods: ["GET"] }, authentication: "None" },
      { name: "legacy", match: { pathPrefix: "/v0/", methods: ["GET"] }, authentication: "None" },
    ],
    mobile: { deprecations: [{ pathPrefix: "/v0/", deprecatedAt: "2026-01-01", sunsetAt: "2027-06-01" }] },
  });
  const routes = buildRoutes(name, spec, deprecationWindows(spec.mobile?.deprecations, "2026-12-03T00:00:00Z"), namespace);
  const table = new EndpointTable();
  table.declare(workload, declaredTemplates(declaredByRoutes(routes)));
  const entry = (route: string, path: string, status: number, appVersion: string): TelemetryEntry => ({
    workload,
    route: `${name}/${route}`,
    method: "GET",
    path,
    status,
    authenticated: status < 400,
    appVersion,
    clientAddress: "10.1.2.3",
    timeMs: Date.parse("2026-12-03T10:00:00Z"),
    latencyMs: 2,
    requestBytes: 0,
    responseBytes: 100,
  });
  for (let i = 0; i < 20; i++) table.observe(entry("rule/orders", `/v1/orders/${1000 + i}`, 200, "4.2.0"));
  table.observe(entry("rule/legacy", "/v0/cart", 200, "3.9.1"));
  table.observe(entry("default", "/admin/export", 404, "4.2.0"));
  const classified = classifyWorkload({ observed: table.snapshot()[0]!, routes });
  return inventoryResource([classified], policy, { updatedAt: "2026-12-03T12:00:00Z" });
}

describe("the APIInventory CRD in the real API server", () => {
  it("stores an inventory built from traffic, status through the subresource, and kubectl get shows its counts", async () => {
    const namespace = uniqueName("inventory");
    await kubectl(["create", "namespace", namespace]);
    namespaces.push(namespace);
    // The owner: a policy in the same namespace, so the inventory goes when the policy goes.
    const policyFile = join(dir, "policy.json");
    await writeFile(
      policyFile,
      JSON.stringify({
        apiVersion: "bulwark.dev/v1alpha1",
        kind: "APISecurityPolicy",
        metadata: { name: "shop", namespace },
        spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], apiInventory: { openAPI: { url: "http://shop-api.shop.svc:8080/openapi.json" } } },
      }),
    );
    const created = JSON.parse((await kubectl(["create", "--filename", policyFile, "--output=json"])).stdout) as {
      metadata: { name: string; namespace: string; uid: string; generation: number };
    };

    const inventory = inventoryOf(namespace, created);
    expect(inventory.status.summary).toMatchObject({ documented: 1, shadow: 1, zombie: 1, unused: 1 });
    const file = join(dir, "inventory.json");
    await writeFile(file, JSON.stringify(inventory));
    await kubectl(["create", "--filename", file]);
    await kubectl(["patch", "apiinventory", "shop", "--namespace", namespace, "--subresource=status", "--type=merge", "--patch", JSON.stringify({ status: inventory.status })]);

    const stored = JSON.parse((await kubectl(["get", "apiinventories.bulwark.dev", "shop", "--namespace", namespace, "--output=json"])).stdout) as typeof inventory & {
      metadata: { ownerReferences: { uid: string }[] };
    };
    expect(stored.status).toEqual(inventory.status);
    expect(stored.metadata.ownerReferences[0]?.uid).toBe(created.metadata.uid);

    const [header, row, ...rest] = table((await kubectl(["get", "apiinv", "--namespace", namespace])).stdout);
    expect(header).toEqual(["NAME", "DOCUMENTED", "SHADOW", "ZOMBIE", "UNUSED", "REQUESTS", "UPDATED", "AGE"]);
    expect(row?.slice(0, 6)).toEqual(["shop", "1", "1", "1", "1", "22"]);
    expect(rest).toEqual([]);
  });

  it("refuses a status the schema does not allow", async () => {
    const namespace = uniqueName("inventory-bad");
    await kubectl(["create", "namespace", namespace]);
    namespaces.push(namespace);
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ apiVersion: "bulwark.dev/v1alpha1", kind: "APIInventory", metadata: { name: "x", namespace } }));
    await kubectl(["create", "--filename", file]);
    const bad = { summary: { documented: -1, shadow: 0, zombie: 0, unused: 0, observed: 0, dropped: 0, omitted: 0 }, workloads: [], updatedAt: "now" };
    await expect(
      kubectl(["patch", "apiinventory", "x", "--namespace", namespace, "--subresource=status", "--type=merge", "--patch", JSON.stringify({ status: bad })]),
    ).rejects.toThrow(/status.summary.documented: Invalid value: -1: summary.documented in body should be greater than or equal to 0/);
  });
});
