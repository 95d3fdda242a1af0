import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { JwksIR } from "../ir/types.js";
import { JwksCache, JwksUnavailableError } from "./jwks-cache.js";

/**
 * Key resolvers per key set, kept across configuration swaps so remote caches (and their last
 * good keys) survive a policy change that does not touch them.
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
    const key = `${jwks.uri} ${jwks.cacheSeconds}`;
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
}
