import { refuse, type Decision } from "./decision.js";

/** A JWT provider's maxTokenAge, for the tokens it issued (jwt_authn has checked `iss` and the signature). */
export interface TokenAgeLimit {
  issuer: string;
  maxAgeSeconds: number;
  clockSkewSeconds: number;
}

function challenge(dpop: boolean, description: string): { name: string; value: string }[] {
  return [{ name: "www-authenticate", value: `${dpop ? "DPoP" : "Bearer"} error="invalid_token", error_description="${description}"` }];
}

/**
 * Short-lived tokens (the provider's maxTokenAge): the verified payload Envoy passes on must carry
 * `iat`, not from the future, no older than the maximum age, and with exp - iat no longer than
 * it, whatever `exp` says; each bound widened by the provider's clock skew. Tokens of a provider
 * without maxTokenAge, and requests without a token on routes where it is optional, pass.
 */
export function checkTokenAge(options: {
  payload: Readonly<Record<string, unknown>> | undefined;
  limits: readonly TokenAgeLimit[];
  authentication: "Required" | "Optional" | "None";
  dpop: boolean;
  nowMs: number;
}): Decision | undefined {
  const { payload } = options;
  if (!payload) return options.authentication === "Required" ? refuse(401, "token_missing", { headers: challenge(options.dpop, "token required") }) : undefined;
  const matching = options.limits.filter((l) => l.issuer === payload.iss);
  if (matching.length === 0) return undefined;
  // Several providers with one issuer: the strictest holds.
  const limit = matching.reduce((a, b) => (b.maxAgeSeconds < a.maxAgeSeconds ? b : a));
  const { iat, exp } = payload;
  if (typeof iat !== "number" || !Number.isFinite(iat)) return refuse(401, "token_iat_missing", { headers: challenge(options.dpop, "token must carry iat") });
  const now = options.nowMs / 1000;
  if (iat > now + limit.clockSkewSeconds) return refuse(401, "token_iat_future", { headers: challenge(options.dpop, "token issued in the future") });
  if (now - iat > limit.maxAgeSeconds + limit.clockSkewSeconds) return refuse(401, "token_too_old", { headers: challenge(options.dpop, "token too old") });
  if (typeof exp === "number" && exp - iat > limit.maxAgeSeconds + limit.clockSkewSeconds)
    return refuse(401, "token_lifetime_too_long", { headers: challenge(options.dpop, "token lives too long") });
  return undefined;
}
