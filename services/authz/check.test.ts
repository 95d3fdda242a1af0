import { beforeAll, describe, expect, it } from "vitest";
import { DpopKey, TestIssuer } from "../../test/support/authz-client.js";
import { APP_ID, ATTESTER, AUDIENCE, authzPolicyInput, ISSUER, routeName } from "../../test/support/authz-policy.js";
import { translate } from "../../operator/translate/translate.js";
import { check, type CheckDeps } from "./check.js";
import { buildRouteTable, RouteTableHolder, type RouteTable } from "./config.js";
import { DpopNonces } from "./dpop-nonce.js";
import { KeySets } from "./keys.js";
import { MemoryReplayStore } from "./replay-store.js";
import type { AuthzRequest } from "./request.js";
import type { Decision } from "./decision.js";
import { toCheckResponse } from "./service.js";

describe("check: the route table from the translation, and every check of a route in order", () => {
  let idp: TestIssuer;
  let attester: TestIssuer;
  let key: DpopKey;
  let table: RouteTable;
  let deps: CheckDeps;

  beforeAll(async () => {
    idp = await TestIssuer.create(ISSUER);
    attester = await TestIssuer.create(ATTESTER);
    key = await DpopKey.generate();
    table = buildRouteTable(translate(authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks })).ir);
    deps = { now: Date.now, replay: new MemoryReplayStore(Date.now, { rememberedSince: 0 }), nonces: new DpopNonces(), keys: new KeySets().keys };
  });

  async function request(options: { rule: string; method: string; path: string; sub?: string; version?: string; platform?: string; attestation?: string }): Promise<AuthzRequest> {
    const payload = { iss: ISSUER, aud: AUDIENCE, sub: options.sub ?? "alice", cnf: { jkt: key.jkt } };
    const token = await idp.sign(payload, { audience: AUDIENCE });
    const proof = await key.proof({ htm: options.method, htu: `http://shop.test${options.path}`, accessToken: token });
    return {
      route: routeName(options.rule),
      method: options.method,
      scheme: "http",
      host: "shop.test",
      path: options.path,
      headers: {
        authorization: `DPoP ${token}`,
        dpop: proof,
        "x-app-version": options.version ?? "4.3.0",
        "x-app-platform": options.platform ?? "ios",
        ...(options.attestation !== undefined ? { "x-app-attestation": options.attestation } : {}),
      },
      jwtPayload: payload,
    };
  }

  const outcome = async (r: AuthzRequest): Promise<string> => {
    const d = await check(r, table, deps);
    return d.allowed ? "allowed" : `${d.status} ${d.reason}`;
  };

  it("has the routes that need authz (app versions are workload-wide) and none for the default 404", () => {
    expect([...table.routes.keys()].sort()).toEqual([routeName("checkout"), routeName("health"), routeName("orders")]);
    expect(table.routes.get(routeName("orders"))?.checks).toMatchObject({ dpop: true, ownership: { pathParam: "userId", claim: "sub" }, minAppVersion: true });
    expect(buildRouteTable(translate(authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks })).ir).version).toBe(table.version);
    expect(Object.isFrozen(table.routes.get(routeName("orders")))).toBe(true);
  });

  it("allows the owner with a current app and a valid proof", async () => {
    expect(await outcome(await request({ rule: "orders", method: "GET", path: "/v1/users/alice/orders" }))).toBe("allowed");
  });

  it("refuses another user's orders (403), an outdated app first (426), a bad proof (401)", async () => {
    expect(await outcome(await request({ rule: "orders", method: "GET", path: "/v1/users/bob/orders" }))).toBe("403 ownership_mismatch");
    expect(await outcome(await request({ rule: "orders", method: "GET", path: "/v1/users/bob/orders", version: "4.2.0" }))).toBe("426 app_version_outdated");
    expect(await outcome(await request({ rule: "orders", method: "GET", path: "/v1/users/alice/orders", version: "4.2.1", platform: "android" }))).toBe("allowed");
    const r = await request({ rule: "orders", method: "GET", path: "/v1/users/alice/orders" });
    expect(await outcome({ ...r, method: "HEAD" })).toBe("401 dpop_proof_htm");
  });

  it("requires attestation on checkout", async () => {
    expect(await outcome(await request({ rule: "checkout", method: "POST", path: "/v1/checkout" }))).toBe("401 attestation_missing");
    const attestation = await attester.sign({ sub: APP_ID }, { audience: "projects/shop" });
    expect(await outcome(await request({ rule: "checkout", method: "POST", path: "/v1/checkout", attestation }))).toBe("allowed");
  });

  it("in authorizationMode Shadow, reports another user's orders to the backend instead of refusing; the proof is still checked", async () => {
    const input = authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks });
    const spec = (input.policies[0] as { spec: { rules: { name: string; authorizationMode?: string }[] } }).spec;
    for (const rule of spec.rules) if (rule.name === "orders") rule.authorizationMode = "Shadow";
    const shadowTable = buildRouteTable(translate(input).ir);
    const decide = async (r: AuthzRequest): Promise<Decision> => check(r, shadowTable, deps);
    const other = await decide(await request({ rule: "orders", method: "GET", path: "/v1/users/bob/orders" }));
    expect(other).toEqual({ allowed: true, responseHeaders: [], upstreamHeaders: [{ name: "x-bulwark-shadow-ownership", value: "denied" }], shadowRefusal: "ownership_mismatch" });
    expect(toCheckResponse(other)).toEqual({
      status: { code: 0 },
      ok_response: {
        response_headers_to_add: [],
        headers: [{ header: { key: "x-bulwark-shadow-ownership", value: "denied" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
        headers_to_remove: [],
      },
    });
    const own = await decide(await request({ rule: "orders", method: "GET", path: "/v1/users/alice/orders" }));
    expect(own).toEqual({ allowed: true, responseHeaders: [], upstreamHeaders: [{ name: "x-bulwark-shadow-ownership", value: "allowed" }] });
    const r = await request({ rule: "orders", method: "GET", path: "/v1/users/bob/orders" });
    expect(await decide({ ...r, method: "HEAD" })).toMatchObject({ allowed: false, reason: "dpop_proof_htm" });
  });

  it("fails closed without a table or for a route it does not know", async () => {
    const r = await request({ rule: "orders", method: "GET", path: "/v1/users/alice/orders" });
    const none = await check(r, undefined, deps);
    expect(none.allowed ? "allowed" : `${none.status} ${none.reason}`).toBe("503 config_not_loaded");
    expect(await outcome({ ...r, route: "apisecuritypolicy/shop/other/rule/x" })).toBe("503 route_unknown");
    const { route: _omit, ...withoutRoute } = r;
    expect(await outcome(withoutRoute)).toBe("503 route_unknown");
  });

  it("swaps tables whole and only when the version changes", () => {
    const holder = new RouteTableHolder();
    expect(holder.swap(table)).toBe(true);
    expect(holder.swap(buildRouteTable(translate(authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks })).ir))).toBe(false);
    const changed = buildRouteTable(translate(authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks, requireNonce: true })).ir);
    expect(holder.swap(changed)).toBe(true);
    expect(holder.current()).toBe(changed);
  });
});
