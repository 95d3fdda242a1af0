import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiKeysIR } from "../../contract/ir.js";
import { refuse, type Decision } from "./decision.js";

/** What the backend gets from an accepted key: the client's name in clientHeader, the key header removed. */
export interface ApiKeyAccepted {
  client: string;
  setHeaders: { name: string; value: string }[];
  removeHeaders: string[];
}

/**
 * Finds the partner client whose key the request carries. The presented key is hashed and
 * compared with every client's digest in constant time, all of them whatever matches, so the
 * time taken says nothing about which digest came close. Keys never appear in a refusal or a log.
 */
export function checkApiKey(headers: Readonly<Record<string, string>>, config: ApiKeysIR | undefined): Decision | ApiKeyAccepted {
  if (!config) return refuse(503, "config_not_loaded");
  const presented = headers[config.header];
  if (presented === undefined || presented === "") return refuse(401, "api_key_missing");
  // Longer than any key may be (256): refused before hashing. A header sent twice arrives joined by a comma, which no key has.
  if (presented.length > 256) return refuse(401, "api_key_invalid");
  const digest = createHash("sha256").update(presented, "utf8").digest();
  let client: string | undefined;
  for (const candidate of config.clients) {
    if (timingSafeEqual(digest, Buffer.from(candidate.sha256, "hex")) && client === undefined) client = candidate.name;
  }
  if (client === undefined) return refuse(401, "api_key_invalid");
  return { client, setHeaders: [{ name: config.clientHeader, value: client }], removeHeaders: [config.header] };
}
