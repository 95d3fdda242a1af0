import type { V1TokenReviewStatus } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { identityOfReview, POD_NAME_EXTRA, POD_UID_EXTRA, TokenReviewAuthenticator, XDS_TOKEN_AUDIENCE } from "./xds-authentication.js";

/** An unsigned JWT with `exp` (the authenticator reads only the expiry, to bound its cache; the API server verifies). */
function jwt(exp: number, salt = ""): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part({ exp, salt })}.c2ln`;
}

const podReview: V1TokenReviewStatus = {
  authenticated: true,
  audiences: [XDS_TOKEN_AUDIENCE],
  user: { username: "system:serviceaccount:shop:orders", extra: { [POD_NAME_EXTRA]: ["orders-0"], [POD_UID_EXTRA]: ["u-1"] } },
};

describe("what a TokenReview makes of a stream's token", () => {
  it("a pod-bound token of Bulwark's audience: the pod, its namespace and ServiceAccount", () => {
    expect(identityOfReview(podReview, XDS_TOKEN_AUDIENCE)).toEqual({ ok: true, identity: { namespace: "shop", serviceAccount: "orders", pod: "orders-0", podUid: "u-1" } });
  });

  it("refuses unauthenticated, other audiences, non-ServiceAccount users and tokens not bound to a pod", () => {
    expect(identityOfReview({ authenticated: false, error: "token has expired" }, XDS_TOKEN_AUDIENCE)).toMatchObject({ ok: false, reason: "invalid_token" });
    expect(identityOfReview({ authenticated: false, error: 'token audiences ["api"] is invalid for the target audiences' }, XDS_TOKEN_AUDIENCE)).toMatchObject({
      ok: false,
      reason: "wrong_audience",
    });
    expect(identityOfReview({ ...podReview, audiences: ["https://kubernetes.default.svc"] }, XDS_TOKEN_AUDIENCE)).toMatchObject({ ok: false, reason: "wrong_audience" });
    expect(identityOfReview({ ...podReview, user: { username: "alice", extra: podReview.user?.extra } }, XDS_TOKEN_AUDIENCE)).toMatchObject({ ok: false, reason: "not_pod_token" });
    expect(identityOfReview({ ...podReview, user: { username: "system:serviceaccount:shop:orders" } }, XDS_TOKEN_AUDIENCE)).toMatchObject({ ok: false, reason: "not_pod_token" });
  });
});

describe("the review cache", () => {
  function setup(answer: () => V1TokenReviewStatus | Promise<V1TokenReviewStatus>, options: { maxEntries?: number } = {}): { auth: TokenReviewAuthenticator; now: { t: number } } {
    const now = { t: 1_000_000_000_000 };
    const auth = new TokenReviewAuthenticator({ review: () => Promise.resolve(answer()), clock: () => now.t, ...options });
    return { auth, now };
  }

  it("asks once per token until shortly before it expires (at most 5 minutes), then again", async () => {
    const { auth, now } = setup(() => podReview);
    const token = jwt(now.t / 1000 + 600);
    for (let i = 0; i < 5; i++) expect((await auth.authenticate(token)).ok).toBe(true);
    expect(auth.reviews).toBe(1);
    now.t += 299_000;
    await auth.authenticate(token);
    expect(auth.reviews).toBe(1);
    now.t += 2000; // past 5 minutes
    await auth.authenticate(token);
    expect(auth.reviews).toBe(2);
    // A token that expires in 20 s is never served from the cache (30 s margin).
    const short = jwt(now.t / 1000 + 20);
    await auth.authenticate(short);
    await auth.authenticate(short);
    expect(auth.reviews).toBe(4);
  });

  it("concurrent streams with one token share one review; an API server error is not cached", async () => {
    let fail = true;
    const { auth, now } = setup(() => {
      if (fail) throw new Error("connection refused");
      return podReview;
    });
    const token = jwt(now.t / 1000 + 600);
    const results = await Promise.all([auth.authenticate(token), auth.authenticate(token), auth.authenticate(token)]);
    expect(auth.reviews).toBe(1);
    expect(results.every((r) => !r.ok && r.reason === "unavailable")).toBe(true);
    fail = false;
    expect((await auth.authenticate(token)).ok).toBe(true);
  });

  it("is bounded: the oldest entries go first", async () => {
    const { auth, now } = setup(() => podReview, { maxEntries: 100 });
    for (let i = 0; i < 1000; i++) await auth.authenticate(jwt(now.t / 1000 + 600, String(i)));
    expect(auth.size).toBe(100);
  });

  it("a bearer that is not a JWT is refused without asking the API server", async () => {
    const { auth } = setup(() => podReview);
    expect(await auth.authenticate("not-a-jwt")).toMatchObject({ ok: false, reason: "invalid_token" });
    expect(auth.reviews).toBe(0);
  });
});
