import type { MethodDefinition } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { aggregatedDiscoveryService, type DeltaDiscoveryResponse, type DiscoveryResponse } from "./ads-protocol.js";
import { encodeDeltaDiscoveryResponse, encodeDiscoveryResponse } from "./response-encoding.js";
import { encodeResource } from "../proto/encode.js";
import { XdsType } from "../type-urls.js";
import { CLUSTER_NAME, edsClusterJson, listenerJson, loadAssignmentJson, routeJson } from "../../test/support/xds-resources.js";

/** What grpc-js's proto serializer writes for the whole response object (the encoding before response-encoding.ts). */
function serializer<T>(method: "StreamAggregatedResources" | "DeltaAggregatedResources"): (value: T) => Buffer {
  const definition = aggregatedDiscoveryService()[method] as MethodDefinition<unknown, T>;
  return (value) => definition.responseSerialize(value);
}
const wholeSotw = serializer<DiscoveryResponse>("StreamAggregatedResources");
const wholeDelta = serializer<DeltaDiscoveryResponse>("DeltaAggregatedResources");
function decodeSotw(bytes: Buffer): DiscoveryResponse {
  return (aggregatedDiscoveryService().StreamAggregatedResources as MethodDefinition<unknown, DiscoveryResponse>).responseDeserialize(bytes);
}

const route = encodeResource(routeJson({ listenerPort: 8080, upstreamPort: 9000, configTag: "a", extraRoutes: 5 }));
const otherRoute = encodeResource(routeJson({ listenerPort: 8080, upstreamPort: 9000, configTag: "b", extraRoutes: 5 }));
const cluster = encodeResource(edsClusterJson(CLUSTER_NAME));
const endpoints = encodeResource(loadAssignmentJson(CLUSTER_NAME, [9000]));
const listener = encodeResource(listenerJson(8080));

describe("encodeDiscoveryResponse", () => {
  const cases: [string, DiscoveryResponse][] = [
    ["one resource", { version_info: "0123456789abcdef", type_url: XdsType.Route, nonce: "7", resources: [{ type_url: XdsType.Route, value: route }] }],
    [
      "several resources, in order",
      {
        version_info: "v2",
        type_url: XdsType.Cluster,
        nonce: "12",
        resources: [
          { type_url: XdsType.Cluster, value: cluster },
          { type_url: XdsType.Cluster, value: endpoints },
        ],
      },
    ],
    ["no resources (every one removed)", { version_info: "v3", type_url: XdsType.Listener, nonce: "3", resources: [] }],
    ["empty version", { version_info: "", type_url: XdsType.Listener, nonce: "1", resources: [{ type_url: XdsType.Listener, value: listener }] }],
  ];

  it.each(cases)("writes the same bytes as encoding the whole response: %s", (_name, response) => {
    expect(encodeDiscoveryResponse(response).equals(wholeSotw(response))).toBe(true);
  });

  it("decodes to the response it was given", () => {
    const response: DiscoveryResponse = { version_info: "v9", type_url: XdsType.Route, nonce: "44", resources: [{ type_url: XdsType.Route, value: route }] };
    const decoded = decodeSotw(encodeDiscoveryResponse(response));
    expect(decoded.version_info).toBe("v9");
    expect(decoded.nonce).toBe("44");
    expect(decoded.type_url).toBe(XdsType.Route);
    expect(decoded.resources.map((r) => Buffer.from(r.value).equals(route))).toEqual([true]);
  });

  it("reuses a resource's encoding across responses, yet never under another type URL", () => {
    const first = encodeDiscoveryResponse({ version_info: "a", type_url: XdsType.Route, nonce: "1", resources: [{ type_url: XdsType.Route, value: otherRoute }] });
    const second = encodeDiscoveryResponse({ version_info: "a", type_url: XdsType.Route, nonce: "2", resources: [{ type_url: XdsType.Route, value: otherRoute }] });
    expect(second.subarray(0, first.length - 1).equals(first.subarray(0, first.length - 1))).toBe(true);
    const relabelled: DiscoveryResponse = { version_info: "a", type_url: XdsType.Secret, nonce: "3", resources: [{ type_url: XdsType.Secret, value: otherRoute }] };
    expect(encodeDiscoveryResponse(relabelled).equals(wholeSotw(relabelled))).toBe(true);
    expect(decodeSotw(encodeDiscoveryResponse(relabelled)).resources[0]?.type_url).toBe(XdsType.Secret);
  });
});

describe("encodeDeltaDiscoveryResponse", () => {
  const resource = (name: string, version: string, value: Buffer, typeUrl: string = XdsType.Route): DeltaDiscoveryResponse["resources"][number] => ({
    name,
    version,
    resource: { type_url: typeUrl, value },
  });
  const cases: [string, DeltaDiscoveryResponse][] = [
    ["updates", { system_version_info: "s1", type_url: XdsType.Route, nonce: "1", removed_resources: [], resources: [resource("inbound", "r1", route)] }],
    [
      "updates and removals",
      {
        system_version_info: "s2",
        type_url: XdsType.Cluster,
        nonce: "2",
        removed_resources: ["old-a", "old-b"],
        resources: [resource("app", "c1", cluster, XdsType.Cluster), resource("db", "c2", endpoints, XdsType.Cluster)],
      },
    ],
    ["removals only", { system_version_info: "s3", type_url: XdsType.Listener, nonce: "3", removed_resources: ["inbound"], resources: [] }],
  ];

  it.each(cases)("writes the same bytes as encoding the whole response: %s", (_name, response) => {
    expect(encodeDeltaDiscoveryResponse(response).equals(wholeDelta(response))).toBe(true);
  });

  it("does not reuse a resource's encoding under another name or version", () => {
    const a: DeltaDiscoveryResponse = { system_version_info: "x", type_url: XdsType.Route, nonce: "1", removed_resources: [], resources: [resource("one", "v1", otherRoute)] };
    const b: DeltaDiscoveryResponse = { ...a, resources: [resource("two", "v2", otherRoute)] };
    expect(encodeDeltaDiscoveryResponse(a).equals(wholeDelta(a))).toBe(true);
    expect(encodeDeltaDiscoveryResponse(b).equals(wholeDelta(b))).toBe(true);
  });
});
