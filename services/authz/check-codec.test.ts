import { describe, expect, it } from "vitest";
import { CHECK_PATH, decodeCheckRequest, encodeCheckResponse } from "./check-codec.js";
import { refuse } from "./decision.js";
import { toAuthzRequest, toCheckResponse } from "./service.js";
import { authorizationService } from "./authorization-service.js";

const ROUTE = "apisecuritypolicy/shop/mobile/rule/orders";

/** A CheckRequest as Envoy sends it, every field the checks read set, plus some they do not read. */
const FULL = {
  attributes: {
    source: {
      address: { socket_address: { address: "10.0.0.7", port_value: 41000 } },
      certificate: "-----BEGIN%20CERTIFICATE-----%0AAAA%0A-----END%20CERTIFICATE-----%0A",
    },
    destination: { address: { socket_address: { address: "127.0.0.1", port_value: 15006 } } },
    request: {
      time: { seconds: "1796300000", nanos: 5 },
      http: {
        id: "7",
        method: "POST",
        path: "/v1/users/alice/orders?x=1",
        host: "shop.test",
        scheme: "https",
        protocol: "HTTP/2",
        headers: { ":authority": "shop.test", "X-App-Version": "4.3.0", dpop: "a.b.c", authorization: "DPoP t" },
      },
    },
    context_extensions: { "bulwark.dev/route": ROUTE },
    metadata_context: {
      filter_metadata: {
        "envoy.filters.http.jwt_authn": {
          fields: {
            jwt_payload: {
              structValue: {
                fields: {
                  sub: { stringValue: "alice" },
                  iat: { numberValue: 1796300000 },
                  admin: { boolValue: false },
                  nothing: { nullValue: "NULL_VALUE" },
                  cnf: { structValue: { fields: { jkt: { stringValue: "thumb" } } } },
                  roles: { listValue: { values: [{ stringValue: "a" }, { numberValue: 2 }] } },
                },
              },
            },
          },
        },
      },
    },
  },
};

function bytesOf(message: Record<string, unknown>): Buffer {
  const serialize = authorizationService().Check?.requestSerialize;
  if (!serialize) throw new Error("no Check method");
  return serialize(message);
}

describe("the Check codec of bulwark authz", () => {
  it("reads a CheckRequest exactly as the plain objects of @grpc/proto-loader did", () => {
    const deserialize = authorizationService().Check?.requestDeserialize;
    if (!deserialize) throw new Error("no Check method");
    const bytes = bytesOf(FULL);
    const request = toAuthzRequest(decodeCheckRequest(bytes));
    expect(request).toEqual(toAuthzRequest(deserialize(bytes) as Parameters<typeof toAuthzRequest>[0]));
    expect(request).toEqual({
      route: ROUTE,
      method: "POST",
      scheme: "https",
      host: "shop.test",
      path: "/v1/users/alice/orders?x=1",
      headers: { ":authority": "shop.test", "x-app-version": "4.3.0", dpop: "a.b.c", authorization: "DPoP t" },
      jwtPayload: { sub: "alice", iat: 1796300000, admin: false, nothing: null, cnf: { jkt: "thumb" }, roles: ["a", 2] },
      clientAddress: "10.0.0.7",
      peerCertificate: "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n",
    });
  });

  it("reads absent parts as absent: no route, no payload, no certificate, empty strings", () => {
    expect(toAuthzRequest(decodeCheckRequest(bytesOf({})))).toEqual({ method: "", scheme: "", host: "", path: "", headers: {} });
    const noPayload = bytesOf({ attributes: { request: { http: { method: "GET", headers: { ":authority": "a.test" } } }, metadata_context: { filter_metadata: {} } } });
    expect(toAuthzRequest(decodeCheckRequest(noPayload))).toEqual({ method: "GET", scheme: "", host: "a.test", path: "", headers: { ":authority": "a.test" } });
  });

  it("refuses bytes that are not a CheckRequest", () => {
    expect(() => decodeCheckRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
  });

  it("encodes responses to the same bytes as @grpc/proto-loader", () => {
    const responseSerialize = authorizationService().Check?.responseSerialize;
    if (!responseSerialize) throw new Error("no Check method");
    const denied = toCheckResponse(refuse(401, "dpop_proof_replayed", { headers: [{ name: "www-authenticate", value: "DPoP" }] }));
    const allowed = toCheckResponse({
      allowed: true,
      responseHeaders: [{ name: "dpop-nonce", value: "n" }],
      upstreamHeaders: [{ name: "x-a", value: "b" }],
      removeHeaders: ["x-api-key"],
    });
    for (const response of [denied, allowed]) expect(encodeCheckResponse(response).equals(responseSerialize(response))).toBe(true);
    expect(authorizationService().Check?.path).toBe(CHECK_PATH);
  });
});
