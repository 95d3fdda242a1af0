import { parse } from "yaml";
import { errorMessage } from "../common/errors.js";

/**
 * An OpenAPI 3.x document as the probe uses it: the paths the app documents (each with its
 * methods) and the example values of their path parameters. Only what the checks need is read;
 * the rest of the document is not validated.
 */

export interface OpenApiPath {
  /** The path as the document writes it, e.g. `/v1/users/{userId}/orders`. */
  template: string;
  /** Upper-case HTTP methods the document gives the path (GET when it gives none). */
  methods: string[];
  /** Example values of each path parameter (`example`, then `examples.*.value`, then `schema.example`). */
  examples: Record<string, string[]>;
}

export interface OpenApiDocument {
  source: string;
  version: string;
  paths: OpenApiPath[];
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A parameter, following a local `$ref` (`#/components/parameters/...`) once. */
function parameter(doc: Json, p: unknown): Json | undefined {
  if (!isObject(p)) return undefined;
  const ref = p.$ref;
  if (typeof ref !== "string") return p;
  const m = /^#\/components\/parameters\/([^/]+)$/.exec(ref);
  const components = isObject(doc.components) ? doc.components : {};
  const parameters = isObject(components.parameters) ? components.parameters : {};
  const found = m?.[1] !== undefined ? parameters[decodeURIComponent(m[1].replace(/~1/g, "/").replace(/~0/g, "~"))] : undefined;
  return isObject(found) ? found : undefined;
}

function scalar(v: unknown): string | undefined {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

/** The example values of one path parameter, in the order the document gives them. */
function examplesOf(p: Json): string[] {
  const out: string[] = [];
  const push = (v: unknown): void => {
    const s = scalar(v);
    if (s !== undefined && s !== "" && !out.includes(s)) out.push(s);
  };
  push(p.example);
  if (isObject(p.examples)) for (const e of Object.values(p.examples)) if (isObject(e)) push(e.value);
  if (isObject(p.schema)) push(p.schema.example);
  return out;
}

function pathParameters(doc: Json, lists: unknown[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const raw of list) {
      const p = parameter(doc, raw);
      if (!p || p.in !== "path" || typeof p.name !== "string") continue;
      const values = examplesOf(p);
      if (values.length > 0) out[p.name] = [...new Set([...(out[p.name] ?? []), ...values])];
    }
  }
  return out;
}

/** Reads an OpenAPI 3.x document (JSON or YAML); `source` names it in errors. */
export function readOpenApi(text: string, source: string): OpenApiDocument {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new Error(`${source} is neither JSON nor YAML: ${errorMessage(error)}`);
  }
  if (!isObject(doc)) throw new Error(`${source} is not an OpenAPI 3 document (not a mapping)`);
  const version = scalar(doc.openapi);
  if (version === undefined) throw new Error(`${source} is not an OpenAPI 3 document (no openapi field${doc.swagger !== undefined ? "; Swagger 2 is not read" : ""})`);
  if (!/^3\.\d+(\.\d+)?/.test(version)) throw new Error(`${source} is not an OpenAPI 3 document (openapi: ${version})`);
  if (!isObject(doc.paths) || Object.keys(doc.paths).length === 0) throw new Error(`${source} declares no paths`);
  const paths: OpenApiPath[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!template.startsWith("/")) throw new Error(`${source}: path ${JSON.stringify(template)} does not start with /`);
    if (!isObject(item)) throw new Error(`${source}: path ${template} is not a mapping`);
    const operations = METHODS.filter((m) => isObject(item[m]));
    const lists = [item.parameters, ...operations.map((m) => (item[m] as Json).parameters)];
    paths.push({ template, methods: operations.length > 0 ? operations.map((m) => m.toUpperCase()) : ["GET"], examples: pathParameters(doc, lists) });
  }
  return { source, version, paths };
}

/** A concrete path of a documented template: each parameter its first example (else from `values`, else `probe-1`). */
export function documentedPath(p: OpenApiPath, values: Record<string, string> = {}): string {
  return p.template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? p.examples[name]?.[0] ?? "probe-1"));
}
