import { parseArgs } from "node:util";
import type { AdaptiveAction, IdentityKind } from "../contract/telemetry.js";
import { redisTarget, RedisTargetError, type RedisTarget } from "../common/redis-target.js";
import { blockSummary } from "../services/adaptive/apply.js";
import { parsePolicy, RedisAdaptiveStore } from "../services/adaptive/redis-store.js";
import type { Identity, PolicyKey } from "../services/adaptive/store.js";
import { adaptiveClient } from "./adaptive-target.js";
import { UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";

export const blocksHelp = `usage: bulwark blocks list [--namespace NS] [--policy [NS/]NAME] [-o table|json]
       bulwark blocks clear --policy [NS/]NAME [--identity KIND=VALUE]

Lists or clears the adaptive actions (spec.adaptiveResponse) in force: the client addresses,
devices and accounts that abuse signals flagged, blocked (403) or throttled (429) by bulwark authz
on every route of the policy until they expire. They live in the Redis bulwark authz uses; a clear
applies on every authz replica within a second (their cache).

  list    every action in force; --namespace and --policy narrow it (a NAME alone is in --namespace,
          default "default"); -o json prints the actions as JSON
  clear   removes the actions of a policy, or only the one of --identity (ClientAddress=203.0.113.9,
          Device=..., Account=<the token's sub>)

flags (environment variable in brackets):
  --redis-url URL            the Redis of bulwark authz [BULWARK_REDIS_URL]
  --redis-cluster-nodes LIST a Redis Cluster instead: HOST:PORT,... [BULWARK_REDIS_CLUSTER_NODES]
  -h, --help                 this text
`;

const KINDS: readonly IdentityKind[] = ["ClientAddress", "Device", "Account"];

/** `KIND=VALUE`, the kind case-insensitive. */
export function parseIdentity(text: string): Identity {
  const eq = text.indexOf("=");
  const kind = KINDS.find((k) => k.toLowerCase() === text.slice(0, Math.max(eq, 0)).toLowerCase());
  const value = text.slice(eq + 1);
  if (eq < 0 || !kind || value === "") throw new UsageError(`--identity ${text} is not KIND=VALUE with KIND one of ${KINDS.join(", ")}`);
  return { kind, value };
}

function policyFlag(text: string, namespace: string | undefined): PolicyKey {
  const parsed = parsePolicy(text.includes("/") ? text : `${namespace ?? "default"}/${text}`);
  if (!parsed) throw new UsageError(`--policy ${text} is not NAMESPACE/NAME or NAME (lowercase DNS names)`);
  return parsed;
}

/** How long from now until `ms`, in the largest whole unit: 45s, 12m, 3h. */
function remaining(ms: number, nowMs: number): string {
  const s = Math.max(0, Math.round((ms - nowMs) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** The actions as an aligned table, with the counts of blockSummary under it. */
export function formatActions(actions: readonly AdaptiveAction[], nowMs: number): string {
  const rows = [
    ["POLICY", "IDENTITY", "ACTION", "MODE", "SIGNAL", "EXPIRES IN"],
    ...actions.map((a) => [
      `${a.policy.namespace}/${a.policy.name}`,
      `${a.identity.kind}=${a.identity.value}`,
      a.action === "Throttle" ? `Throttle ${a.requests ?? "?"}/${a.windowSeconds ?? "?"}s` : a.action,
      a.mode,
      a.signal,
      remaining(a.expiresMs, nowMs),
    ]),
  ];
  const widths = rows[0]?.map((_h, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "));
  const { blocked, throttled, shadow } = blockSummary(actions);
  return `${lines.join("\n")}\n\n${blocked} blocked, ${throttled} throttled, ${shadow} in Shadow mode\n`;
}

function target(values: { "redis-url"?: string | undefined; "redis-cluster-nodes"?: string | undefined }): RedisTarget {
  try {
    const t = redisTarget({ url: values["redis-url"] ?? process.env.BULWARK_REDIS_URL, clusterNodes: values["redis-cluster-nodes"] ?? process.env.BULWARK_REDIS_CLUSTER_NODES });
    if (!t) throw new UsageError("blocks: set --redis-url or --redis-cluster-nodes (the Redis of bulwark authz)");
    return t;
  } catch (error) {
    if (error instanceof RedisTargetError) throw new UsageError(error.message);
    throw error;
  }
}

/** `bulwark blocks list|clear`; resolves with the exit code. */
export async function runBlocks(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      namespace: { type: "string", short: "n" },
      policy: { type: "string" },
      identity: { type: "string" },
      output: { type: "string", short: "o" },
      "redis-url": { type: "string" },
      "redis-cluster-nodes": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(blocksHelp);
    return 0;
  }
  const [verb, ...extra] = positionals;
  if ((verb !== "list" && verb !== "clear") || extra.length > 0) throw new UsageError("blocks: say list or clear (run 'bulwark blocks --help')");
  const output = values.output ?? "table";
  if (output !== "table" && output !== "json") throw new UsageError(`-o ${output} is not table or json`);
  if (verb === "clear" && !values.policy) throw new UsageError("blocks clear needs --policy NAMESPACE/NAME");
  const policy = values.policy ? policyFlag(values.policy, values.namespace) : undefined;
  const identity = values.identity !== undefined ? parseIdentity(values.identity) : undefined;
  const where = target(values);
  const store = new RedisAdaptiveStore(adaptiveClient(where, undefined, { failFast: false }));
  try {
    return await blocksVerb(store, { verb, output, policy, identity, namespace: values.namespace });
  } catch (error) {
    throw new Error(
      `blocks ${verb}: the Redis of bulwark authz (${where.kind === "single" ? where.url.replace(/\/\/[^@/]*@/, "//") : "cluster"}) did not answer: ${errorMessage(error)}`,
    );
  } finally {
    await store.close();
  }
}

async function blocksVerb(
  store: RedisAdaptiveStore,
  options: { verb: "list" | "clear"; output: string; policy: PolicyKey | undefined; identity: Identity | undefined; namespace: string | undefined },
): Promise<number> {
  const { verb, output, policy, identity } = options;
  if (verb === "clear") {
    const removed = await store.clear(policy as PolicyKey, identity);
    process.stdout.write(`cleared ${removed} action${removed === 1 ? "" : "s"} of ${policy?.namespace}/${policy?.name}\n`);
    return 0;
  }
  const now = Date.now();
  const actions = (await store.list(policy, now)).filter((a) => options.namespace === undefined || a.policy.namespace === options.namespace);
  process.stdout.write(output === "json" ? `${JSON.stringify(actions, null, 2)}\n` : formatActions(actions, now));
  return 0;
}
