import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

/** The issuer's keys could not be fetched and none were fetched before. */
export class JwksUnavailableError extends Error {}

export interface JwksCacheOptions {
  uri: string;
  /** How long fetched keys are used before they are fetched again. */
  cacheSeconds: number;
  /** Least time between two fetches, whatever asks for them (unknown `kid`, stale keys). */
  minRefreshIntervalMs?: number;
  fetchTimeoutMs?: number;
  now?: () => number;
  fetchJwks?: (uri: string, timeoutMs: number) => Promise<unknown>;
  onError?: (error: unknown) => void;
}

async function defaultFetch(uri: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" }, redirect: "error" });
  if (!response.ok) throw new Error(`JWKS ${uri} answered ${response.status}`);
  return response.json();
}

function isKeySet(value: unknown): value is JSONWebKeySet {
  return typeof value === "object" && value !== null && Array.isArray((value as { keys?: unknown }).keys);
}

/**
 * A remote JWKS with caching: keys are fetched when missing or stale and again when a token names
 * an unknown `kid`, at most once per `minRefreshIntervalMs`; when the issuer is down, the last
 * good keys stay in use. Key parsing and selection are jose's (createLocalJWKSet).
 */
export class JwksCache {
  private local: JWTVerifyGetKey | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly minRefreshIntervalMs: number;
  fetches = 0;

  constructor(private readonly options: JwksCacheOptions) {
    this.now = options.now ?? Date.now;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 10_000;
  }

  private mayRefresh(): boolean {
    return this.now() - this.lastAttempt >= this.minRefreshIntervalMs;
  }

  private refresh(): Promise<void> {
    this.inflight ??= (async (): Promise<void> => {
      this.lastAttempt = this.now();
      this.fetches += 1;
      try {
        const body = await (this.options.fetchJwks ?? defaultFetch)(this.options.uri, this.options.fetchTimeoutMs ?? 5000);
        if (!isKeySet(body)) throw new Error(`JWKS ${this.options.uri} is not a key set`);
        this.local = createLocalJWKSet(body);
        this.fetchedAt = this.now();
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** A key resolver for jose's jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const stale = this.now() - this.fetchedAt > this.options.cacheSeconds * 1000;
    if ((this.local === undefined || stale) && this.mayRefresh()) await this.refresh();
    const local = this.local;
    if (local === undefined) throw new JwksUnavailableError(`no keys from ${this.options.uri}`);
    try {
      return await local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || !this.mayRefresh()) throw error;
      await this.refresh();
      return (this.local ?? local)(header, token);
    }
  };
}
