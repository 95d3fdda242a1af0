import { Server, ServerCredentials, status, type ConnectionInjector, type ServerDuplexStream } from "@grpc/grpc-js";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { aggregatedDiscoveryService, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from "./ads-protocol.js";
import { SnapshotCache } from "./cache.js";
import { DeltaStream } from "./delta-stream.js";
import { nodeIdProblem } from "./sidecar-text.js";
import { ProtocolError, SotwStream } from "./sotw-stream.js";
import { bearerToken, nodeIdOf, type RejectionReason, type StreamAuthenticator, type StreamIdentity, type StreamRejection } from "./stream-auth.js";
import { XdsType } from "../type-urls.js";
import { errorMessage } from "../../common/errors.js";

export interface XdsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The serving certificate and key (PEM) sidecars verify. Without it the server speaks plaintext. */
  tls?: { certPem: string; keyPem: string };
  /**
   * Who may open a stream: an authenticator of each stream's bearer token, bound to the node id
   * the stream declares. `"none"` serves every stream whatever it claims to be: only for tests of
   * the protocol in one process (a warning says so when the server starts).
   */
  authentication: { authenticator: StreamAuthenticator } | "none";
  /** Called for each stream or connection refused (after the log line). */
  onRejected?: (rejection: StreamRejection) => void;
  cache?: SnapshotCache;
  /** Called with a line for each protocol problem (a stream closed for a bad request) and each rejection. */
  log?: (message: string) => void;
  /**
   * Plaintext or unauthenticated on purpose, and why (standalone mode, on loopback): said in the
   * log instead of the process warning that marks it as a test set-up.
   */
  insecureBecause?: string;
  /**
   * Close each connection after this long (±10 %, so a fleet does not reconnect at once): a
   * sidecar then reconnects, through the Service, to whichever replica it reaches, so streams
   * rebalance after a rolling restart. The stream gets a GOAWAY, then `connectionAgeGraceMs` to
   * finish. Absent: connections live as long as the sidecar.
   */
  maxConnectionAgeMs?: number;
  connectionAgeGraceMs?: number;
}

/**
 * Pending connections the kernel queues while the event loop is busy (Node's default is 511):
 * a connect storm after a restart overflowed it at 10,000 sidecars, and every dropped SYN costs
 * the sidecar 1, 3, 7 s of retransmission. The kernel caps it at net.core.somaxconn.
 */
export const XDS_LISTEN_BACKLOG = 4096;

export class ListenError extends Error {}

interface StreamHandler<Req> {
  onRequest(request: Req): void;
  close(): void;
  readonly node: string | undefined;
}

const REJECTION_CODE: Record<RejectionReason, status> = {
  plaintext: status.UNAUTHENTICATED,
  no_token: status.UNAUTHENTICATED,
  invalid_token: status.UNAUTHENTICATED,
  wrong_audience: status.UNAUTHENTICATED,
  not_pod_token: status.UNAUTHENTICATED,
  node_mismatch: status.PERMISSION_DENIED,
  unavailable: status.UNAVAILABLE,
};

/** Requests a stream may send while its token is being checked (Envoy sends one per type). */
const MAX_QUEUED_REQUESTS = 32;
/** A connection that sends nothing for this long is closed. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

type Gate = { authenticator: StreamAuthenticator; reject: (r: StreamRejection) => void } | undefined;

function serve<Req extends { node?: { id?: string } }, Res>(call: ServerDuplexStream<Req, Res>, handler: StreamHandler<Req>, log: (m: string) => void, gate: Gate): void {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    handler.close();
  };
  const fail = (code: status, details: string): void => {
    close();
    call.emit("error", { code, details });
    call.end();
  };
  const reject = (reason: RejectionReason, message: string, nodeId?: string): void => {
    if (closed || !gate) return;
    gate.reject({ reason, peer: call.getPeer(), message, ...(nodeId !== undefined ? { nodeId } : {}) });
    fail(REJECTION_CODE[reason], message);
  };
  // Until the token is checked nothing reaches the handler: no snapshot, no node id counted as connected.
  let identity: StreamIdentity | undefined;
  let queue: Req[] | undefined = gate ? [] : undefined;
  let nodeChecked = !gate;
  const handle = (request: Req): void => {
    if (closed) return;
    if (!nodeChecked && identity) {
      const declared = request.node?.id ?? "";
      const expected = nodeIdOf(identity);
      if (declared !== expected) {
        const shown = nodeIdProblem(declared) === undefined ? declared : undefined;
        reject("node_mismatch", `the token is ${identity.namespace}/${identity.pod}'s (node id ${expected}), the stream declares ${shown ?? "a malformed node id"}`, shown);
        return;
      }
      nodeChecked = true;
    }
    try {
      handler.onRequest(request);
    } catch (error) {
      const message = errorMessage(error);
      log(`closing ADS stream of ${handler.node ?? "unknown node"}: ${message}`);
      fail(error instanceof ProtocolError ? status.INVALID_ARGUMENT : status.INTERNAL, message);
    }
  };
  call.on("data", (request: Req) => {
    if (closed) return;
    if (!queue) {
      handle(request);
      return;
    }
    if (queue.length >= MAX_QUEUED_REQUESTS) {
      fail(status.RESOURCE_EXHAUSTED, `more than ${MAX_QUEUED_REQUESTS} requests before the stream was authenticated`);
      return;
    }
    queue.push(request);
  });
  call.on("end", () => {
    close();
    call.end();
  });
  call.on("error", close);
  call.on("cancelled", close);
  call.on("close", close);
  if (!gate) return;
  const header = call.metadata.get("authorization");
  const token = bearerToken(header.length === 1 && typeof header[0] === "string" ? header[0] : undefined);
  if (!token) {
    reject(
      "no_token",
      header.length === 0
        ? "no authorization metadata: sidecars present a projected ServiceAccount token (authorization: Bearer <token>)"
        : "the authorization metadata is not one Bearer token",
    );
    return;
  }
  void gate.authenticator.authenticate(token).then((result) => {
    if (closed) return;
    if (!result.ok) {
      reject(result.reason, result.message);
      return;
    }
    identity = result.identity;
    const waiting = queue ?? [];
    queue = undefined;
    for (const request of waiting) handle(request);
  });
}

/** The ADS server: state-of-the-world and delta streams over one snapshot cache, over TLS, each stream authenticated as a pod. */
export class XdsServer {
  readonly cache: SnapshotCache;
  // Without channelz: its per-message bookkeeping (timestamps, counters) is CPU every push pays for thousands of streams.
  private readonly server: Server;
  private boundPort: number | undefined;
  private readonly log: (message: string) => void;
  private listener: NetServer | undefined;
  private injector: ConnectionInjector | undefined;
  private readonly gate: Gate;

