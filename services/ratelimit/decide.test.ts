import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { GlobalRateLimitIR, IR } from "../../contract/ir.js";
import { decide, type DescriptorInput } from "./decide.js";
import { budgetKey, pathParam } from "./keys.js";
import { indexLimits, type LimitIndex } from "./limits.js";
import { MemoryStore } from "./memory-store.js";
import { countOutcome, type Outcome } from "./outcomes.js";
import { secondsUntilFits, usedInWindow, windowPosition } from "./window.js";

const base = "apisecuritypolicy/shop/api/rule";

function limit(name: string, overrides: Partial<GlobalRateLimitIR> = {}): GlobalRateLimitIR {
  return {
    name: `${base}/${name.split("/")[0]}/ratelimit/${name.split("/")[1] ?? name}`,
    key: [{ kind: "header", header: "x-device-id" }],
    requests: 3,
    windowSeconds: 60,
    shadow: false,
    failureMode: "Allow",
    responseHeaders: true,
    ...overrides,
  };
}

function irOf(routes: { route: string; limits: GlobalRateLimitIR[] }[]): IR {
  return {
    workloads: [
      {
        name: "w",
        namespace: "shop",
        sidecars: [],
        listener: { port: 15006 },
        app: { port: 8080 },
        jwtProviders: [],
        routes: routes.map((r) => ({
          name: `${base}/${r.route}`,
          match: { path: { kind: "prefix", prefix: "/" }, methods: [] },
          action: { kind: "forward", checks: { authentication: "None", globalRateLimits: r.limits }, responseHeaders: [] },
        })),
      },
    ],
  };
}

function descriptor(l: GlobalRateLimitIR, entries: Record<string, string>): DescriptorInput {
  return { entries: [{ key: "limit", value: l.name }, ...Object.entries(entries).map(([key, value]) => ({ key, value }))] };
}

async function run(index: LimitIndex, store: MemoryStore, descriptors: DescriptorInput[], nowMs: number): Promise<string> {
  return (await decide({ descriptors, hitsAddend: 0 }, index, store, nowMs)).code;
}

const T0 = 1_800_000_000_000; // a window boundary for 60 s windows (divisible by 60 000)

