import { createHash } from "node:crypto";
import { ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import { namespaceOf, type SecretObject } from "./objects.js";

/** A key: 16 to 256 printable ASCII characters without space or comma (a header sent twice arrives joined by commas, and can then match no key). */
const keyPattern = /^[!-+\--~]{16,256}$/;

export type ApiKeyClients = { ok: true; clients: { name: string; sha256: string }[] } | { ok: false; reason: string; message: string };

/** The SHA-256 of an API key, hex: what translation hands on and what bulwark authz compares. */
export function apiKeyDigest(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * The partner clients of a policy's apiKeys Secret: each data entry a client (its key the name,
 * its value the API key), kept as digests only. Messages name clients, never keys.
 */
export function apiKeyClients(options: { secrets: readonly SecretObject[]; namespace: string; name: string }): ApiKeyClients {
  const { secrets, namespace, name } = options;
  const secret = secrets.find((s) => s.metadata.name === name && namespaceOf(s.metadata) === namespace);
  if (!secret)
    return { ok: false, reason: ResolvedRefsReason.SecretNotFound, message: `Secret ${namespace}/${name} (API keys) not found; every API key is refused until it exists` };
  const entries = new Map<string, string>();
  for (const [client, encoded] of Object.entries(secret.data ?? {})) entries.set(client, Buffer.from(encoded, "base64").toString("utf8"));
  for (const [client, value] of Object.entries(secret.stringData ?? {})) entries.set(client, value);
  if (entries.size === 0)
    return { ok: false, reason: ResolvedRefsReason.InvalidSecret, message: `Secret ${namespace}/${name} (API keys) has no entries; every API key is refused` };
  const clients: { name: string; sha256: string }[] = [];
  const seen = new Map<string, string>();
  for (const [client, key] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!keyPattern.test(key)) {
      return {
        ok: false,
        reason: ResolvedRefsReason.InvalidSecret,
        message: `Secret ${namespace}/${name} (API keys): the key of client ${client} is not 16 to 256 printable ASCII characters without space or comma; every API key is refused`,
      };
    }
    const sha256 = apiKeyDigest(key);
    const other = seen.get(sha256);
    if (other !== undefined) {
      return {
        ok: false,
        reason: ResolvedRefsReason.InvalidSecret,
        message: `Secret ${namespace}/${name} (API keys): clients ${other} and ${client} have the same key; every API key is refused`,
      };
    }
    seen.set(sha256, client);
    clients.push({ name: client, sha256 });
  }
  return { ok: true, clients };
}
