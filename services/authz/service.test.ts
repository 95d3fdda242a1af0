import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTable } from "./config.js";
import { RouteTableHolder } from "./config.js";
import { DpopNonces } from "./dpop-nonce.js";
import { KeySets } from "./keys.js";
import { MemoryReplayStore } from "./replay-store.js";
import { AuthzServer, toAuthzRequest, toCheckResponse } from "./service.js";
import { authorizationService } from "./authorization-service.js";

const ROUTE = "apisecuritypolicy/shop/mobile/rule/orders";

const table: RouteTable = {
  version: "test",
  routes: new Map([
    [
      ROUTE,
      {
        name: ROUTE,
        authentication: "Required",
        checks: {
          dpop: false,
          certificateBound: false,
          appAttestation: false,
          minAppVersion: false,
          ownership: { pathParam: "userId", claim: "sub", template: "/v1/users/{userId}/orders" },
        },
      },
    ],
  ]),
};

function message(sub: string, path = "/v1/users/alice/orders"): Record<string, unknown> {
  return {
    attributes: {
      request: { http: { method: "GET", path, host: "shop.test", scheme: "http", headers: { ":authority": "shop.test", "X-App-Version": "4.3.0" } } },
      context_extensions: { "bulwark.dev/route": ROUTE },
      metadata_context: { filter_metadata: { "envoy.filters.http.jwt_authn": { fields: { jwt_payload: { structValue: { fields: { sub: { stringValue: sub } } } } } } } },
    },
  };
}

describe("CheckRequest → AuthzRequest", () => {
  it("lower-cases header names, reads the route, the jwt_authn payload and the URL-encoded certificate", () => {
    const request = toAuthzRequest({
      attributes: {
        source: { certificate: "-----BEGIN%20CERTIFICATE-----%0AAAA%0A-----END%20CERTIFICATE-----%0A" },
        request: { http: { method: "GET", path: "/a?b", host: "shop.test", scheme: "https", headers: { "X-App-Version": "1.0.0", dpop: "p" } } },
        context_extensions: { "bulwark.dev/route": ROUTE },
        metadata_context: {
          filter_metadata: {
            "envoy.filters.http.jwt_authn": { fields: { jwt_payload: { kind: "structValue", structValue: { fields: { sub: { kind: "stringValue", stringValue: "alice" } } } } } },
          },
        },
      },
    });
    expect(request).toEqual({
      route: ROUTE,
      method: "GET",
      scheme: "https",
      host: "shop.test",
      path: "/a?b",
      headers: { "x-app-version": "1.0.0", dpop: "p" },
      jwtPayload: { sub: "alice" },
      peerCertificate: "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n",
    });
  });

  it("leaves out what Envoy did not send, and a certificate that does not URL-decode", () => {
    expect(toAuthzRequest({ attributes: { source: { certificate: "%E0%A4%A" }, request: { http: { headers: { ":authority": "h" } } } } })).toEqual({
      method: "",
      scheme: "",
      host: "h",
      path: "",
      headers: { ":authority": "h" },
    });
    expect(toAuthzRequest({})).toEqual({ method: "", scheme: "", host: "", path: "", headers: {} });
  });

  it("answers allowed, allowed with headers and refused", () => {
    expect(toCheckResponse({ allowed: true, responseHeaders: [] })).toEqual({ status: { code: 0 }, ok_response: { response_headers_to_add: [] } });
    expect(toCheckResponse({ allowed: true, responseHeaders: [{ name: "dpop-nonce", value: "n" }] })).toEqual({
      status: { code: 0 },
      ok_response: { response_headers_to_add: [{ header: { key: "dpop-nonce", value: "n" } }] },
    });
    expect(toCheckResponse({ allowed: false, status: 403, reason: "ownership_mismatch", headers: [], body: "{}" })).toMatchObject({
      status: { code: 7, message: "ownership_mismatch" },
      denied_response: { status: { code: 403 }, body: "{}" },
    });
  });
});

type CheckClient = Client & { Check(request: unknown, callback: (error: ServiceError | null, response?: Record<string, unknown>) => void): void };

describe("AuthzServer over gRPC", () => {
  let server: AuthzServer;
  let client: CheckClient;

  beforeAll(async () => {
    const tables = new RouteTableHolder();
    tables.swap(table);
    server = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: { now: Date.now, replay: new MemoryReplayStore(Date.now, { rememberedSince: 0 }), nonces: new DpopNonces(), keys: new KeySets().keys },
      log: pino({ level: "silent" }),
    });
    const port = await server.start();
    const Ctor = makeGenericClientConstructor(authorizationService(), "Authorization");
    client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as CheckClient;
  });

  afterAll(async () => {
    client?.close();
    await server?.stop(100);
  });

  const call = (request: unknown): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => client.Check(request, (error, response) => (error ? reject(error) : resolve(response ?? {}))));

  it("allows the owner and refuses another user's object, call after call", async () => {
    for (let i = 0; i < 3; i++) {
      expect(await call(message("alice"))).toMatchObject({ status: { code: 0 }, ok_response: {} });
      const refused = await call(message("bob"));
      expect(refused).toMatchObject({ status: { code: 7, message: "ownership_mismatch" }, denied_response: { status: { code: "Forbidden" } } });
      expect(refused.ok_response).toBeUndefined();
    }
  });
});
