import { describe, expect, it } from "vitest";
import type { JsonObject, JsonValue } from "../json.js";
import { encodeResource, resourceVersion } from "../proto/encode.js";
import { fixtureSettings, gatewayWorkload, irFixtures, legacyWorkload, passThroughWorkload, shopWorkload } from "../testdata/ir-fixtures.js";
import type { WorkloadIR } from "../../contract/ir.js";
import { buildSidecarResources } from "./sidecar.js";
import type { SidecarResources } from "./resources.js";

/** Follows a path of keys and indexes, failing the test when it leads nowhere. */
function at(value: JsonValue | undefined, ...path: (string | number)[]): JsonValue {
  let current: JsonValue | undefined = value;
  for (const step of path) {
    if (typeof step === "number") current = Array.isArray(current) ? current[step] : undefined;
    else current = current !== null && typeof current === "object" && !Array.isArray(current) ? current[step] : undefined;
    if (current === undefined) throw new Error(`nothing at ${path.join(".")} (stopped at ${String(step)})`);
  }
  return current ?? null;
}

function obj(value: JsonValue): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`not an object: ${JSON.stringify(value)}`);
  return value;
}

function str(value: JsonValue): string {
  if (typeof value !== "string") throw new Error(`not a string: ${JSON.stringify(value)}`);
  return value;
}

function list(value: JsonValue): JsonValue[] {
  if (!Array.isArray(value)) throw new Error(`not an array: ${JSON.stringify(value)}`);
  return value;
}

function build(workload: WorkloadIR): SidecarResources {
  return buildSidecarResources(workload, fixtureSettings);
}

function hcm(resources: SidecarResources, chain = 0): JsonObject {
  return obj(at(resources.listeners[0]?.resource, "filter_chains", chain, "filters", 0, "typed_config"));
}

function filterNames(resources: SidecarResources): string[] {
  return list(hcm(resources).http_filters ?? null).map((f) => str(at(f, "name")));
}

function httpFilter(resources: SidecarResources, name: string): JsonObject {
  const filter = list(hcm(resources).http_filters ?? null).find((f) => at(f, "name") === name);
  if (!filter) throw new Error(`no filter ${name}`);
  return obj(at(filter, "typed_config"));
}

function routes(resources: SidecarResources): JsonObject[] {
  return list(at(resources.routes[0]?.resource, "virtual_hosts", 0, "routes")).map(obj);
}

function route(resources: SidecarResources, name: string): JsonObject {
  const found = routes(resources).find((r) => r.name === name);
  if (!found) throw new Error(`no route ${name}`);
  return found;
}

function perFilter(r: JsonObject): JsonObject {
  return obj(r.typed_per_filter_config ?? {});
}

const SHOP = "apisecuritypolicy/shop/orders";