  constructor(private readonly options: XdsServerOptions) {
    const age = options.maxConnectionAgeMs;
    this.server = new Server({
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      "grpc.enable_channelz": 0,
      ...(age !== undefined ? { "grpc.max_connection_age_ms": age, "grpc.max_connection_age_grace_ms": options.connectionAgeGraceMs ?? 30_000 } : {}),
    });
    this.cache = options.cache ?? new SnapshotCache();
    this.log = options.log ?? ((): void => undefined);
    const auth = options.authentication;
    this.gate =
      auth === "none"
        ? undefined
        : {
            authenticator: auth.authenticator,
            reject: (rejection): void => {
              this.log(`refused an ADS stream from ${rejection.peer} (${rejection.reason}): ${rejection.message}`);
              options.onRejected?.(rejection);
            },
          };
    const supported = new Set<string>(Object.values(XdsType));
    this.server.addService(aggregatedDiscoveryService(), {
      StreamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void => {
        serve(call, new SotwStream(this.cache, (r) => call.write(r), supported), this.log, this.gate);
      },
      DeltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void => {
        serve(call, new DeltaStream(this.cache, (r) => call.write(r), supported), this.log, this.gate);
      },
    });
  }

  /** Starts listening; resolves with the port. A port in use is a ListenError naming it. */
  start(): Promise<number> {
    const address = `${this.options.host}:${this.options.port}`;
    const insecure = [...(this.options.tls ? [] : ["plaintext"]), ...(this.gate ? [] : ["unauthenticated"])];
    if (insecure.length > 0) {
      const risk = `the xDS server on ${address} is ${insecure.join(" and ")}: any process that reaches it can read any sidecar's configuration and workload keys.`;
      if (this.options.insecureBecause) {
        this.log(`${risk} ${this.options.insecureBecause}`);
      } else {
        this.log(`${risk} Only for tests.`);
        process.emitWarning(`${risk} Only for tests.`, "BulwarkInsecureXds");
      }
    }
    const tls = this.options.tls;
    if (!tls) return this.bindPlaintext(address);
    const credentials = ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }], false);
    const injector = this.server.createConnectionInjector(credentials);
    this.injector = injector;
    const listener = createServer((socket) => this.accept(socket, injector));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once("error", (error) =>
        reject(new ListenError(`the xDS server could not listen on ${address}: ${error.message} (is the port in use? choose another with --xds-address)`)),
      );
      listener.listen({ host: this.options.host, port: this.options.port, backlog: XDS_LISTEN_BACKLOG }, () => {
        const bound = listener.address();
        this.boundPort = typeof bound === "object" && bound ? bound.port : this.options.port;
        resolve(this.boundPort);
      });
    });
  }

  /**
   * A new connection: TLS (its first byte a handshake record) goes to gRPC; anything else —
   * plaintext HTTP/2 included — is refused, counted and closed before gRPC sees it.
   */
  private accept(socket: Socket, injector: ConnectionInjector): void {
    socket.on("error", () => socket.destroy());
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once("data", (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (first[0] !== 0x16) {
        this.gate?.reject({
          reason: "plaintext",
          peer: `${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`,
          message: "the connection is not TLS: the xDS server speaks gRPC over TLS only",
        });
        if (!this.gate) this.log(`refused a plaintext connection from ${socket.remoteAddress ?? "unknown"}`);
        socket.destroy();
        return;
      }
      socket.unshift(first);
      injector.injectConnection(socket);
    });
  }

  private bindPlaintext(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
        if (error) {
          reject(new ListenError(`the xDS server could not listen on ${address}: ${error.message} (is the port in use? choose another with --xds-address)`));
          return;
        }
        this.boundPort = port;
        resolve(port);
      });
    });
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  /** Stops accepting streams and closes the open ones (after `graceMs`). */
  stop(graceMs = 2000): Promise<void> {
    this.listener?.close();
    this.injector?.drain(graceMs);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.injector?.destroy();
        this.server.forceShutdown();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        this.injector?.destroy();
        resolve();
      });
    });
  }

  /** Closes every stream at once, as a crashed server would. */
  kill(): void {
    this.listener?.close();
    this.injector?.destroy();
    this.server.forceShutdown();
  }
}
