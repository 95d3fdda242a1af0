import type { Logger } from "pino";
import { structToJson, valueToJson } from "../../envoy/xds/proto-struct.js";
import { CHECK_PATH, decodeCheckRequest, encodeCheckResponse, type CheckRequestMessage } from "./check-codec.js";
import { GrpcH2Server } from "../grpc/h2-server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import { check, type CheckDeps } from "./check.js";
import type { RouteTableHolder } from "./config.js";
import type { Decision, Header } from "./decision.js";
import type { AuthzRequest } from "./request.js";
import { errorMessage } from "../../common/errors.js";
import { CLIENT_ADDRESS_KEY, CLIENT_ADDRESS_METADATA, JWT_AUTHN_FILTER, JWT_PAYLOAD_KEY, ROUTE_CONTEXT_KEY } from "../../contract/wire.js";

const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;

export type { CheckRequestMessage };

/** `1.2.3.4:5`, `[2001:db8::1]:5` → the address alone. */
export function withoutPort(address: string): string {
  if (address.startsWith("[")) return address.slice(1, address.indexOf("]") > 0 ? address.indexOf("]") : undefined);
  const colon = address.lastIndexOf(":");
  return colon > 0 && address.indexOf(":") === colon ? address.slice(0, colon) : address;
}

/**
 * The client's address without port: as the sidecar decided it (spec.clientAddress), when it
 * wrote it for authz (CLIENT_ADDRESS_METADATA); else the CheckRequest's source, the TCP peer.
 */
function sourceAddress(message: CheckRequestMessage): string | undefined {
  const decided = message.attributes?.metadata_context?.filter_metadata?.[CLIENT_ADDRESS_METADATA]?.fields?.[CLIENT_ADDRESS_KEY];
  const text = decided ? valueToJson(decided) : undefined;
  if (typeof text === "string" && text !== "") return withoutPort(text);
  return message.attributes?.source?.address?.socket_address?.address || undefined;
}

/** CheckRequest → what the checks read. A certificate that cannot be URL-decoded is dropped (binding checks then refuse). */
export function toAuthzRequest(message: CheckRequestMessage): AuthzRequest {
  const attributes = message.attributes ?? {};
  const http = attributes.request?.http ?? {};
  const headers: Record<string, string> = {};
  const received = http.headers;
  if (received) for (const k in received) if (Object.hasOwn(received, k)) headers[k.toLowerCase()] = received[k] as string;
  const jwt = attributes.metadata_context?.filter_metadata?.[JWT_AUTHN_FILTER]?.fields?.[JWT_PAYLOAD_KEY];
  const payload = jwt?.kind === "structValue" || jwt?.kind === "struct_value" ? structToJson(jwt.structValue ?? jwt.struct_value) : undefined;
  const request: AuthzRequest = { method: http.method ?? "", scheme: http.scheme ?? "", host: http.host || headers[":authority"] || "", path: http.path ?? "", headers };
  const route = attributes.context_extensions?.[ROUTE_CONTEXT_KEY];
  if (route !== undefined) request.route = route;
  if (payload) request.jwtPayload = payload;
  const address = sourceAddress(message);
  if (address) request.clientAddress = address;
  const certificate = peerCertificate(message);
  if (certificate) request.peerCertificate = certificate;
  return request;
}

/** The client certificate, URL-decoded; undefined when absent or not decodable (the binding checks then refuse). */
function peerCertificate(message: CheckRequestMessage): string | undefined {
  const encoded = message.attributes?.source?.certificate;
  if (!encoded) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

function headerOptions(headers: Header[]): { header: { key: string; value: string } }[] {
  return headers.map((h) => ({ header: { key: h.name, value: h.value } }));
}

/** The answer to most requests (allowed, nothing to add): serialised once by the server. */
const ALLOWED: Readonly<Record<string, unknown>> = Object.freeze({ status: { code: GRPC_OK }, ok_response: { response_headers_to_add: [] } });

export function toCheckResponse(decision: Decision): Readonly<Record<string, unknown>> {
  if (decision.allowed) {
    if (decision.upstreamHeaders || decision.removeHeaders) {
      return {
        status: { code: GRPC_OK },
        ok_response: {
          // Replaces whatever the client sent in these headers.
          headers: (decision.upstreamHeaders ?? []).map((h) => ({ header: { key: h.name, value: h.value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" })),
          headers_to_remove: decision.removeHeaders ?? [],
          response_headers_to_add: headerOptions(decision.responseHeaders),
        },
      };
    }
    return decision.responseHeaders.length === 0 ? ALLOWED : { status: { code: GRPC_OK }, ok_response: { response_headers_to_add: headerOptions(decision.responseHeaders) } };
  }
  return {
    status: { code: GRPC_PERMISSION_DENIED, message: decision.reason },
    denied_response: { status: { code: decision.status }, headers: headerOptions(decision.headers), body: decision.body },
  };
}

export interface AuthzServerOptions {
  host: string;
  port: number;
  tables: RouteTableHolder;
  deps: CheckDeps;
  log: Logger;
  /** Called after each Check with its decision (undefined when the check failed) and how long it took. */
  onDecision?: (decision: Decision | undefined, seconds: number) => void;
}

function secondsSince(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The constant "allowed" response serialised once instead of on every call. */
function checkResponseEncoder(): (value: Readonly<Record<string, unknown>>) => Uint8Array {
  const allowedBytes = encodeCheckResponse(ALLOWED);
  return (value) => (value === ALLOWED ? allowedBytes : encodeCheckResponse(value));
}

/** The ext_authz gRPC service: a thin adapter over `check`, served over node:http2 (services/grpc). */
export class AuthzServer {
  private server: GrpcH2Server | undefined;
  port: number | undefined;

  constructor(private readonly options: AuthzServerOptions) {}

  private async handle(message: CheckRequestMessage): Promise<Readonly<Record<string, unknown>>> {
    const request = toAuthzRequest(message);
    // One table per request: a swap during the decision does not split it.
    const table = this.options.tables.current();
    const onDecision = this.options.onDecision;
    const started = onDecision ? process.hrtime.bigint() : 0n;
    let decision: Decision;
    try {
      decision = await check(request, table, this.options.deps);
    } catch (error) {
      if (onDecision) onDecision(undefined, secondsSince(started));
      this.options.log.error({ route: request.route, err: errorMessage(error) }, "check failed");
      throw new GrpcError(GrpcStatus.INTERNAL, "check failed");
    }
    if (onDecision) onDecision(decision, secondsSince(started));
    if (!decision.allowed) this.options.log.info({ route: request.route, method: request.method, status: decision.status, reason: decision.reason }, "refused");
    else if (decision.shadowRefusal)
      this.options.log.info(
        { event: "bulwark_shadow_refusal", route: request.route, method: request.method, path: request.path, reason: decision.shadowRefusal },
        "would refuse (Shadow)",
      );
    return toCheckResponse(decision);
  }

  async start(): Promise<number> {
    const server = new GrpcH2Server({ onHandlerError: (path, error) => this.options.log.error({ err: errorMessage(error), path }, "gRPC handler failed") });
    server.add(CHECK_PATH, { kind: "unary", decode: decodeCheckRequest, encode: checkResponseEncoder(), handle: (message: CheckRequestMessage) => this.handle(message) });
    const port = await server.listen(this.options.host, this.options.port);
    this.server = server;
    this.port = port;
    return port;
  }

  /** Refuses new calls, finishes calls in flight for up to graceMs, then cancels the rest. */
  async stop(graceMs = 1000): Promise<void> {
    await this.server?.close(graceMs);
    this.server = undefined;
  }
}
