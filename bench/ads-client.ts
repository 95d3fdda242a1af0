import { Client, credentials, Metadata, type ChannelCredentials, type ClientDuplexStream, type MethodDefinition } from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { messageTypeOf } from "../envoy/proto/load.js";
import {
  aggregatedDiscoveryService,
  type Any,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from "../envoy/xds/ads-protocol.js";
import { XdsType } from "../envoy/type-urls.js";

/**
 * A lightweight ADS client that behaves like an Envoy sidecar towards the server, for load
 * tests: it requests clusters and listeners as a whole, then the endpoint sets its clusters
 * and the route configurations its listeners name, and acknowledges every response (SotW:
 * with its version and nonce; delta: with its nonce). It decodes what it needs to find those
 * names and nothing else; it applies nothing.
 */

const HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

let types: { cluster: protobuf.Type; listener: protobuf.Type; hcm: protobuf.Type } | undefined;

function envoyTypes(): { cluster: protobuf.Type; listener: protobuf.Type; hcm: protobuf.Type } {
  if (types) return types;
  const lookup = (url: string): protobuf.Type => {
    const type = messageTypeOf(url);
    if (!type) throw new Error(`no message type for ${url}`);
    return type;
  };
  types = { cluster: lookup(XdsType.Cluster), listener: lookup(XdsType.Listener), hcm: lookup(HCM_TYPE) };
  return types;
}

interface ClusterMessage {
  name?: string;
  type?: number;
  eds_cluster_config?: { service_name?: string };
}
interface ListenerMessage {
  filter_chains?: { filters?: { typed_config?: { type_url?: string; value?: Uint8Array } }[] }[];
  api_listener?: { api_listener?: { type_url?: string; value?: Uint8Array } };
}
interface HcmMessage {
  rds?: { route_config_name?: string };
}

const EDS_DISCOVERY_TYPE = 3; // envoy.config.cluster.v3.Cluster.DiscoveryType.EDS

/** Names of the endpoint sets the clusters need (EDS clusters only). */
export function endpointNamesOf(resources: readonly Any[]): string[] {
  const { cluster } = envoyTypes();
  const names = new Set<string>();
  for (const any of resources) {
    const c = cluster.decode(any.value) as unknown as ClusterMessage;
    if (c.type === EDS_DISCOVERY_TYPE) names.add(c.eds_cluster_config?.service_name || (c.name ?? ""));
  }
  return [...names].sort();
}

/** Names of the route configurations the listeners' HTTP connection managers load over RDS. */
export function routeNamesOf(resources: readonly Any[]): string[] {
  const { listener, hcm } = envoyTypes();
  const names = new Set<string>();
  const visit = (any: { type_url?: string; value?: Uint8Array } | undefined): void => {
    if (any?.type_url !== HCM_TYPE || !any.value) return;
    const name = (hcm.decode(any.value) as unknown as HcmMessage).rds?.route_config_name;
    if (name) names.add(name);
  };
  for (const any of resources) {
    const l = listener.decode(any.value) as unknown as ListenerMessage;
    for (const chain of l.filter_chains ?? []) for (const filter of chain.filters ?? []) visit(filter.typed_config);
    visit(l.api_listener?.api_listener);
  }
  return [...names].sort();
}

const sameNames = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((n, i) => n === b[i]);

export interface AdsClientOptions {
  /** `127.0.0.1:<port>` */
  target: string;
  nodeId: string;
  delta: boolean;
  /** Called when the stream fails (not when closed by `close()`). */
  onError?: (error: Error) => void;
  /** TLS towards a controller that serves xDS over TLS (default: plaintext, for an in-process server). */
  credentials?: ChannelCredentials;
  /** Sent as `authorization: Bearer <token>` (a controller authenticates every stream as a pod). */
  token?: string;
}

/** One simulated sidecar: its own HTTP/2 connection (no shared subchannel) and one ADS stream. */
export class AdsClient {
  readonly responses = { total: 0 };
  private readonly client: Client;
  private stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> | undefined;
  private closing = false;
  /** SotW: per type, the names subscribed and the last version and nonce. */
  private readonly sotw = new Map<string, { names: string[]; version: string; nonce: string }>();
  /** Delta: names subscribed per by-name type. */
  private readonly deltaNames = new Map<string, string[]>();

  constructor(private readonly options: AdsClientOptions) {
    this.client = new Client(options.target, options.credentials ?? credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
  }

  start(): void {
    const service = aggregatedDiscoveryService();
    const node = { id: this.options.nodeId, cluster: "bench/sidecar" };
    if (this.options.delta) {
      const method = service.DeltaAggregatedResources as MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
      const stream = this.client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, this.metadata());
      this.stream = stream;
      this.watch(stream);
      stream.on("data", (response: DeltaDiscoveryResponse) => this.onDelta(stream, response));
      stream.write({ node, type_url: XdsType.Cluster, resource_names_subscribe: [] });
      stream.write({ type_url: XdsType.Listener, resource_names_subscribe: [] });
    } else {
      const method = service.StreamAggregatedResources as MethodDefinition<DiscoveryRequest, DiscoveryResponse>;
      const stream = this.client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, this.metadata());
      this.stream = stream;
      this.watch(stream);
      stream.on("data", (response: DiscoveryResponse) => this.onSotw(stream, response));
      for (const type of [XdsType.Cluster, XdsType.Listener]) {
        this.sotw.set(type, { names: [], version: "", nonce: "" });
        stream.write({ node, type_url: type, resource_names: [], version_info: "" });
      }
    }
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    if (this.options.token) metadata.set("authorization", `Bearer ${this.options.token}`);
    return metadata;
  }

  private watch(stream: NodeJS.EventEmitter): void {
    stream.on("error", (error: Error) => {
      if (!this.closing) this.options.onError?.(error);
    });
  }

  private onSotw(stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>, response: DiscoveryResponse): void {
    this.responses.total += 1;
    const type = response.type_url;
    // Like Envoy: subscribe to what the new clusters and listeners need before acknowledging them.
    if (type === XdsType.Cluster) this.subscribeSotw(stream, XdsType.Endpoints, endpointNamesOf(response.resources));
    if (type === XdsType.Listener) this.subscribeSotw(stream, XdsType.Route, routeNamesOf(response.resources));
    const state = this.sotw.get(type) ?? { names: [], version: "", nonce: "" };
    state.version = response.version_info;
    state.nonce = response.nonce;
    this.sotw.set(type, state);
    stream.write({ type_url: type, version_info: state.version, response_nonce: state.nonce, resource_names: state.names });
  }

  private subscribeSotw(stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>, type: string, names: string[]): void {
    const state = this.sotw.get(type);
    if (state && sameNames(state.names, names)) return;
    const next = { names, version: state?.version ?? "", nonce: state?.nonce ?? "" };
    this.sotw.set(type, next);
    stream.write({ type_url: type, version_info: next.version, response_nonce: next.nonce, resource_names: names });
  }

  private onDelta(stream: ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>, response: DeltaDiscoveryResponse): void {
    this.responses.total += 1;
    const type = response.type_url;
    const resources = response.resources.map((r) => r.resource);
    if (type === XdsType.Cluster && resources.length > 0) this.subscribeDelta(stream, XdsType.Endpoints, endpointNamesOf(resources));
    if (type === XdsType.Listener && resources.length > 0) this.subscribeDelta(stream, XdsType.Route, routeNamesOf(resources));
    stream.write({ type_url: type, response_nonce: response.nonce });
  }

  private subscribeDelta(stream: ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>, type: string, names: string[]): void {
    const have = this.deltaNames.get(type) ?? [];
    const added = names.filter((n) => !have.includes(n));
    if (added.length === 0) return;
    this.deltaNames.set(type, [...new Set([...have, ...names])].sort());
    stream.write({ type_url: type, resource_names_subscribe: added });
  }

  close(): void {
    this.closing = true;
    this.stream?.cancel();
    this.client.close();
  }
}