describe("decide", () => {
  it("refuses the request after N within the window, per key, with RateLimit and Retry-After headers", async () => {
    const l = limit("orders/per-device");
    const index = indexLimits(irOf([{ route: "orders", limits: [l] }]));
    const store = new MemoryStore();
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) codes.push(await run(index, store, [descriptor(l, { "header:x-device-id": "a" })], T0 + i));
    expect(codes).toEqual(["OK", "OK", "OK", "OVER_LIMIT"]);
    expect(await run(index, store, [descriptor(l, { "header:x-device-id": "b" })], T0 + 10)).toBe("OK");
    const refused = await decide({ descriptors: [descriptor(l, { "header:x-device-id": "a" })], hitsAddend: 0 }, index, store, T0 + 1000);
    expect(refused.responseHeaders).toEqual([
      { key: "RateLimit-Policy", value: "3;w=60" },
      { key: "RateLimit", value: "limit=3, remaining=0, reset=59" },
      { key: "Retry-After", value: "60" },
    ]);
    // The next window: the previous window's 3 still weigh 3 × 59/60 → floor 2, so one more fits.
    expect(await run(index, store, [descriptor(l, { "header:x-device-id": "a" })], T0 + 61_000)).toBe("OK");
    expect(await run(index, store, [descriptor(l, { "header:x-device-id": "a" })], T0 + 61_001)).toBe("OVER_LIMIT");
  });

  it("counts a missing key part under the empty value", async () => {
    const l = limit("orders/per-device", { requests: 1 });
    const index = indexLimits(irOf([{ route: "orders", limits: [l] }]));
    const store = new MemoryStore();
    expect(await run(index, store, [descriptor(l, {})], T0)).toBe("OK");
    expect(await run(index, store, [descriptor(l, {})], T0 + 1)).toBe("OVER_LIMIT");
    expect(await run(index, store, [descriptor(l, { "header:x-device-id": "" })], T0 + 2)).toBe("OVER_LIMIT");
  });

  it("spends hits_addend requests at once", async () => {
    const l = limit("orders/per-device", { requests: 5 });
    const index = indexLimits(irOf([{ route: "orders", limits: [l] }]));
    const store = new MemoryStore();
    const d = [descriptor(l, { "header:x-device-id": "a" })];
    expect((await decide({ descriptors: d, hitsAddend: 4 }, index, store, T0)).code).toBe("OK");
    expect((await decide({ descriptors: d, hitsAddend: 2 }, index, store, T0)).code).toBe("OVER_LIMIT");
    expect((await decide({ descriptors: d, hitsAddend: 1 }, index, store, T0)).code).toBe("OK");
  });

  it("reports a Shadow limit without refusing and without headers", async () => {
    const l = limit("orders/shadow", { requests: 1, shadow: true });
    const index = indexLimits(irOf([{ route: "orders", limits: [l] }]));
    const store = new MemoryStore();
    await run(index, store, [descriptor(l, { "header:x-device-id": "a" })], T0);
    const d = await decide({ descriptors: [descriptor(l, { "header:x-device-id": "a" })], hitsAddend: 0 }, index, store, T0 + 1);
    expect(d.code).toBe("OK");
    expect(d.descriptors[0]).toMatchObject({ code: "OK", exceeded: true });
    expect(d.responseHeaders).toEqual([]);
  });

  it("hides every header when a refusing limit says responseHeaders None", async () => {
    const hidden = limit("login/hidden", { requests: 1, responseHeaders: false });
    const shown = limit("login/shown", { requests: 100 });
    const index = indexLimits(irOf([{ route: "login", limits: [hidden, shown] }]));
    const store = new MemoryStore();
    const ds = [descriptor(hidden, { "header:x-device-id": "a" }), descriptor(shown, { "header:x-device-id": "a" })];
    const first = await decide({ descriptors: ds, hitsAddend: 0 }, index, store, T0);
    expect(first.responseHeaders.map((h) => h.value)).toEqual(["100;w=60", "limit=100, remaining=99, reset=60"]);
    const second = await decide({ descriptors: ds, hitsAddend: 0 }, index, store, T0 + 1);
    expect(second.code).toBe("OVER_LIMIT");
    expect(second.responseHeaders).toEqual([]);
  });

  it("allows a descriptor naming an unknown limit, and one without a limit entry", async () => {
    const store = new MemoryStore();
    const d = await decide({ descriptors: [{ entries: [{ key: "limit", value: "nope" }] }, { entries: [] }], hitsAddend: 0 }, indexLimits({ workloads: [] }), store, T0);
    expect(d.code).toBe("OK");
    expect(store.size).toBe(0);
  });

  it("keys by path parameter through the rule's template, ignoring the query", async () => {
    const l = limit("orders/per-user", { requests: 1, key: [{ kind: "pathParam", param: "userId", template: "/v1/users/{userId}/orders" }] });
    const index = indexLimits(irOf([{ route: "orders", limits: [l] }]));
    const store = new MemoryStore();
    expect(await run(index, store, [descriptor(l, { "pathParam:userId": "/v1/users/7/orders?page=1" })], T0)).toBe("OK");
    expect(await run(index, store, [descriptor(l, { "pathParam:userId": "/v1/users/7/orders?page=2" })], T0)).toBe("OVER_LIMIT");
    expect(await run(index, store, [descriptor(l, { "pathParam:userId": "/v1/users/8/orders" })], T0)).toBe("OK");
    expect(pathParam("/files/a/b/c", "/files/{rest=**}", "rest")).toBe("a/b/c");
    expect(pathParam("/x", "/files/{rest=**}", "rest")).toBe("");
    // The backend's matching (case, trailing slash): the same meaning as the route that matched.
    expect(pathParam("/V1/Users/Bob/orders/", "/v1/users/{userId}/orders", "userId", { caseSensitive: false, trailingSlash: "Ignore" })).toBe("Bob");
    expect(pathParam("/V1/Users/Bob/orders/", "/v1/users/{userId}/orders", "userId")).toBe("");
  });

  it("handles windows of days", async () => {
    const l = limit("orders/daily", { requests: 2, windowSeconds: 86_400 });
    const index = indexLimits(irOf([{ route: "orders", limits: [l] }]));
    const store = new MemoryStore();
    const day = 86_400_000;
    const start = Math.ceil(T0 / day) * day;
    const d = [descriptor(l, { "header:x-device-id": "a" })];
    expect(await run(index, store, d, start)).toBe("OK");
    expect(await run(index, store, d, start + 3_600_000)).toBe("OK");
    const refused = await decide({ descriptors: d, hitsAddend: 0 }, index, store, start + 2 * 3_600_000);
    expect(refused.code).toBe("OVER_LIMIT");
    expect(Number(refused.responseHeaders.find((h) => h.key === "Retry-After")?.value)).toBe(22 * 3600 + 1);
  });
});

