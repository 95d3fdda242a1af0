import { parseAllDocuments } from "yaml";
import { apiVersion as policyApiVersion, kind as policyKind } from "../api/v1alpha1/policy.js";
import type { PodObject, SecretObject, ServiceObject, TranslationInput } from "../resolve/objects.js";

export const readableKinds = [policyKind, "Service", "Pod", "Secret", "Namespace", "List"] as const;

export interface ReadProblem {
  source: string;
  message: string;
}

export interface ReadResult {
  input: Omit<TranslationInput, "now">;
  problems: ReadProblem[];
}

function emptyInput(): Omit<TranslationInput, "now"> {
  return { policies: [], services: [], pods: [], secrets: [] };
}

function add(input: Omit<TranslationInput, "now">, object: unknown, source: string, problems: ReadProblem[]): void {
  if (object === null || typeof object !== "object") {
    problems.push({ source, message: "is not a Kubernetes object (expected a mapping with apiVersion, kind and metadata)" });
    return;
  }
  const { kind, apiVersion, metadata } = object as { kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown } };
  if (kind === "List") {
    for (const [i, item] of ((object as { items?: unknown[] }).items ?? []).entries()) add(input, item, `${source} item ${i}`, problems);
    return;
  }
  if (typeof metadata?.name !== "string") {
    problems.push({ source, message: `${String(kind)} has no metadata.name` });
    return;
  }
  switch (kind) {
    case policyKind:
      if (apiVersion !== policyApiVersion) problems.push({ source, message: `APISecurityPolicy ${metadata.name}: apiVersion must be ${policyApiVersion}` });
      else input.policies.push(object);
      return;
    case "Service":
      input.services.push(object as ServiceObject);
      return;
    case "Pod":
      input.pods.push(object as PodObject);
      return;
    case "Secret":
      input.secrets.push(object as SecretObject);
      return;
    case "Namespace":
      return; // accepted with the rest of a manifest; translation reads no Namespace
    default:
      problems.push({ source, message: `unsupported kind ${String(kind)} (allowed: ${readableKinds.join(", ")})` });
  }
}

/** Reads Kubernetes objects from YAML or JSON texts (several documents each) into translation input. */
export function readObjects(files: readonly { path: string; text: string }[]): ReadResult {
  const input = emptyInput();
  const problems: ReadProblem[] = [];
  for (const file of files) {
    const documents = parseAllDocuments(file.text);
    const list = Array.isArray(documents) ? documents : [documents];
    for (const [i, doc] of list.entries()) {
      const source = `${file.path}#${i + 1}`;
      if (doc.errors.length > 0) {
        problems.push({ source, message: `is not valid YAML: ${doc.errors[0]?.message ?? "parse error"}` });
        continue;
      }
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      add(input, value, source, problems);
    }
  }
  return { input, problems };
}
