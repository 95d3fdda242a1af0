import { describe, expect, it } from "vitest";
import type { JsonObject } from "../json.js";
import { encodeResource } from "../proto/encode.js";
import { fixtureSettings, passThroughWorkload } from "../testdata/ir-fixtures.js";
import type { ClientAddressIR, RouteIR, WorkloadIR } from "../../contract/ir.js";
import { buildSidecarResources } from "./sidecar.js";
import type { SidecarResources } from "./resources.js";

function workload(clientAddress?: ClientAddressIR, tls?: WorkloadIR["listener"]["tls"]): WorkloadIR {
  return { ...passThroughWorkload, listener: { port: 8080, ...(tls ? { tls } : {}), ...(clientAddress ? { clientAddress } : {}) } };
}

function chains(resources: SidecarResources): JsonObject[] {
  return (resources.listeners[0]?.resource.filter_chains ?? []) as JsonObject[];
}

function addressFields(chain: JsonObject): JsonObject {
  const hcm = ((chain.filters as JsonObject[])[0]?.typed_config ?? {}) as JsonObject;
  const picked: JsonObject = {};
  for (const key of ["use_remote_address", "xff_num_trusted_hops", "original_ip_detection_extensions"]) if (hcm[key] !== undefined) picked[key] = hcm[key];
  return picked;
}

function encodesAll(resources: SidecarResources): void {
  for (const r of [...resources.listeners, ...resources.routes]) expect(() => encodeResource(r.resource), r.name).not.toThrow();
}

describe("the client's address in the inbound listener", () => {
  it("is the TCP peer by default, and the installation's setting applies when the policy says nothing", () => {
    const peer = buildSidecarResources(workload(), fixtureSettings);
    expect(chains(peer).map(addressFields)).toEqual([{ use_remote_address: true }]);
    const installation = buildSidecarResources(workload(), { ...fixtureSettings, clientAddress: { from: "forwardedFor", trustedHops: 2 } });
    expect(chains(installation).map(addressFields)).toEqual([{ use_remote_address: true, xff_num_trusted_hops: 2 }]);
    const overridden = buildSidecarResources(workload({ from: "peer" }), { ...fixtureSettings, clientAddress: { from: "forwardedFor", trustedHops: 2 } });
    expect(chains(overridden).map(addressFields)).toEqual([{ use_remote_address: true }]);
    encodesAll(installation);
  });

  it("believes the proxies only on filter chains that match their networks; every other peer is its own address", () => {
    const resources = buildSidecarResources(
      workload({ from: "header", header: "x-real-ip", trustedCIDRs: ["10.0.0.0/8", "fd00::/8"] }, { minVersion: "TLSv1.3", mtls: "Permissive" }),
      fixtureSettings,
    );
    const all = chains(resources);
    expect(all.map((c) => c.name)).toEqual(["tls", "plaintext", "tls/trusted-proxies", "plaintext/trusted-proxies"]);
    expect(all.map((c) => (c.filter_chain_match as JsonObject).direct_source_prefix_ranges ?? null)).toEqual([
      null,
      null,
      [
        { address_prefix: "10.0.0.0", prefix_len: 8 },
        { address_prefix: "fd00::", prefix_len: 8 },
      ],
      [
        { address_prefix: "10.0.0.0", prefix_len: 8 },
        { address_prefix: "fd00::", prefix_len: 8 },
      ],
    ]);
    expect(addressFields(all[0] ?? {})).toEqual({ use_remote_address: true });
    expect(addressFields(all[2] ?? {})).toEqual({
      original_ip_detection_extensions: [
        {
          name: "envoy.http.original_ip_detection.custom_header",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.http.original_ip_detection.custom_header.v3.CustomHeaderConfig", header_name: "x-real-ip" },
        },
      ],
    });
    // The app receives the decided address in every header that could carry one.
    const route = resources.routes[0]?.resource ?? {};
    expect((route.request_headers_to_add as JsonObject[]).map((h) => [(h.header as JsonObject).key, (h.header as JsonObject).value])).toEqual([
      ["x-envoy-external-address", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"],
      ["x-forwarded-for", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"],
      ["x-real-ip", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"],
    ]);
    encodesAll(resources);
  });
});

describe("clientCIDRs on a route", () => {
  const cidrRoute = (allow: string[], deny: string[]): RouteIR => ({
    name: "apisecuritypolicy/shop/api/rule/staff",
    match: { path: { kind: "prefix", prefix: "/staff" }, methods: [] },
    action: { kind: "forward", checks: { authentication: "None", clientCIDRs: { allow, deny }, globalRateLimits: [] }, responseHeaders: [] },
  });

  it("refuses clients inside deny or outside allow with its own RBAC filter, first in the chain, and says why", () => {
    const resources = buildSidecarResources({ ...passThroughWorkload, routes: [cidrRoute(["10.0.0.0/8"], ["10.66.0.0/16"]), ...passThroughWorkload.routes] }, fixtureSettings);
    const hcm = ((chains(resources)[0]?.filters as JsonObject[])[0]?.typed_config ?? {}) as JsonObject;
    expect((hcm.http_filters as JsonObject[]).map((f) => f.name)).toEqual(["envoy.filters.http.rbac.client_address", "envoy.filters.http.router"]);
    const mapper = ((hcm.local_reply_config as JsonObject).mappers as JsonObject[])[0] ?? {};
    expect(mapper.headers_to_add).toEqual([{ header: { key: "x-bulwark-reason", value: "client_address_denied" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }]);
    const routes = (((resources.routes[0]?.resource.virtual_hosts as JsonObject[])[0]?.routes ?? []) as JsonObject[]).map((r) => r.typed_per_filter_config ?? null);
    expect(routes[1]).toBeNull();
    expect(routes[0]).toEqual({
      "envoy.filters.http.rbac.client_address": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
        rbac: {
          rules: {
            action: "DENY",
            policies: {
              "bulwark-client-address": {
                permissions: [{ any: true }],
                principals: [
                  { or_ids: { ids: [{ remote_ip: { address_prefix: "10.66.0.0", prefix_len: 16 } }, { not_id: { remote_ip: { address_prefix: "10.0.0.0", prefix_len: 8 } } }] } },
                ],
              },
            },
          },
        },
      },
    });
    encodesAll(resources);
  });

  it("adds nothing to workloads without clientCIDRs", () => {
    const hcm = ((chains(buildSidecarResources(passThroughWorkload, fixtureSettings))[0]?.filters as JsonObject[])[0]?.typed_config ?? {}) as JsonObject;
    expect(hcm.local_reply_config).toBeUndefined();
  });
});