describe("outcome-aware budgets", () => {
  const failed = limit("login/failed", {
    requests: 5,
    countedResponseCodes: [401, 403],
    key: [{ kind: "clientIP" }, { kind: "header", header: "x-device-id" }],
    responseHeaders: false,
  });
  const index = indexLimits(irOf([{ route: "login", limits: [failed] }]));
  const outcome = (code: number, device = "d1"): Outcome => ({
    routeName: `${base}/login`,
    responseCode: code,
    clientAddress: "10.0.0.1",
    requestHeaders: new Map([["x-device-id", device]]),
    path: "/v1/login",
    claims: {},
  });
  const check = (device = "d1"): DescriptorInput => descriptor(failed, { remote_address: "10.0.0.1", "header:x-device-id": device });

  it("checks without spending, and only the listed codes spend", async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 10; i++) {
      expect(await run(index, store, [check()], T0 + i)).toBe("OK");
      expect(await countOutcome(outcome(200), index, store, T0 + i)).toEqual([]);
    }
    for (let i = 0; i < 5; i++) {
      expect(await run(index, store, [check()], T0 + 100 + i)).toBe("OK");
      expect(await countOutcome(outcome(i % 2 ? 401 : 403), index, store, T0 + 100 + i)).toEqual([failed.name]);
    }
    expect(await run(index, store, [check()], T0 + 200)).toBe("OVER_LIMIT");
    expect(await run(index, store, [check("d2")], T0 + 200)).toBe("OK");
  });

  it("ignores outcomes of routes without counted limits", async () => {
    const store = new MemoryStore();
    expect(await countOutcome({ ...outcome(401), routeName: `${base}/other` }, index, store, T0)).toEqual([]);
    expect(store.size).toBe(0);
    expect(budgetKey(failed, ["10.0.0.1", "d1"])).toMatch(/^bulwark:rl:\{[A-Za-z0-9_-]{22}\}$/);
  });
});

describe("budget keys", () => {
  it("are sha256 of limit, window and key values (as kept in Redis), whichever limit object asks", () => {
    const sha = (identity: string): string => `bulwark:rl:{${createHash("sha256").update(identity).digest("base64url").slice(0, 22)}}`;
    const a = limit("a/x");
    expect(budgetKey(a, ["d1"])).toBe(sha(`${a.name}\u000060\u0000d1`));
    expect(budgetKey(a, ["d1"])).toBe(sha(`${a.name}\u000060\u0000d1`));
    expect(budgetKey(limit("a/x"), ["d1"])).toBe(budgetKey(a, ["d1"]));
    expect(budgetKey(a, ["10.0.0.1", "d1"])).toBe(sha(`${a.name}\u000060\u000010.0.0.1\u0000d1`));
    expect(budgetKey(a, [])).toBe(sha(`${a.name}\u000060`));
    expect(budgetKey(limit("a/x", { windowSeconds: 1 }), ["d1"])).toBe(sha(`${a.name}\u00001\u0000d1`));
    expect(budgetKey(limit("a/y"), ["d1"])).not.toBe(budgetKey(a, ["d1"]));
    const long = "v".repeat(600);
    expect(budgetKey(a, [long])).toBe(sha(`${a.name}\u000060\u0000${long}`));
    expect(budgetKey(a, [long])).toBe(sha(`${a.name}\u000060\u0000${long}`));
  });
});

describe("sliding window", () => {
  it("weighs the previous window by the share still inside the sliding window", () => {
    expect(usedInWindow({ previous: 10, current: 2 }, windowPosition(T0 + 15_000, 60_000))).toBe(2 + 7);
    expect(usedInWindow({ previous: 10, current: 0 }, windowPosition(T0 + 59_999, 60_000))).toBe(0);
  });

  it("says how long until a refused request fits", () => {
    // Current window full (3 of 3) at 10 s: in the next window floor(3 × (60 - e)/60) ≤ 2 as soon as e > 0.
    expect(secondsUntilFits({ previous: 0, current: 3 }, windowPosition(T0 + 10_000, 60_000), 1, 3)).toBe(51);
    // 6 of 3 in the current window: floor(6 × (60 - e)/60) ≤ 2 → e > 30 s into the next one.
    expect(secondsUntilFits({ previous: 0, current: 6 }, windowPosition(T0 + 10_000, 60_000), 1, 3)).toBe(50 + 30 + 1);
    // Previous window's 6 with 1 in this one: 6 × (60 - e)/60 < 2 → e > 40 s; now at 10 s → just over 30 s.
    expect(secondsUntilFits({ previous: 6, current: 1 }, windowPosition(T0 + 10_000, 60_000), 1, 3)).toBe(31);
  });
});