describe("buildSidecarResources", () => {
  it("gives a pass-through workload a listener to the app and nothing else", () => {
    const resources = build(passThroughWorkload);
    expect(resources.listeners.map((l) => l.name)).toEqual(["inbound"]);
    expect(filterNames(resources)).toEqual(["envoy.filters.http.router"]);
    expect(at(resources.listeners[0]?.resource, "address")).toEqual({ socket_address: { address: "0.0.0.0", port_value: 8080 } });
    expect(hcm(resources).rds).toEqual({ route_config_name: "inbound", config_source: { ads: {}, resource_api_version: "V3" } });
    // The TCP peer is the client: X-Forwarded-For is not believed.
    expect(hcm(resources).use_remote_address).toBe(true);
    expect(hcm(resources).xff_num_trusted_hops).toBeUndefined();
    expect(routes(resources)).toEqual([{ name: "passthrough/default/default", match: { prefix: "/" }, route: { cluster: "app" } }]);
    expect(resources.clusters.map((c) => c.name)).toEqual(["app"]);
    expect(at(resources.clusters[0]?.resource, "type")).toBe("EDS");
    expect(resources.endpoints).toEqual([
      {
        name: "app",
        resource: {
          "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
          cluster_name: "app",
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 8081 } } } }] }],
        },
      },
    ]);
    expect(resources.secrets).toEqual([]);
  });

  it("chains the filters in enforcement order", () => {
    expect(filterNames(build({ ...shopWorkload, requestMeaning: { singleValueHeaders: [":authority", "authorization"] } }))).toEqual([
      "bulwark.filters.http.request_meaning",
      "envoy.filters.http.buffer",
      "envoy.filters.http.jwt_authn",
      "envoy.filters.http.rbac",
      "envoy.filters.http.ext_authz",
      "envoy.filters.http.local_ratelimit",
      "envoy.filters.http.ratelimit.allow_on_failure",
      "envoy.filters.http.ratelimit.deny_on_failure",
      "envoy.filters.http.compressor.brotli",
      "envoy.filters.http.compressor.gzip",
      "envoy.filters.http.router",
    ]);
    expect(filterNames(build(legacyWorkload))).toEqual([
      "envoy.filters.http.buffer",
      "envoy.filters.http.ext_authz",
      "envoy.filters.http.compressor.brotli",
      "envoy.filters.http.router",
    ]);
  });

  it("keeps the routes in IR order with their matches", () => {
    const resources = build(shopWorkload);
    expect(routes(resources).map((r) => r.name)).toEqual(shopWorkload.routes.map((r) => r.name));
    expect(route(resources, `${SHOP}/rule/get-order`).match).toEqual({
      path_match_policy: {
        name: "envoy.path.match.uri_template.uri_template_matcher",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig", path_template: "/v2/orders/{orderId}" },
      },
      headers: [{ name: ":method", string_match: { exact: "GET" } }],
    });
    expect(route(resources, `${SHOP}/rule/create-order`).match).toEqual({ path: "/v2/orders", headers: [{ name: ":method", string_match: { exact: "POST" } }] });
    expect(route(resources, `${SHOP}/rule/catalog/deprecation/1`).match).toEqual({
      prefix: "/v1/",
      headers: [
        { name: ":method", string_match: { safe_regex: { regex: "^(GET|HEAD)$" } } },
        { name: ":path", string_match: { prefix: "/v1/catalog" } },
      ],
    });
  });

  it("answers retired and unmatched paths directly, with every check off", () => {
    const resources = build(shopWorkload);
    const sunset = route(resources, `${SHOP}/deprecation/0/sunset`);
    expect(sunset.route).toBeUndefined();
    expect(at(sunset, "direct_response", "status")).toBe(410);
    expect(JSON.parse(str(at(sunset, "direct_response", "body", "inline_string")))).toMatchObject({ error: "gone" });
    expect(list(at(sunset, "response_headers_to_add")).map((h) => at(h, "header", "key"))).toEqual(["sunset", "link", "content-type"]);
    const notFound = route(resources, `${SHOP}/default`);
    expect(at(notFound, "direct_response", "status")).toBe(404);
    for (const r of [sunset, notFound]) {
      expect(perFilter(r)).toEqual({
        "envoy.filters.http.jwt_authn": { "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig", disabled: true },
        "envoy.filters.http.ext_authz": { "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", disabled: true },
        "envoy.filters.http.buffer": { "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", disabled: true },
      });
    }
  });

  it("selects the JWT requirement per route and disables it where no authentication is asked", () => {
    const resources = build(shopWorkload);
    const requirement = (name: string): JsonValue => at(perFilter(route(resources, name)), "envoy.filters.http.jwt_authn");
    expect(at(requirement(`${SHOP}/rule/get-order`), "requirement_name")).toBe("required");
    expect(at(requirement(`${SHOP}/rule/catalog`), "requirement_name")).toBe("optional");
    expect(at(requirement(`${SHOP}/rule/health`), "disabled")).toBe(true);
    const jwt = httpFilter(resources, "envoy.filters.http.jwt_authn");
    expect(jwt.requirement_map).toEqual({
      required: { requires_any: { requirements: [{ provider_name: `${SHOP}/jwt/auth-server` }, { provider_name: `${SHOP}/jwt/partner` }] } },
      optional: { requires_any: { requirements: [{ provider_name: `${SHOP}/jwt/auth-server` }, { provider_name: `${SHOP}/jwt/partner` }, { allow_missing: {} }] } },
    });
  });

  it("configures remote and inline JWT providers with lifetime, skew, claim headers and schemes", () => {
    const jwt = httpFilter(build(shopWorkload), "envoy.filters.http.jwt_authn");
    expect(at(jwt, "providers", `${SHOP}/jwt/auth-server`)).toEqual({
      issuer: "https://auth.example.com/",
      audiences: ["https://api.example.com", "orders"],
      remote_jwks: {
        http_uri: { uri: "https://auth.example.com/.well-known/jwks.json", cluster: "jwks/auth.example.com/443", timeout: "5s" },
        cache_duration: "600s",
        async_fetch: {},
      },
      max_lifetime: "3600s",
      clock_skew_seconds: 30,
      forward: true,
      from_headers: [
        { name: "Authorization", value_prefix: "Bearer " },
        { name: "Authorization", value_prefix: "DPoP " },
      ],
      payload_in_metadata: "jwt_payload",
      header_in_metadata: "jwt_header",
      claim_to_headers: [
        { header_name: "x-user-id", claim_name: "sub" },
        { header_name: "x-tenant", claim_name: "tenant" },
      ],
    });
    const partner = obj(at(jwt, "providers", `${SHOP}/jwt/partner`));
    expect(at(partner, "local_jwks", "inline_string")).toContain("partner-1");
    expect(partner.from_headers).toEqual([{ name: "Authorization", value_prefix: "DPoP " }]);
    expect(partner.audiences).toBeUndefined();
    expect(partner.max_lifetime).toBeUndefined();
  });

  it("keeps jwt_authn where no route authenticates, so that it still reserves the claim headers", () => {
    const open = build({ ...shopWorkload, routes: shopWorkload.routes.filter((r) => r.action.kind === "respond" || r.action.checks.authentication === "None") });
    const jwt = httpFilter(open, "envoy.filters.http.jwt_authn");
    expect(Object.keys(obj(jwt.providers ?? null))).toEqual([`${SHOP}/jwt/auth-server`, `${SHOP}/jwt/partner`]);
    expect(jwt.requirement_map).toBeUndefined();
    expect(routes(open).map((r) => at(perFilter(r), "envoy.filters.http.jwt_authn", "disabled"))).toEqual([true, true, true]);
  });

  it("requires every scope and claim on the verified payload with a per-route RBAC policy", () => {
    const resources = build(shopWorkload);
    expect(httpFilter(resources, "envoy.filters.http.rbac")).toEqual({ "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC" });
    const policy = at(perFilter(route(resources, `${SHOP}/rule/get-order`)), "envoy.filters.http.rbac", "rbac", "rules", "policies", `${SHOP}/rule/get-order`);
    expect(at(policy, "permissions")).toEqual([{ any: true }]);
    const [critical, ...ids] = list(at(policy, "principals", 0, "and_ids", "ids"));
    // A route that verifies a token first refuses one with a critical header parameter.
    expect(critical).toEqual({ not_id: { metadata: { filter: "envoy.filters.http.jwt_authn", path: [{ key: "jwt_header" }, { key: "crit" }], value: { present_match: true } } } });
    expect(ids).toHaveLength(3);
    const scope = list(at(ids[0], "or_ids", "ids"));
    expect(at(scope[0], "metadata", "filter")).toBe("envoy.filters.http.jwt_authn");
    expect(at(scope[0], "metadata", "path")).toEqual([{ key: "jwt_payload" }, { key: "scope" }]);
    // The scope claim's matchers (no regex, whatever the scope's length), evaluated as Envoy's StringMatcher does.
    const scopeMatchers = scope.slice(0, 4).map((id) => obj(at(id, "metadata", "value", "string_match")));
    const matches = (claim: string): boolean =>
      scopeMatchers.some((m) =>
        typeof m.exact === "string"
          ? claim === m.exact
          : typeof m.prefix === "string"
            ? claim.startsWith(m.prefix)
            : typeof m.suffix === "string"
              ? claim.endsWith(m.suffix)
              : claim.includes(typeof m.contains === "string" ? m.contains : "\u0000"),
      );
    expect(scope.slice(0, 4).every((id) => at(id, "metadata", "path", 1, "key") === "scope")).toBe(true);
    expect(["orders:read", "profile orders:read", "orders:read profile", "a orders:read b"].every(matches)).toBe(true);
    expect(["orders:reader", "xorders:read", "orders-read", "profile", "a orders:readb c"].some(matches)).toBe(false);
    expect(at(scope[4], "metadata")).toEqual({
      filter: "envoy.filters.http.jwt_authn",
      path: [{ key: "jwt_payload" }, { key: "scp" }],
      value: { list_match: { one_of: { string_match: { exact: "orders:read" } } } },
    });
    const tier = list(at(ids[2], "or_ids", "ids")).map((id) => at(id, "metadata", "value"));
    expect(tier).toEqual([
      { string_match: { exact: "gold" } },
      { list_match: { one_of: { string_match: { exact: "gold" } } } },
      { string_match: { exact: "silver" } },
      { list_match: { one_of: { string_match: { exact: "silver" } } } },
    ]);
    const verified = list(at(ids[1], "or_ids", "ids")).map((id) => at(id, "metadata", "value"));
    expect(verified).toContainEqual({ bool_match: true });
    // A route that authenticates without requirements checks only the critical header parameters.
    expect(
      list(
        at(perFilter(route(resources, `${SHOP}/rule/catalog`)), "envoy.filters.http.rbac", "rbac", "rules", "policies", `${SHOP}/rule/catalog`, "principals", 0, "and_ids", "ids"),
      ),
    ).toEqual([critical]);
  });

  it("calls bulwark authz only on routes with authz checks, naming the route", () => {
    const resources = build(shopWorkload);
    expect(httpFilter(resources, "envoy.filters.http.ext_authz")).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
      grpc_service: { envoy_grpc: { cluster_name: "bulwark-authz" }, timeout: "0.250s" },
      transport_api_version: "V3",
      failure_mode_allow: false,
      status_on_error: { code: "ServiceUnavailable" },
      include_peer_certificate: true,
      metadata_context_namespaces: ["envoy.filters.http.jwt_authn"],
    });
    expect(at(perFilter(route(resources, `${SHOP}/rule/get-order`)), "envoy.filters.http.ext_authz")).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
      check_settings: { context_extensions: { "bulwark.dev/route": `${SHOP}/rule/get-order` } },
    });
    expect(at(perFilter(route(resources, `${SHOP}/rule/catalog`)), "envoy.filters.http.ext_authz", "disabled")).toBe(true);
  });

  it("gives local limits a per-route token bucket, enforced or shadow", () => {
    const resources = build(shopWorkload);
    expect(httpFilter(resources, "envoy.filters.http.local_ratelimit").token_bucket).toBeUndefined();
    const burst = obj(at(perFilter(route(resources, `${SHOP}/rule/get-order`)), "envoy.filters.http.local_ratelimit"));
    expect(burst.token_bucket).toEqual({ max_tokens: 100, tokens_per_fill: 100, fill_interval: "1s" });
    expect(at(burst, "filter_enforced", "default_value")).toEqual({ numerator: 100, denominator: "HUNDRED" });
    expect(burst.enable_x_ratelimit_headers).toBe("DRAFT_VERSION_03");
    const shadow = obj(at(perFilter(route(resources, `${SHOP}/rule/catalog`)), "envoy.filters.http.local_ratelimit"));
    expect(at(shadow, "filter_enabled", "default_value")).toEqual({ numerator: 100, denominator: "HUNDRED" });
    expect(at(shadow, "filter_enforced", "default_value")).toEqual({ numerator: 0, denominator: "HUNDRED" });
    expect(shadow.enable_x_ratelimit_headers).toBeUndefined();
    expect(perFilter(route(resources, `${SHOP}/rule/create-order`))["envoy.filters.http.local_ratelimit"]).toBeUndefined();
  });

  it("sends global limits as descriptors on the stage of their failure mode", () => {
    const resources = build(shopWorkload);
    const allow = httpFilter(resources, "envoy.filters.http.ratelimit.allow_on_failure");
    const deny = httpFilter(resources, "envoy.filters.http.ratelimit.deny_on_failure");
    expect([allow.stage, allow.failure_mode_deny, deny.stage, deny.failure_mode_deny]).toEqual([0, false, 1, true]);
    expect(allow.domain).toBe("bulwark");
    expect(allow.timeout).toBe("0.100s");
    expect(allow.rate_limit_service).toEqual({ grpc_service: { envoy_grpc: { cluster_name: "bulwark-ratelimit" } }, transport_api_version: "V3" });
    expect(at(route(resources, `${SHOP}/rule/get-order`), "route", "rate_limits")).toEqual([
      {
        stage: 1,
        actions: [
          { generic_key: { descriptor_key: "limit", descriptor_value: `${SHOP}/rule/get-order/ratelimit/per-user` } },
          {
            metadata: {
              descriptor_key: "claim:sub",
              metadata_key: { key: "envoy.filters.http.jwt_authn", path: [{ key: "jwt_payload" }, { key: "sub" }] },
              source: "DYNAMIC",
              skip_if_absent: true,
            },
          },
        ],
      },
      {
        stage: 0,
        actions: [
          { generic_key: { descriptor_key: "limit", descriptor_value: `${SHOP}/rule/get-order/ratelimit/per-order` } },
          { request_headers: { header_name: ":path", descriptor_key: "pathParam:orderId" } },
          { remote_address: {} },
        ],
      },
    ]);
    expect(at(route(resources, `${SHOP}/rule/create-order`), "route", "rate_limits", 0, "actions", 2)).toEqual({
      request_headers: { header_name: "x-device-id", descriptor_key: "header:x-device-id", skip_if_absent: true },
    });
    expect(obj(at(route(resources, `${SHOP}/rule/catalog`), "route")).rate_limits).toBeUndefined();
  });

  it("buffers only the routes with a size limit", () => {
    const resources = build(shopWorkload);
    expect(at(perFilter(route(resources, `${SHOP}/rule/create-order`)), "envoy.filters.http.buffer")).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute",
      buffer: { max_request_bytes: 65536 },
    });
    expect(at(perFilter(route(resources, `${SHOP}/rule/get-order`)), "envoy.filters.http.buffer", "disabled")).toBe(true);
  });

  it("compresses with each algorithm, the preferred one chosen first", () => {
    const brotli = httpFilter(build(shopWorkload), "envoy.filters.http.compressor.brotli");
    expect(brotli.choose_first).toBe(true);
    expect(at(brotli, "response_direction_config", "common_config", "min_content_length")).toBe(1024);
    expect(at(brotli, "compressor_library", "typed_config", "@type")).toBe("type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli");
    const gzip = httpFilter(build(shopWorkload), "envoy.filters.http.compressor.gzip");
    expect(gzip.choose_first).toBeUndefined();
    expect(filterNames(build(gatewayWorkload)).filter((n) => n.includes("compressor"))).toEqual(["envoy.filters.http.compressor.gzip"]);
  });

  it("adds deprecation headers to the responses of the deprecated part of a rule", () => {
    const resources = build(shopWorkload);
    expect(list(at(route(resources, `${SHOP}/rule/catalog/deprecation/1`), "response_headers_to_add"))).toEqual([
      { header: { key: "deprecation", value: "@1767225600" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
      { header: { key: "sunset", value: "Wed, 01 Jul 2026 00:00:00 GMT" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
      { header: { key: "link", value: '<https://developer.example.com/migrate>; rel="deprecation"; type="text/html"' }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    expect(route(resources, `${SHOP}/rule/catalog`).response_headers_to_add).toBeUndefined();
  });

  it("terminates TLS 1.3 with a required client certificate when mTLS is Strict", () => {
    const listener = build(shopWorkload).listeners[0]?.resource;
    expect(list(at(listener, "filter_chains"))).toHaveLength(1);
    expect(obj(listener ?? {}).listener_filters).toBeUndefined();
    const tls = obj(at(listener, "filter_chains", 0, "transport_socket", "typed_config"));
    expect(tls.require_client_certificate).toBe(true);
    expect(at(tls, "common_tls_context", "tls_params")).toEqual({ tls_minimum_protocol_version: "TLSv1_3" });
    expect(at(tls, "common_tls_context", "tls_certificate_sds_secret_configs")).toEqual([{ name: "workload-cert", sds_config: { ads: {}, resource_api_version: "V3" } }]);
    expect(at(tls, "common_tls_context", "validation_context_sds_secret_config")).toEqual({ name: "trust-bundle", sds_config: { ads: {}, resource_api_version: "V3" } });
  });

  it("accepts TLS and plaintext side by side when mTLS is Permissive", () => {
    const listener = build(gatewayWorkload).listeners[0]?.resource;
    expect(at(listener, "listener_filters", 0, "name")).toBe("envoy.filters.listener.tls_inspector");
    const chains = list(at(listener, "filter_chains"));
    expect(chains.map((c) => at(c, "filter_chain_match"))).toEqual([{ transport_protocol: "tls" }, { transport_protocol: "raw_buffer" }]);
    expect(obj(at(chains[0], "transport_socket", "typed_config")).require_client_certificate).toBeUndefined();
    expect(obj(chains[1] ?? {}).transport_socket).toBeUndefined();
  });

  it("terminates TLS 1.2 without client certificates when mTLS is Disabled", () => {
    const tls = obj(at(build(legacyWorkload).listeners[0]?.resource, "filter_chains", 0, "transport_socket", "typed_config"));
    expect(at(tls, "common_tls_context", "tls_params", "tls_minimum_protocol_version")).toBe("TLSv1_2");
    expect(obj(at(tls, "common_tls_context")).validation_context_sds_secret_config).toBeUndefined();
  });

  it("adds the clusters the filters call: authz by DNS name, ratelimit over EDS, one per JWKS host", () => {
    const resources = build(shopWorkload);
    expect(resources.clusters.map((c) => c.name)).toEqual(["app", "bulwark-authz", "bulwark-ratelimit", "jwks/auth.example.com/443"]);
    expect(resources.endpoints.map((e) => e.name)).toEqual(["app", "bulwark-ratelimit"]);
    const cluster = (name: string): JsonObject => obj(resources.clusters.find((c) => c.name === name)?.resource ?? null);
    expect(cluster("bulwark-authz").type).toBe("STRICT_DNS");
    expect(at(cluster("bulwark-authz"), "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address")).toEqual({
      address: "bulwark-authz.bulwark-system.svc.cluster.local",
      port_value: 9001,
    });
    expect(cluster("bulwark-ratelimit").type).toBe("EDS");
    for (const name of ["bulwark-authz", "bulwark-ratelimit"]) {
      expect(at(cluster(name), "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "explicit_http_config")).toEqual({
        http2_protocol_options: {},
      });
    }
    const jwks = cluster("jwks/auth.example.com/443");
    expect(jwks.type).toBe("LOGICAL_DNS");
    expect(at(jwks, "transport_socket", "typed_config", "sni")).toBe("auth.example.com");
    expect(at(jwks, "transport_socket", "typed_config", "common_tls_context", "validation_context", "match_typed_subject_alt_names")).toEqual([
      { san_type: "DNS", matcher: { exact: "auth.example.com" } },
    ]);
    const gateway = build(gatewayWorkload);
    expect(gateway.clusters.map((c) => c.name)).toEqual(["app", "bulwark-ratelimit", "jwks/keycloak.identity.svc/8080"]);
    expect(obj(gateway.clusters[2]?.resource ?? null).transport_socket).toBeUndefined();
  });

  it("defines every cluster its listener and routes name (Envoy checks JWKS clusters only when it fetches)", () => {
    const named = (value: JsonValue, keys: readonly string[]): string[] => {
      if (Array.isArray(value)) return value.flatMap((v) => named(v, keys));
      if (value === null || typeof value !== "object") return [];
      return Object.entries(value).flatMap(([k, v]) => (keys.includes(k) && typeof v === "string" ? [v] : named(v, keys)));
    };
    for (const [name, workload] of Object.entries(irFixtures)) {
      const resources = build(workload);
      const defined = new Set(resources.clusters.map((c) => c.name));
      const used = named(
        [...resources.listeners, ...resources.routes].map((r) => r.resource),
        ["cluster", "cluster_name"],
      );
      expect(used.length, name).toBeGreaterThan(0);
      expect(
        used.filter((c) => !defined.has(c)),
        name,
      ).toEqual([]);
      const eds = resources.clusters.filter((c) => c.resource.type === "EDS").map((c) => c.name);
      expect(
        resources.endpoints.map((e) => e.name),
        name,
      ).toEqual(eds);
    }
  });

  it("needs no app cluster when every route answers directly", () => {
    const resources = build({ ...passThroughWorkload, routes: [shopWorkload.routes.at(-1)!] });
    expect(resources.clusters).toEqual([]);
    expect(resources.endpoints).toEqual([]);
  });

  it("refuses a route that requires authentication in a workload without JWT providers", () => {
    const [first] = shopWorkload.routes.filter((r) => r.action.kind === "forward" && r.action.checks.authentication === "Required");
    expect(() => build({ ...passThroughWorkload, routes: [first!] })).toThrow(/no JWT providers/);
  });

  it("is deterministic and every resource encodes without losing a field", () => {
    for (const [name, workload] of Object.entries(irFixtures)) {
      const first = build(workload);
      const again = build(structuredClone(workload));
      expect(again, name).toEqual(first);
      for (const type of ["listeners", "routes", "clusters", "endpoints"] as const) {
        for (const [i, r] of first[type].entries()) {
          const bytes = encodeResource(r.resource);
          const other = again[type][i];
          expect(bytes.equals(encodeResource(other!.resource)), `${name} ${type} ${r.name}`).toBe(true);
          expect(resourceVersion(bytes)).toMatch(/^[0-9a-f]{16}$/);
        }
        expect(first[type].map((r) => r.name)).toEqual([...first[type].map((r) => r.name)].sort());
      }
    }
  });
});
