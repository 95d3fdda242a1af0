import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import type protobuf from "protobufjs";
import { envoyProtoRoot } from "../envoy/proto/load.js";
import type { Any } from "../envoy/xds/ads-protocol.js";
import { XdsType } from "../envoy/type-urls.js";
import { frameMessage, MessageReader } from "../services/grpc/framing.js";
import { endpointNamesOf, routeNamesOf, type AdsClientOptions } from "./ads-client.js";

/**
 * The simulated sidecar of bench/ads-client.ts with the client side of gRPC cut to what an ADS
 * stream needs: one HTTP/2 connection and one request stream per sidecar (node:http2), gRPC's
 * length-prefixed messages (services/grpc/framing.ts), requests and responses encoded and decoded by protobufjs with the
 * Envoy API. Same subscriptions and acknowledgements as AdsClient; about a third of its CPU per
 * message, so that in the push benchmark the 2 cores go to the server being measured rather than
 * to grpc-js's client channel stack (resolver, load balancer, retries, interceptors) in the fleet.
 */

const SERVICE = "/envoy.service.discovery.v3.AggregatedDiscoveryService";
/** The largest response a simulated sidecar reads (as the server's max_receive_message_length). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

interface WireTypes {
  request: protobuf.Type;
  response: protobuf.Type;
  deltaRequest: protobuf.Type;
  deltaResponse: protobuf.Type;
}

let wireTypes: WireTypes | undefined;

function types(): WireTypes {
  if (wireTypes) return wireTypes;
  const root = envoyProtoRoot();
  const lookup = (name: string): protobuf.Type => root.lookupType(`envoy.service.discovery.v3.${name}`);
  wireTypes = {
    request: lookup("DiscoveryRequest"),
    response: lookup("DiscoveryResponse"),
    deltaRequest: lookup("DeltaDiscoveryRequest"),
    deltaResponse: lookup("DeltaDiscoveryResponse"),
  };
  return wireTypes;
}

interface SotwResponse {
  version_info: string;
  resources: Any[];
  type_url: string;
  nonce: string;
}
interface DeltaResponse {
  type_url: string;
  nonce: string;
  resources: { resource?: Any | null }[];
}

const sameNames = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((n, i) => n === b[i]);

/** One simulated sidecar over node:http2: its own connection and one ADS stream (SotW or delta). */
export class AdsWireClient {
  readonly responses = { total: 0 };
  private session: ClientHttp2Session | undefined;
  private stream: ClientHttp2Stream | undefined;
  private closing = false;
  private reader = new MessageReader(MAX_RESPONSE_BYTES);
  /** A response arrived on the current stream. */
  private answered = false;
  private failed = false;
  /** Dialled again after failing before the first response. */
  redials = 0;
  /** SotW: per type, the names subscribed and the last version and nonce. */
  private readonly sotw = new Map<string, { names: string[]; version: string; nonce: string }>();
  /** Delta: names subscribed per by-name type. */
  private readonly deltaNames = new Map<string, string[]>();

  constructor(private readonly options: AdsClientOptions) {}

