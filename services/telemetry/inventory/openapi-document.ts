/**
 * The operations an OpenAPI 3 document declares (JSON or YAML): each path × method, and
 * whether it is `deprecated`. Paths are prefixed with the path of the first server's URL
 * (`servers: [{url: https://api.example.com/v1}]` → `/v1/...`), as OpenAPI resolves them.
 * Pure. A document that cannot be read yields errors, never a throw: the caller shows them.
 */
import { parse } from "yaml";
import { compareStrings } from "../../../common/order.js";
import { errorMessage } from "../../../common/errors.js";
import type { DeclaredEndpoint } from "./declared-routes.js";

const operationMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Operations read from one document at most: a document is input, and the inventory is bounded. */
export const MAX_OPENAPI_OPERATIONS = 5000;

export interface OpenApiRead {
  endpoints: DeclaredEndpoint[];
  errors: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The path part of the first server's URL, without a trailing slash ("" when none). */
function serverBasePath(doc: Record<string, unknown>): string {
  const servers = doc.servers;
  const first: unknown = Array.isArray(servers) ? servers[0] : undefined;
  const url = isObject(first) && typeof first.url === "string" ? first.url : "";
  if (url === "" || url.includes("{")) return "";
  try {
    return new URL(url, "http://server.invalid").pathname.replace(/\/+$/, "");
  } catch {
    return "";
  }
}

function operationsOf(path: string, item: Record<string, unknown>): DeclaredEndpoint[] {
  return operationMethods.flatMap((method) => {
    const op = item[method];
    if (!isObject(op)) return [];
    return [{ method: method.toUpperCase(), path, declaredBy: "openapi", deprecated: op.deprecated === true }];
  });
}

/** Reads the document's operations; `text` is JSON or YAML. Sorted by path, then method. */
export function readOpenApi(text: string): OpenApiRead {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    return { endpoints: [], errors: [`the OpenAPI document is neither JSON nor YAML: ${errorMessage(err)}`] };
  }
  if (!isObject(doc) || typeof doc.openapi !== "string" || !doc.openapi.startsWith("3.")) return { endpoints: [], errors: ["not an OpenAPI 3 document: it needs `openapi: 3.x`"] };
  if (!isObject(doc.paths)) return { endpoints: [], errors: ["the OpenAPI document has no `paths`"] };
  const base = serverBasePath(doc);
  const errors: string[] = [];
  const endpoints: DeclaredEndpoint[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith("/") || !isObject(item)) {
      errors.push(`paths.${path}: a path starts with / and holds operations`);
      continue;
    }
    endpoints.push(...operationsOf(`${base}${path}`, item));
  }
  if (endpoints.length > MAX_OPENAPI_OPERATIONS) errors.push(`the OpenAPI document declares ${endpoints.length} operations; the first ${MAX_OPENAPI_OPERATIONS} are used`);
  return { endpoints: endpoints.sort((a, b) => compareStrings(a.path, b.path) || compareStrings(a.method, b.method)).slice(0, MAX_OPENAPI_OPERATIONS), errors };
}
