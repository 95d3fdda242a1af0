import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RouteTableHolder } from "./config.js";
import type { Decision } from "./decision.js";

/** bulwark authz's Prometheus metrics: decisions, their latency, and the route table in use. */
export class AuthzMetrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: "bulwark_authz_decisions_total",
    help: "Check decisions by outcome (allowed, refused, shadow_refused: allowed by a rule in authorizationMode Shadow that would have refused, error) and refusal reason (none when allowed, check_failed on an error).",
    labelNames: ["outcome", "reason"],
    registers: [this.registry],
  });
  readonly adaptive = new Counter({
    name: "bulwark_authz_adaptive_total",
    help: "Requests of identities flagged by an abuse signal (spec.adaptiveResponse), by action (block, throttle: over its budget), mode (enforced: refused; shadow: let through and reported) and the signal that flagged them.",
    labelNames: ["action", "mode", "signal"],
    registers: [this.registry],
  });
  readonly checkSeconds = new Histogram({
    name: "bulwark_authz_check_duration_seconds",
    help: "Time to decide one Check, from the request to the decision.",
    labelNames: ["outcome"],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  constructor(tables: RouteTableHolder, keySets?: { readonly counts: { inline: number; remote: number } }) {
    if (keySets) {
      new Gauge({
        name: "bulwark_authz_key_sets",
        help: "Key sets held for the route table in use, by kind (inline from a Secret, remote with its cache).",
        labelNames: ["kind"],
        registers: [this.registry],
        collect(): void {
          const { inline, remote } = keySets.counts;
          this.set({ kind: "inline" }, inline);
          this.set({ kind: "remote" }, remote);
        },
      });
    }
    new Gauge({
      name: "bulwark_authz_route_table_info",
      help: "1 for the version (content hash) of the route table in use; absent until one is loaded.",
      labelNames: ["version"],
      registers: [this.registry],
      collect(): void {
        this.reset();
        const version = tables.current()?.version;
        if (version !== undefined) this.set({ version }, 1);
      },
    });
    new Gauge({
      name: "bulwark_authz_routes",
      help: "Routes in the route table in use.",
      registers: [this.registry],
      collect(): void {
        this.set(tables.current()?.routes.size ?? 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** For AuthzServer's onDecision. */
  readonly record = (decision: Decision | undefined, seconds: number): void => {
    const outcome = decision === undefined ? "error" : decision.allowed ? (decision.shadowRefusal ? "shadow_refused" : "allowed") : "refused";
    const reason = decision === undefined ? "check_failed" : decision.allowed ? (decision.shadowRefusal ?? "none") : decision.reason;
    this.decisions.inc({ outcome, reason });
    const adaptive = /^adaptive-(block|throttle):(.+)$/.exec(reason);
    if (adaptive) this.adaptive.inc({ action: adaptive[1], mode: outcome === "refused" ? "enforced" : "shadow", signal: adaptive[2] });
    this.checkSeconds.observe({ outcome }, seconds);
  };
}
