/**
 * The observed API as an OpenAPI 3.1 document: every endpoint that was called (not the unused
 * ones), with its path parameters, the status classes it answered (`2XX`…), `deprecated` for
 * zombies and the inventory's figures as `x-bulwark-*` extensions. Pure and deterministic:
 * the same inventory gives the same document, keys in a stable order.
 */
import type { InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { compareStrings } from "../../../common/order.js";

type JsonObject = Record<string, unknown>;

const exportedMethods = new Set(["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"]);

/** Path variables renamed so that each is unique in its path: `{param}`, `{param2}`…; declared names are kept. */
export function exportPath(path: string): { path: string; parameters: string[] } {
  const parameters: string[] = [];
  const out = path.replace(/\{([^{}/]+)\}/g, (_, name: string) => {
    let unique = name;
    for (let i = 2; parameters.includes(unique); i++) unique = `${name}${i}`;
    parameters.push(unique);
    return `{${unique}}`;
  });
  return { path: out, parameters };
}

function operation(e: InventoryEndpoint, parameters: string[]): JsonObject {
  const responses = Object.fromEntries(
    Object.keys(e.statuses)
      .filter((s) => s !== "0")
      .sort(compareStrings)
      .map((s) => [s.toUpperCase(), { description: `Observed ${e.statuses[s]} time(s).` }]),
  );
  return {
    ...(e.class === "zombie" ? { deprecated: true } : {}),
    ...(parameters.length > 0 ? { parameters: parameters.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })) } : {}),
    responses: Object.keys(responses).length > 0 ? responses : { default: { description: "No response was observed." } },
    "x-bulwark-class": e.class,
    "x-bulwark-count": e.count,
    "x-bulwark-authenticated": e.authenticated,
    "x-bulwark-app-versions": e.appVersions,
    ...(e.firstSeen !== undefined ? { "x-bulwark-first-seen": e.firstSeen } : {}),
    ...(e.lastSeen !== undefined ? { "x-bulwark-last-seen": e.lastSeen } : {}),
    ...(e.declaredBy !== undefined ? { "x-bulwark-declared-by": e.declaredBy } : {}),
  };
}

/** The observed API of a policy's workloads (their inventories) as an OpenAPI 3.1 document. */
export function exportOpenApi(inventories: readonly WorkloadInventory[], info: { title: string; version: string }): JsonObject {
  const paths = new Map<string, Map<string, JsonObject>>();
  // The same endpoint on two ports of one policy: the busier one describes it (then the first in a fixed order).
  const endpoints = inventories
    .flatMap((inv) => inv.endpoints)
    .filter((e) => e.class !== "unused" && exportedMethods.has(e.method))
    .sort((a, b) => b.count - a.count || compareStrings(JSON.stringify(a), JSON.stringify(b)));
  for (const e of endpoints) {
    const { path, parameters } = exportPath(e.path);
    const item = paths.get(path) ?? new Map<string, JsonObject>();
    paths.set(path, item);
    if (!item.has(e.method.toLowerCase())) item.set(e.method.toLowerCase(), operation(e, parameters));
  }
  const sortedPaths = [...paths.keys()].sort(compareStrings);
  return {
    openapi: "3.1.0",
    info: {
      title: info.title,
      version: info.version,
      description: "Endpoints Bulwark observed in traffic; x-bulwark-class says how each compares with what the policy and the service's document declare.",
    },
    paths: Object.fromEntries(sortedPaths.map((p) => [p, Object.fromEntries([...paths.get(p)!].sort(([a], [b]) => compareStrings(a, b)))])),
  };
}
