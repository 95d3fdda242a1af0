import type { Logger } from "pino";
import { readBounded } from "../../common/bounded-body.js";
import { errorMessage } from "../../common/errors.js";
import type { DiscoveredIssuer, TranslationInput } from "../resolve/objects.js";
import { checkDiscoveryDocument, discoveryUrl, discoveryWants } from "../resolve/oidc-discovery.js";

/** Bounds of one fetch of a discovery document: it comes from outside the cluster. */
export interface DiscoveryFetchLimits {
  timeoutMs: number;
  /** Largest body read; a larger document is refused (real ones are a few KiB). */
  maxBytes: number;
}

export const defaultFetchLimits: DiscoveryFetchLimits = { timeoutMs: 5000, maxBytes: 64 * 1024 };

/**
 * Fetches and checks `issuer`'s discovery document: no redirects (the issuer serves its own
 * configuration), bounded in time and size, issuer matched exactly (checkDiscoveryDocument).
 */
export async function fetchDiscovery(issuer: string, limits: DiscoveryFetchLimits = defaultFetchLimits): Promise<DiscoveredIssuer> {
  const url = discoveryUrl(issuer);
  try {
    const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(limits.timeoutMs), headers: { accept: "application/json" } });
    if (response.status !== 200) {
      await response.body?.cancel();
      const redirect = response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : "";
      return { error: `GET ${url} answered ${response.status}${redirect}` };
    }
    const text = await readBounded(response, limits.maxBytes);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      return { error: `GET ${url} did not return JSON` };
    }
    return checkDiscoveryDocument(issuer, document);
  } catch (error) {
    const cause = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${limits.timeoutMs} ms` : errorMessage(error);
    return { error: `GET ${url} failed: ${cause}` };
  }
}

interface Tracked {
  intervalMs: number;
  /** The last result handed to translation: the last good jwks_uri once there is one. */
  result?: DiscoveredIssuer;
  timer?: NodeJS.Timeout;
  /** Incremented when the issuer stops being wanted, so a fetch in flight is dropped. */
  epoch: number;
}

export interface DiscoveryBookOptions {
  /** Called when a result changes: the owner re-translates. */
  onChange(): void;
  log: Logger;
  fetchDocument?: (issuer: string) => Promise<DiscoveredIssuer>;
  /** How long after a failure the next attempt comes (default 10 s, at most the refresh interval). */
  retryMs?: number;
  /** Refresh interval of an issuer from its providers' cacheDuration in seconds (default: that many seconds). */
  intervalMs?: (seconds: number) => number;
}

/**
 * The I/O edge of OpenID Connect Discovery, for the controller and bulwark authz: fetches the
 * discovery document of every issuer the policies name with jwks.oidcDiscovery, again every
 * refresh interval, and hands translation the results (TranslationInput.oidcDiscovery). A
 * failed refresh keeps the last good jwks_uri; before any success the result is the error, and
 * the provider's tokens are refused.
 */
export class DiscoveryBook {
  private readonly issuers = new Map<string, Tracked>();
  private stopped = false;

  constructor(private readonly options: DiscoveryBookOptions) {}

  /** Follows the issuers wanted now (issuer → refresh interval in seconds): new ones are fetched at once, gone ones forgotten. */
  want(wants: ReadonlyMap<string, number>): void {
    if (this.stopped) return;
    for (const [issuer, tracked] of this.issuers) {
      if (wants.has(issuer)) continue;
      clearTimeout(tracked.timer);
      tracked.epoch += 1;
      this.issuers.delete(issuer);
    }
    for (const [issuer, seconds] of wants) {
      const intervalMs = this.options.intervalMs ? this.options.intervalMs(seconds) : seconds * 1000;
      const tracked = this.issuers.get(issuer);
      if (tracked) {
        tracked.intervalMs = intervalMs;
        continue;
      }
      const fresh: Tracked = { intervalMs, epoch: 0 };
      this.issuers.set(issuer, fresh);
      void this.refresh(issuer, fresh);
    }
  }

  /** `input` with the discovery results of its policies' issuers; those issuers are followed from now on, others forgotten. */
  complete(input: TranslationInput): TranslationInput {
    this.want(discoveryWants(input.policies));
    return { ...input, oidcDiscovery: this.results() };
  }

  /** The current result of every wanted issuer that has been fetched at least once. */
  results(): Record<string, DiscoveredIssuer> {
    const results: Record<string, DiscoveredIssuer> = {};
    for (const [issuer, tracked] of [...this.issuers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (tracked.result) results[issuer] = tracked.result;
    }
    return results;
  }

  private async refresh(issuer: string, tracked: Tracked): Promise<void> {
    const epoch = tracked.epoch;
    const fetched = await (this.options.fetchDocument ?? fetchDiscovery)(issuer);
    if (this.stopped || tracked.epoch !== epoch || this.issuers.get(issuer) !== tracked) return;
    const previous = tracked.result;
    const failed = "error" in fetched;
    if (failed && previous && "jwksUri" in previous) {
      this.options.log.warn({ issuer, error: fetched.error, jwksUri: previous.jwksUri }, "OpenID Connect Discovery failed; keeping the last jwks_uri");
    } else {
      tracked.result = fetched;
      if (JSON.stringify(previous) !== JSON.stringify(fetched)) {
        if (failed) this.options.log.warn({ issuer, error: fetched.error }, "OpenID Connect Discovery failed; the issuer's tokens are refused");
        else this.options.log.info({ issuer, jwksUri: fetched.jwksUri }, "OpenID Connect Discovery found a jwks_uri");
        this.options.onChange();
      }
    }
    const delay = failed ? Math.min(this.options.retryMs ?? 10_000, tracked.intervalMs) : tracked.intervalMs;
    tracked.timer = setTimeout(() => void this.refresh(issuer, tracked), delay);
    tracked.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const tracked of this.issuers.values()) clearTimeout(tracked.timer);
    this.issuers.clear();
  }
}
