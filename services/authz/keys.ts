import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { JwksIR } from "../../contract/ir.js";
import type { RouteTable } from "./config.js";
import { JwksCache, JwksUnavailableError } from "./jwks-cache.js";

/** The key sets the routes of a table verify with (app attestation's; access tokens are Envoy's). */
export function jwksInUse(table: RouteTable): JwksIR[] {
  const sets: JwksIR[] = [];
  for (const route of table.routes.values()) if (route.appAttestation) sets.push(route.appAttestation.jwks);
  return sets;
}

function remoteKey(jwks: Extract<JwksIR, { kind: "remote" }>): string {
  return `${jwks.uri} ${jwks.cacheSeconds}`;
}

/**
 * Key resolvers per key set, kept across configuration swaps so remote caches (and their last
 * good keys) survive a policy change that does not touch them. `retain` forgets the sets the
 * table in use no longer names: each rotation of an inline set would otherwise keep the old text
 * and its parsed keys for the life of the process.
 */
export class KeySets {
  private readonly inline = new Map<string, JWTVerifyGetKey>();
  private readonly remote = new Map<string, JwksCache>();

  constructor(private readonly options: { minRefreshIntervalMs?: number; onError?: (uri: string, error: unknown) => void } = {}) {}

  readonly keys = (jwks: JwksIR): JWTVerifyGetKey => {
    if (jwks.kind === "inline") {
      let resolver = this.inline.get(jwks.jwks);
      if (!resolver) {
        try {
          resolver = createLocalJWKSet(JSON.parse(jwks.jwks) as JSONWebKeySet);
        } catch {
          resolver = (): never => {
            throw new JwksUnavailableError("the inline key set is not usable");
          };
        }
        this.inline.set(jwks.jwks, resolver);
      }
      return resolver;
    }
    const key = remoteKey(jwks);
    let cache = this.remote.get(key);
    if (!cache) {
      cache = new JwksCache({
        uri: jwks.uri,
        cacheSeconds: jwks.cacheSeconds,
        ...(this.options.minRefreshIntervalMs !== undefined ? { minRefreshIntervalMs: this.options.minRefreshIntervalMs } : {}),
        onError: (error) => this.options.onError?.(jwks.uri, error),
      });
      this.remote.set(key, cache);
    }
    return cache.getKey;
  };

  /** Forgets every key set not in `inUse` (call with the sets of the table just swapped in). */
  retain(inUse: readonly JwksIR[]): void {
    const inline = new Set<string>();
    const remote = new Set<string>();
    for (const jwks of inUse) {
      if (jwks.kind === "inline") inline.add(jwks.jwks);
      else remote.add(remoteKey(jwks));
    }
    for (const text of this.inline.keys()) if (!inline.has(text)) this.inline.delete(text);
    for (const key of this.remote.keys()) if (!remote.has(key)) this.remote.delete(key);
  }

  /** Key sets held, by kind. */
  get counts(): { inline: number; remote: number } {
    return { inline: this.inline.size, remote: this.remote.size };
  }
}
