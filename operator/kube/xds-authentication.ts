/**
 * Authenticates sidecars' ADS streams with Kubernetes: a sidecar presents a projected
 * ServiceAccount token with Bulwark's audience, bound to its pod; the API server checks it
 * (TokenReview) and says which ServiceAccount and pod it belongs to. Reviews are cached by the
 * token's hash until shortly before the token expires, in a bounded cache.
 */
import { AuthenticationV1Api, type KubeConfig, type V1TokenReviewStatus } from "@kubernetes/client-node";
import { decodeJwt } from "jose";
import { createHash } from "node:crypto";
import type { Authentication, StreamAuthenticator } from "../../envoy/xds/stream-auth.js";

/** The audience of the tokens sidecars present: Bulwark's own, so no other token is accepted. */
export const XDS_TOKEN_AUDIENCE = "bulwark.dev/xds";
/** Where the API server puts a bound token's pod in TokenReview's user.extra. */
export const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
export const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";

export type ReviewToken = (token: string, audience: string) => Promise<V1TokenReviewStatus>;

export interface TokenReviewAuthenticatorOptions {
  review: ReviewToken;
  audience?: string;
  /** Cached reviews at most (default 10,000); the oldest go first. */
  maxEntries?: number;
  /** A token stops being served from the cache this long before it expires (default 30 s). */
  expiryMarginMs?: number;
  /** Longest a review is trusted without asking again (default 5 min): a deleted pod's token stops working by then. */
  maxCacheMs?: number;
  /** How long a refusal is remembered, so a client retrying a bad token does not load the API server (default 5 s). */
  refusalCacheMs?: number;
  clock?: () => number;
}

interface Entry {
  result: Authentication;
  until: number;
}

/** TokenReview through the API server, as the controller's ServiceAccount (needs tokenreviews create). */
export function tokenReviewer(kc: KubeConfig): ReviewToken {
  const api = kc.makeApiClient(AuthenticationV1Api);
  return async (token, audience) => {
    const review = await api.createTokenReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [audience] } } });
    return review.status ?? {};
  };
}

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9]([a-z0-9-]*[a-z0-9])?):([a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/;

/** What a successful review says, or why it does not make the bearer a pod. */
export function identityOfReview(status: V1TokenReviewStatus, audience: string): Authentication {
  if (!status.authenticated) {
    const why = status.error ?? "the API server did not authenticate the token";
    const audienceProblem = /audience/i.test(why);
    return {
      ok: false,
      reason: audienceProblem ? "wrong_audience" : "invalid_token",
      message: audienceProblem ? `the token is not for the audience ${audience}` : `the API server refused the token: ${why.slice(0, 200)}`,
    };
  }
  if (!(status.audiences ?? []).includes(audience)) return { ok: false, reason: "wrong_audience", message: `the token is not for the audience ${audience}` };
  const user = status.user ?? {};
  const match = SERVICE_ACCOUNT_USER.exec(user.username ?? "");
  if (!match?.[1] || !match[3]) return { ok: false, reason: "not_pod_token", message: "the token is not a ServiceAccount's" };
  const pod = user.extra?.[POD_NAME_EXTRA]?.[0];
  const podUid = user.extra?.[POD_UID_EXTRA]?.[0];
  if (!pod)
    return { ok: false, reason: "not_pod_token", message: `the token of ServiceAccount ${match[1]}/${match[3]} is not bound to a pod (sidecars present a projected token)` };
  return { ok: true, identity: { namespace: match[1], serviceAccount: match[3], pod, ...(podUid ? { podUid } : {}) } };
}

export class TokenReviewAuthenticator implements StreamAuthenticator {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Authentication>>();
  private readonly audience: string;
  private readonly clock: () => number;
  /** TokenReview calls made (a cache miss each). */
  reviews = 0;

  constructor(private readonly options: TokenReviewAuthenticatorOptions) {
    this.audience = options.audience ?? XDS_TOKEN_AUDIENCE;
    this.clock = options.clock ?? Date.now;
  }

  authenticate(token: string): Promise<Authentication> {
    const key = createHash("sha256").update(token).digest("base64url");
    const now = this.clock();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return Promise.resolve(cached.result);
    if (cached) this.cache.delete(key);
    const running = this.inflight.get(key);
    if (running) return running;
    const review = this.review(token, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, review);
    return review;
  }

  private async review(token: string, key: string): Promise<Authentication> {
    // Not verified here (the API server does that): the expiry only bounds how long the review is cached.
    let expiresAt: number | undefined;
    try {
      const exp = decodeJwt(token).exp;
      if (typeof exp === "number") expiresAt = exp * 1000;
    } catch {
      return this.remember(key, { ok: false, reason: "invalid_token", message: "the bearer token is not a JWT" }, this.clock() + (this.options.refusalCacheMs ?? 5000));
    }
    let status: V1TokenReviewStatus;
    try {
      this.reviews += 1;
      status = await this.options.review(token, this.audience);
    } catch (error) {
      // Not cached: the next stream asks again.
      return { ok: false, reason: "unavailable", message: `TokenReview failed: ${error instanceof Error ? error.message.slice(0, 200) : "unknown error"}` };
    }
    const result = identityOfReview(status, this.audience);
    const now = this.clock();
    if (!result.ok) return this.remember(key, result, now + (this.options.refusalCacheMs ?? 5000));
    const until = Math.min(now + (this.options.maxCacheMs ?? 300_000), (expiresAt ?? now) - (this.options.expiryMarginMs ?? 30_000));
    return until > now ? this.remember(key, result, until) : result;
  }

  private remember(key: string, result: Authentication, until: number): Authentication {
    const max = this.options.maxEntries ?? 10_000;
    while (this.cache.size >= max) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    this.cache.set(key, { result, until });
    return result;
  }

  /** Cached reviews (for tests and metrics). */
  get size(): number {
    return this.cache.size;
  }
}