  start(): void {
    const session = connect(`http://${this.options.target}`);
    this.session = session;
    this.answered = false;
    this.reader = new MessageReader(MAX_RESPONSE_BYTES);
    this.sotw.clear();
    this.deltaNames.clear();
    session.on("error", (error: Error) => this.fail(error));
    session.on("close", () => this.fail(new Error("the connection closed")));
    const method = this.options.delta ? "DeltaAggregatedResources" : "StreamAggregatedResources";
    const stream = session.request({ ":method": "POST", ":path": `${SERVICE}/${method}`, "content-type": "application/grpc", te: "trailers" });
    this.stream = stream;
    stream.on("error", (error: Error) => this.fail(error));
    stream.on("trailers", (trailers: IncomingHttpHeaders) => {
      const status = String(trailers["grpc-status"] ?? "");
      if (status !== "0") this.fail(new Error(`the ADS stream ended with grpc-status ${status}: ${String(trailers["grpc-message"] ?? "")}`));
    });
    stream.on("data", (chunk: Buffer) => {
      try {
        const messages: Buffer[] = [];
        this.reader.push(chunk, messages);
        for (const message of messages) this.onMessage(message);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
    const node = { id: this.options.nodeId, cluster: "bench/sidecar" };
    if (this.options.delta) {
      this.sendDelta({ node, type_url: XdsType.Cluster, resource_names_subscribe: [] });
      this.sendDelta({ type_url: XdsType.Listener, resource_names_subscribe: [] });
      return;
    }
    for (const type of [XdsType.Cluster, XdsType.Listener]) {
      this.sotw.set(type, { names: [], version: "", nonce: "" });
      this.sendSotw({ node, type_url: type, resource_names: [], version_info: "" });
    }
  }

  /**
   * A stream that fails before its first response (a connect storm the server's accept queue
   * did not take) is dialled again after 0.5-1.5 s, as Envoy retries its ADS stream; a stream
   * that fails once it was served is an error (reported, not retried: the benchmark wants none).
   */
  private fail(error: Error): void {
    if (this.closing || this.failed) return;
    this.failed = true;
    const session = this.session;
    this.stream = undefined;
    this.session = undefined;
    session?.destroy();
    if (this.answered) {
      this.options.onError?.(error);
      return;
    }
    this.redials += 1;
    setTimeout(
      () => {
        if (this.closing) return;
        this.failed = false;
        this.start();
      },
      500 + Math.random() * 1000,
    );
  }

  private sendSotw(request: Record<string, unknown>): void {
    this.stream?.write(frameMessage(types().request.encode(request).finish()));
  }

  private sendDelta(request: Record<string, unknown>): void {
    this.stream?.write(frameMessage(types().deltaRequest.encode(request).finish()));
  }

  private onMessage(bytes: Buffer): void {
    this.responses.total += 1;
    this.answered = true;
    if (this.options.delta) this.onDelta(types().deltaResponse.decode(bytes) as unknown as DeltaResponse);
    else this.onSotw(types().response.decode(bytes) as unknown as SotwResponse);
  }

  private onSotw(response: SotwResponse): void {
    const type = response.type_url;
    // Like Envoy: subscribe to what the new clusters and listeners need before acknowledging them.
    if (type === XdsType.Cluster) this.subscribeSotw(XdsType.Endpoints, endpointNamesOf(response.resources));
    if (type === XdsType.Listener) this.subscribeSotw(XdsType.Route, routeNamesOf(response.resources));
    const state = this.sotw.get(type) ?? { names: [], version: "", nonce: "" };
    state.version = response.version_info;
    state.nonce = response.nonce;
    this.sotw.set(type, state);
    this.sendSotw({ type_url: type, version_info: state.version, response_nonce: state.nonce, resource_names: state.names });
  }

  private subscribeSotw(type: string, names: string[]): void {
    const state = this.sotw.get(type);
    if (state && sameNames(state.names, names)) return;
    const next = { names, version: state?.version ?? "", nonce: state?.nonce ?? "" };
    this.sotw.set(type, next);
    this.sendSotw({ type_url: type, version_info: next.version, response_nonce: next.nonce, resource_names: names });
  }

  private onDelta(response: DeltaResponse): void {
    const type = response.type_url;
    const resources = response.resources.flatMap((r) => (r.resource ? [r.resource] : []));
    if (type === XdsType.Cluster && resources.length > 0) this.subscribeDelta(XdsType.Endpoints, endpointNamesOf(resources));
    if (type === XdsType.Listener && resources.length > 0) this.subscribeDelta(XdsType.Route, routeNamesOf(resources));
    this.sendDelta({ type_url: type, response_nonce: response.nonce });
  }

  private subscribeDelta(type: string, names: string[]): void {
    const have = this.deltaNames.get(type) ?? [];
    const added = names.filter((n) => !have.includes(n));
    if (added.length === 0) return;
    this.deltaNames.set(type, [...new Set([...have, ...names])].sort());
    this.sendDelta({ type_url: type, resource_names_subscribe: added });
  }

  close(): void {
    this.closing = true;
    this.stream?.close();
    this.session?.close();
  }
}
