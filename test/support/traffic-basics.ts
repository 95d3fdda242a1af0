/** The vocabulary of the traffic traces (test/support/traffic-trace.ts): the demo shop's routes, a seeded PRNG, users and the entry builder. */
import type { IdentityKind, SignalKind, TelemetryEntry } from "../../contract/telemetry.js";

export const TRACE_NAMESPACE = "shop";
export const TRACE_POLICY = "shop-api";
export const TRACE_WORKLOAD = `apisecuritypolicy/${TRACE_NAMESPACE}/${TRACE_POLICY}/port/8080`;
const RULE = `apisecuritypolicy/${TRACE_NAMESPACE}/${TRACE_POLICY}/rule`;

/** The demo shop's rules as the trace uses them: route name, method, path template and purpose. */
export const TRACE_ROUTES = {
  login: { route: `${RULE}/login`, method: "POST", path: "/v1/login", purpose: "Login" },
  payments: { route: `${RULE}/payments`, method: "POST", path: "/v1/payments", purpose: "Payment" },
  feed: { route: `${RULE}/feed`, method: "GET", path: "/v1/feed" },
  search: { route: `${RULE}/search`, method: "GET", path: "/v1/search" },
  products: { route: `${RULE}/products`, method: "GET", path: "/v1/products/{productId}" },
  reviews: { route: `${RULE}/products`, method: "GET", path: "/v1/products/{productId}/reviews" },
  sellers: { route: `${RULE}/sellers`, method: "GET", path: "/v1/sellers/{sellerId}" },
  cart: { route: `${RULE}/cart`, method: "GET", path: "/v1/cart" },
  profile: { route: `${RULE}/profile`, method: "GET", path: "/v1/profile" },
  orders: { route: `${RULE}/orders`, method: "GET", path: "/v1/users/{userId}/orders" },
  order: { route: `${RULE}/orders`, method: "GET", path: "/v1/users/{userId}/orders/{orderId}" },
} as const;

/** Route name → purpose, as SignalConfig.routePurposes takes it. */
export const TRACE_ROUTE_PURPOSES: Record<string, "Login" | "Payment"> = {
  [TRACE_ROUTES.login.route]: "Login",
  [TRACE_ROUTES.payments.route]: "Payment",
};

export type AttackName = "stuffing" | "distributedStuffing" | "cardTesting" | "enumeration" | "scraping" | "impossibleTravel" | "replayedProof" | "attestation";

/** One attack in the trace: when it starts, the signal that should see it, and who it is (absent for a workload-wide signal). */
export interface TraceAttack {
  name: AttackName;
  signal: SignalKind;
  startMs: number;
  identities: { kind: IdentityKind; value: string }[];
  description: string;
}

/** mulberry32: a small, fast, seeded PRNG; good enough for traffic shapes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;
export const int = (rnd: Random, min: number, max: number): number => min + Math.floor(rnd() * (max - min + 1));
export const pick = <T>(rnd: Random, items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
export const hex = (rnd: Random, n: number): string => Array.from({ length: n }, () => "0123456789abcdef"[Math.floor(rnd() * 16)]).join("");
export const uuid = (rnd: Random): string => `${hex(rnd, 8)}-${hex(rnd, 4)}-4${hex(rnd, 3)}-a${hex(rnd, 3)}-${hex(rnd, 12)}`;

export interface User {
  subject: string;
  device: string;
  appVersion: string;
  platform: string;
  /** Addresses the user is seen from (a home Wi-Fi and a carrier NAT address shared with others), all in one country. */
  addresses: string[];
  orders: number[];
}

export type Route = (typeof TRACE_ROUTES)[keyof typeof TRACE_ROUTES];

/** Who makes a request: any of a user's fields, the address it comes from, and whether its token was verified. */
export type Caller = Partial<User> & { address: string; authenticated: boolean };

export function entry(route: Route, at: { timeMs: number; path?: string; status: number; reason?: string }, who: Caller): TelemetryEntry {
  const e: TelemetryEntry = {
    workload: TRACE_WORKLOAD,
    route: route.route,
    method: route.method,
    path: at.path ?? route.path,
    status: at.status,
    authenticated: who.authenticated,
    clientAddress: who.address,
    timeMs: Math.round(at.timeMs),
    latencyMs: 20 + (Math.round(at.timeMs * 7) % 60),
    requestBytes: route.method === "POST" ? 420 : 0,
    responseBytes: at.status < 300 ? 2048 : 96,
  };
  if (at.reason) e.reason = at.reason;
  if (who.authenticated && who.subject) e.subject = who.subject;
  if (who.device) e.device = who.device;
  if (who.appVersion) e.appVersion = who.appVersion;
  if (who.platform) e.platform = who.platform;
  return e;
}
