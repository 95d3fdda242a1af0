import type { Server } from "node:http";
import { parseArgs } from "node:util";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import type { Logger } from "pino";
import { RouteTableHolder } from "../services/authz/config.js";
import { DpopNonces } from "../services/authz/dpop-nonce.js";
import { jwksInUse, KeySets } from "../services/authz/keys.js";
import { replayStoreFor } from "./replay-store-target.js";
import { adaptiveStoresFor } from "./adaptive-target.js";
import { AdaptiveCache } from "../services/authz/adaptive-cache.js";
import { describeTarget, redisTarget, RedisTargetError } from "../common/redis-target.js";
import { authzHealthChecks } from "../services/authz/health.js";
import { AuthzMetrics } from "../services/authz/metrics.js";
import { AuthzServer } from "../services/authz/service.js";
import { applyTranslation } from "../services/authz/source.js";
import { startHttpServer } from "../operator/kube/http-server.js";
import { readObjectFlags } from "./object-files.js";
import { parseAddress, UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";

export const authzHelp = `usage: bulwark authz [flags]

Serves envoy.service.auth.v3.Authorization (Envoy ext_authz over gRPC) for the routes whose
policies need more than Envoy can check: DPoP (RFC 9449), certificate-bound tokens (RFC 8705),
app attestation, object ownership and minimum app versions. Its configuration comes from the same
translation as the sidecars': it watches Kubernetes itself (or reads files with -f) and swaps its
route table atomically; it keeps its last configuration when the controller or the API server is
gone.

flags (environment variable in brackets):
  --kubeconfig PATH          kubeconfig to use [KUBECONFIG]; in-cluster configuration when unset
  -f, --filename PATH        read objects from files or directories instead of watching Kubernetes (repeatable)
  --address HOST:PORT        where Envoy calls Check [BULWARK_AUTHZ_ADDRESS] (default 0.0.0.0:9191)
  --http-address HOST:PORT   /healthz, /readyz (ready once a route table is loaded) and /metrics
                             [BULWARK_AUTHZ_HTTP_ADDRESS] (default 0.0.0.0:9192)
  --redis-url URL            DPoP replay cache and adaptive blocks shared by replicas [BULWARK_REDIS_URL]; in memory when unset (one replica only)
  --redis-cluster-nodes LIST the replay cache in a Redis Cluster instead: HOST:PORT,... of a few of its nodes
                             [BULWARK_REDIS_CLUSTER_NODES]; a shard that fails over refuses the proofs issued before
  --dpop-nonce-secret S      secret for DPoP server nonces, the same on every replica [BULWARK_DPOP_NONCE_SECRET]; random when unset
  --log-level LEVEL          trace, debug, info, warn, error [BULWARK_LOG_LEVEL] (default info)
  -h, --help                 this text
`;

function flag(values: Record<string, unknown>, name: string, env: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : process.env[env];
}

async function loadFiles(paths: string[], tables: RouteTableHolder, log: Logger): Promise<void> {
  const { input, problems } = await readObjectFlags(paths);
  if (problems.length > 0) throw new UsageError(`cannot read the objects: ${JSON.stringify(problems)}`);
  if (applyTranslation({ ...input, now: new Date().toISOString() }, tables, log) === undefined) throw new Error("the objects do not translate");
}

/** The replay cache's store from the two flags; a usage error names what is wrong. */
function storeTarget(url: string | undefined, clusterNodes: string | undefined): ReturnType<typeof redisTarget> {
  try {
    return redisTarget({ url, clusterNodes });
  } catch (error) {
    if (error instanceof RedisTargetError) throw new UsageError(error.message);
    throw error;
  }
}

/** Runs bulwark authz until SIGTERM or SIGINT; resolves with the exit code. */
export async function runAuthz(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: "string" },
      filename: { type: "string", short: "f", multiple: true },
      address: { type: "string" },
      "http-address": { type: "string" },
      "redis-url": { type: "string" },
      "redis-cluster-nodes": { type: "string" },
      "dpop-nonce-secret": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(authzHelp);
    return 0;
  }
  const levels = ["trace", "debug", "info", "warn", "error"];
  const level = flag(values, "log-level", "BULWARK_LOG_LEVEL") ?? "info";
  if (!levels.includes(level)) throw new UsageError(`--log-level ${level} is not one of ${levels.join(", ")}`);
  const log = componentLogger("authz", level);
  const address = parseAddress(flag(values, "address", "BULWARK_AUTHZ_ADDRESS") ?? "0.0.0.0:9191", "--address");
  const httpAddress = parseAddress(flag(values, "http-address", "BULWARK_AUTHZ_HTTP_ADDRESS") ?? "0.0.0.0:9192", "--http-address");
  const target = storeTarget(flag(values, "redis-url", "BULWARK_REDIS_URL"), flag(values, "redis-cluster-nodes", "BULWARK_REDIS_CLUSTER_NODES"));
  const secret = flag(values, "dpop-nonce-secret", "BULWARK_DPOP_NONCE_SECRET");

  const tables = new RouteTableHolder();
  const { replay, disconnect } = replayStoreFor(target, log);
  const adaptive = adaptiveStoresFor(target, log);
  const keySets = new KeySets({ onError: (uri, error) => log.warn({ uri, err: errorMessage(error) }, "JWKS fetch failed; keeping the last good keys") });
  tables.onSwap((table) => keySets.retain(jwksInUse(table)));
  const metrics = new AuthzMetrics(tables, keySets);
  const server = new AuthzServer({
    host: address.host,
    port: address.port,
    tables,
    deps: {
      now: Date.now,
      replay,
      nonces: new DpopNonces(secret !== undefined ? { secret } : {}),
      keys: keySets.keys,
      adaptive: { actions: new AdaptiveCache(adaptive.actions), counters: adaptive.counters },
    },
    log,
    onDecision: metrics.record,
  });

  let stopping = false;
  let http: Server | undefined;
  let source: { stop(): Promise<void> } | undefined;
  const close = async (): Promise<void> => {
    stopping = true;
    await server.stop(2000);
    await source?.stop();
    // QUIT waits for a Redis that may be away: give it a second, then drop the connection (and its reconnect timer).
    await Promise.race([replay.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    disconnect();
    await Promise.race([Promise.all([adaptive.actions.close(), adaptive.counters.close()]).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    await new Promise((r) => (http ? http.close(r) : r(undefined)));
  };
  try {
    http = await startHttpServer({
      host: httpAddress.host,
      port: httpAddress.port,
      registry: metrics.registry,
      checks: authzHealthChecks({ tables, serving: () => server.port !== undefined, stopping: () => stopping }),
    });
    if (values.filename && values.filename.length > 0) {
      await loadFiles(values.filename, tables, log);
    } else {
      // The Kubernetes client is loaded only here: authz reading files stays small (#19).
      const { watchRouteTables } = await import("./authz-route-watch.js");
      source = watchRouteTables(values.kubeconfig, tables, log);
    }
    const port = await server.start().catch((error: unknown) => {
      throw new Error(`cannot serve Check on ${address.host}:${address.port}: ${errorMessage(error)}`);
    });
    log.info(
      { address: `${address.host}:${port}`, http: `${httpAddress.host}:${httpAddress.port}`, replay: describeTarget(target), version: tables.current()?.version },
      "authz started",
    );
  } catch (error) {
    // Nothing may keep the process alive after a failed start (the Redis connection, the watches, the servers).
    await close();
    throw error;
  }

  return untilSignal(log, close);
}
