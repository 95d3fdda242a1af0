import { Server, ServerCredentials, status, type ServerDuplexStream } from "@grpc/grpc-js";
import {
  aggregatedDiscoveryService,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from "./ads-protocol.js";
import { SnapshotCache } from "./cache.js";
import { DeltaStream } from "./delta-stream.js";
import { ProtocolError, SotwStream } from "./sotw-stream.js";
import { TypeUrl } from "./type-urls.js";

export interface XdsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  credentials?: ServerCredentials;
  cache?: SnapshotCache;
  /** Called with a line for each protocol problem (a stream closed for a bad request). */
  log?: (message: string) => void;
}

export class ListenError extends Error {}

interface StreamHandler<Req> {
  onRequest(request: Req): void;
  close(): void;
  readonly node: string | undefined;
}

function serve<Req, Res>(call: ServerDuplexStream<Req, Res>, handler: StreamHandler<Req>, log: (m: string) => void): void {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    handler.close();
  };
  call.on("data", (request: Req) => {
    if (closed) return;
    try {
      handler.onRequest(request);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`closing ADS stream of ${handler.node ?? "unknown node"}: ${message}`);
      close();
      call.emit("error", { code: error instanceof ProtocolError ? status.INVALID_ARGUMENT : status.INTERNAL, details: message });
      call.end();
    }
  });
  call.on("end", () => {
    close();
    call.end();
  });
  call.on("error", close);
  call.on("cancelled", close);
  call.on("close", close);
}

/** The ADS server: state-of-the-world and delta streams over one snapshot cache. */
export class XdsServer {
  readonly cache: SnapshotCache;
  private readonly server = new Server({ "grpc.keepalive_time_ms": 30_000, "grpc.keepalive_timeout_ms": 10_000, "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  private boundPort: number | undefined;
  private readonly log: (message: string) => void;

  constructor(private readonly options: XdsServerOptions) {
    this.cache = options.cache ?? new SnapshotCache();
    this.log = options.log ?? ((): void => undefined);
    const supported = new Set<string>(Object.values(TypeUrl));
    this.server.addService(aggregatedDiscoveryService(), {
      StreamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void => {
        serve(call, new SotwStream(this.cache, (r) => call.write(r), supported), this.log);
      },
      DeltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void => {
        serve(call, new DeltaStream(this.cache, (r) => call.write(r), supported), this.log);
      },
    });
  }

  /** Starts listening; resolves with the port. A port in use is a ListenError naming it. */
  start(): Promise<number> {
    const address = `${this.options.host}:${this.options.port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.options.credentials ?? ServerCredentials.createInsecure(), (error, port) => {
        if (error) {
          reject(new ListenError(`the xDS server could not listen on ${address}: ${error.message} (is the port in use? choose another with --xds-port)`));
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
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.forceShutdown(), graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes every stream at once, as a crashed server would. */
  kill(): void {
    this.server.forceShutdown();
  }
}
