import type { Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import { decide, type Decision, type DescriptorInput } from "./decide.js";
import type { LimitIndex } from "./limits.js";
import type { GlobalRateLimitIR } from "../../contract/ir.js";
import { countOutcome, type Outcome } from "./outcomes.js";
import type { HttpAccessLogEntryMessage, RateLimitRequestMessage, RateLimitResponseMessage, StreamAccessLogsMessage } from "./messages.js";
import { decodeRateLimitRequest, decodeStreamAccessLogs, encodeRateLimitResponse, encodeStreamAccessLogsResponse } from "./codec.js";
import { GrpcH2Server, type StreamCall, type StreamHandlers } from "../grpc/h2-server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import type { CounterStore } from "./store.js";
import { RefusalCache } from "./refusal-cache.js";
import { structToJson } from "../../envoy/xds/proto-struct.js";
import { errorMessage } from "../../common/errors.js";
import { JWT_AUTHN_FILTER, JWT_PAYLOAD_KEY, STREAM_ACCESS_LOGS_PATH } from "../../contract/wire.js";

type DecisionResult = "ok" | "over_limit" | "shadow_over_limit";
const DECISION_RESULTS: readonly DecisionResult[] = ["ok", "over_limit", "shadow_over_limit"];

const SHOULD_RATE_LIMIT = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";
/** Access-log batches of one stream waiting to be counted before its reading pauses. */
const MAX_WAITING_BATCHES = 64;

export class RateLimitMetrics {
  readonly decisions: Counter<"limit" | "result">;
  readonly outcomes: Counter<"limit">;
  readonly degraded: Gauge;
  readonly limits: Gauge;
  readonly memoryEvictions: Counter;
  readonly storeFallbacks: Counter;
  /** Read when /metrics is scraped: counters held in memory. */
  memoryCounters: () => number = () => 0;
  /** Read when /metrics is scraped: whether the store counts per replica in memory. */
  isDegraded: () => boolean = () => false;
  /** Read when /metrics is scraped: how many Global limits the latest translation has. */
  knownLimits: () => number = () => 0;
  /** Run before the decisions counter is read: services add the decisions they counted meanwhile. */
  readonly beforeDecisionsRead: (() => void)[] = [];

  constructor(readonly registry: Registry = new Registry()) {
    const pending = this.beforeDecisionsRead;
    this.decisions = new Counter({
      name: "bulwark_ratelimit_decisions_total",
      help: "Descriptors decided, by limit and result (ok, over_limit, shadow_over_limit: refused in Shadow mode, only reported).",
      labelNames: ["limit", "result"],
      registers: [registry],
      collect(): void {
        for (const add of pending) add();
      },
    });
    this.outcomes = new Counter({
      name: "bulwark_ratelimit_outcomes_counted_total",
      help: "Responses that spent an outcome-aware budget.",
      labelNames: ["limit"],
      registers: [registry],
    });
    const degraded = (): boolean => this.isDegraded();
    this.degraded = new Gauge({
      name: "bulwark_ratelimit_store_degraded",
      help: "1 while counting per replica in memory because Redis is unavailable.",
      registers: [registry],
      collect(): void {
        this.set(degraded() ? 1 : 0);
      },
    });
    this.memoryEvictions = new Counter({
      name: "bulwark_ratelimit_memory_evictions_total",
      help: "Counters evicted from memory to stay within --memory-counters (least-spent first); each one's budget restarts (fails open for that key).",
      registers: [registry],
    });
    this.storeFallbacks = new Counter({
      name: "bulwark_ratelimit_store_fallbacks_total",
      help: "Budgets counted in this replica's memory because Redis did not answer in time or was unavailable (each one limited per replica, not shared).",
      registers: [registry],
    });
    const held = (): number => this.memoryCounters();
    new Gauge({
      name: "bulwark_ratelimit_memory_counters",
      help: "Counters held in memory (the store without Redis, or the fallback while Redis is away).",
      registers: [registry],
      collect(): void {
        this.set(held());
      },
    });
    const known = (): number => this.knownLimits();
    this.limits = new Gauge({
      name: "bulwark_ratelimit_limits",
      help: "Global limits this replica knows (from the latest translation).",
      registers: [registry],
      collect(): void {
        this.set(known());
      },
    });
  }
}

export interface RateLimitServiceOptions {
  store: CounterStore;
  /** The current limits (from the latest translation). */
  limits: () => LimitIndex;
  domain: string;
  log: Logger;
  metrics?: RateLimitMetrics;
  now?: () => number;
  /** Remember spent budgets in this process until they could fit again (RefusalCache); default true. */
  refusalCache?: boolean;
}

/** The finished request an access-log entry describes. */
export function outcomeOf(entry: HttpAccessLogEntryMessage): Outcome | undefined {
  const common = entry.common_properties;
  const code = entry.response?.response_code?.value;
  if (!common?.route_name || code === undefined) return undefined;
  return {
    routeName: common.route_name,
    responseCode: code,
    clientAddress: common.downstream_remote_address?.socket_address?.address ?? "",
    requestHeaders: new Map(Object.entries(entry.request?.request_headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    path: entry.request?.path ?? "",
    claims: (structToJson(common.metadata?.filter_metadata?.[JWT_AUTHN_FILTER])[JWT_PAYLOAD_KEY] ?? {}) as Record<string, unknown>,
  };
}

/** A descriptor with every entry's key and value (as the server's codec gives them). */
function complete(d: NonNullable<RateLimitRequestMessage["descriptors"]>[number]): boolean {
  const entries = d.entries;
  if (!entries) return false;
  for (const e of entries) if (e.key === undefined || e.value === undefined) return false;
  return true;
}

export function responseMessage(decision: Decision): RateLimitResponseMessage {
  return {
    overall_code: decision.code,
    statuses: decision.descriptors.map((d) => ({
      code: d.code,
      ...(d.limit ? { limit_remaining: d.remaining, duration_until_reset: { seconds: d.resetSeconds } } : {}),
    })),
    response_headers_to_add: decision.responseHeaders,
  };
}

/**
 * bulwark ratelimit's gRPC face: RateLimitService/ShouldRateLimit (a thin adapter over decide())
 * and AccessLogService/StreamAccessLogs, through which sidecars report finished requests of
 * routes with outcome-aware budgets (countOutcome()).
 */
export class RateLimitGrpcService {
  private server: GrpcH2Server | undefined;
  readonly metrics: RateLimitMetrics;
  /** Access-log entries received and budgets they spent (for tests and diagnostics). */
  readonly stats = { decisions: 0, outcomesReceived: 0, outcomesCounted: 0 };
  private readonly now: () => number;
  /** The store, behind the cache of refusals unless turned off. */
  private readonly store: CounterStore;

  constructor(private readonly options: RateLimitServiceOptions) {
    this.metrics = options.metrics ?? new RateLimitMetrics();
    this.now = options.now ?? Date.now;
    this.store = options.refusalCache === false ? options.store : new RefusalCache(options.store);
    this.metrics.beforeDecisionsRead.push(this.addUncounted);
  }

  /**
   * Decisions by limit and result since the decisions counter was last read: a number added per
   * call, folded into the counter (labels hashed by prom-client) only when it is read.
   */
  private readonly uncounted = new Map<GlobalRateLimitIR, Record<DecisionResult, number>>();

  private countDecision(limit: GlobalRateLimitIR, result: DecisionResult): void {
    let counts = this.uncounted.get(limit);
    if (!counts) {
      counts = { ok: 0, over_limit: 0, shadow_over_limit: 0 };
      this.uncounted.set(limit, counts);
    }
    counts[result]++;
  }

  private readonly addUncounted = (): void => {
    for (const [limit, counts] of this.uncounted)
      for (const result of DECISION_RESULTS)
        if (counts[result] > 0) {
          this.metrics.decisions.inc({ limit: limit.name, result }, counts[result]);
          counts[result] = 0;
        }
  };

  /** What was warned about (a misconfiguration repeats on every request: logged once, not per call). */
  private readonly warned = new Set<string>();

  private warnOnce(what: string, warn: () => void): void {
    if (this.warned.has(what)) return;
    if (this.warned.size >= 1000) this.warned.clear();
    this.warned.add(what);
    warn();
  }

  /** Limits are replaced by a new translation: series of limits that are gone are not kept. */
  private lastLimits: LimitIndex | undefined;

  async shouldRateLimit(request: RateLimitRequestMessage): Promise<RateLimitResponseMessage> {
    // The server's codec (codec.ts) gives every field; other callers may leave some out.
    const given = request.descriptors ?? [];
    const descriptors = given.every(complete)
      ? (given as DescriptorInput[])
      : given.map((d) => (complete(d) ? (d as DescriptorInput) : { entries: (d.entries ?? []).map((e) => ({ key: e.key ?? "", value: e.value ?? "" })) }));
    if ((request.domain ?? "") !== this.options.domain) {
      this.warnOnce(`domain ${request.domain ?? ""}`, () =>
        this.options.log.warn({ domain: request.domain }, "rate-limit request for another domain; allowed (logged once per domain)"),
      );
      return { overall_code: "OK", statuses: descriptors.map(() => ({ code: "OK" })), response_headers_to_add: [] };
    }
    const limits = this.options.limits();
    if (limits !== this.lastLimits) {
      this.lastLimits = limits;
      this.addUncounted();
      this.uncounted.clear();
      this.warned.clear();
    }
    const decision = await decide({ descriptors, hitsAddend: request.hits_addend ?? 0 }, limits, this.store, this.now());
    this.stats.decisions++;
    for (const d of decision.descriptors) {
      if (!d.limit) {
        const name = d.limitName;
        if (name !== undefined)
          this.warnOnce(`limit ${name}`, () =>
            this.options.log.warn({ limit: name }, "descriptor names a limit this replica does not know; allowed (logged once per limit until the limits change)"),
          );
        continue;
      }
      const result = !d.exceeded ? "ok" : d.code === "OVER_LIMIT" ? "over_limit" : "shadow_over_limit";
      this.countDecision(d.limit, result);
      if (result === "shadow_over_limit") this.options.log.info({ limit: d.limit.name, key: d.key }, "shadow limit exceeded; request allowed");
    }
    return responseMessage(decision);
  }

  async recordAccessLogs(message: StreamAccessLogsMessage): Promise<void> {
    for (const entry of message.http_logs?.log_entry ?? []) {
      const outcome = outcomeOf(entry);
      if (!outcome) continue;
      this.stats.outcomesReceived++;
      try {
        const spent = await countOutcome(outcome, this.options.limits(), this.store, this.now());
        for (const limit of spent) this.metrics.outcomes.inc({ limit });
        this.stats.outcomesCounted += spent.length;
      } catch (error) {
        // One entry that cannot be counted does not cost the others of its batch.
        this.options.log.warn({ err: errorMessage(error) }, "outcome not counted");
      }
    }
  }

  /**
   * One access-log stream (a sidecar's, for as long as it runs): its batches are counted in order;
   * a failure is logged and the stream goes on. Reading pauses while many batches wait, so a
   * sidecar that sends faster than the store answers is held back by HTTP/2 flow control.
   */
  private accessLogStream(call: StreamCall<unknown>): StreamHandlers<StreamAccessLogsMessage> {
    const log = this.options.log;
    let chain = Promise.resolve();
    let waiting = 0;
    return {
      message: (message) => {
        if (++waiting === MAX_WAITING_BATCHES) call.pause();
        chain = chain.then(() =>
          this.recordAccessLogs(message)
            .catch((error: unknown) => log.warn({ err: errorMessage(error) }, "outcome not counted"))
            .finally(() => {
              if (waiting-- === MAX_WAITING_BATCHES) call.resume();
            }),
        );
      },
      end: () => {
        void chain.then(() => {
          call.send({});
          call.finish();
        });
      },
    };
  }

  /** Listens on host:port (0: a free port); resolves with the port. */
  async start(host: string, port: number): Promise<number> {
    const log = this.options.log;
    const server = new GrpcH2Server({ onHandlerError: (path, error) => log.error({ err: errorMessage(error), path }, "gRPC handler failed") });
    server.add(SHOULD_RATE_LIMIT, {
      kind: "unary",
      decode: decodeRateLimitRequest,
      encode: encodeRateLimitResponse,
      handle: (request: RateLimitRequestMessage) =>
        this.shouldRateLimit(request).catch((error: unknown) => {
          log.error({ err: errorMessage(error) }, "rate-limit decision failed");
          throw new GrpcError(GrpcStatus.UNAVAILABLE, "rate-limit decision failed");
        }),
    });
    server.add(STREAM_ACCESS_LOGS_PATH, { kind: "stream", decode: decodeStreamAccessLogs, encode: encodeStreamAccessLogsResponse, open: (call) => this.accessLogStream(call) });
    const bound = await server.listen(host, port);
    this.server = server;
    return bound;
  }

  /** Finishes calls in flight for up to graceMs, then cancels the rest. */
  stop(graceMs = 1000): Promise<void> {
    this.addUncounted();
    const server = this.server;
    this.server = undefined;
    return server ? server.close(graceMs) : Promise.resolve();
  }
}
