import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { JWK } from "jose";
import { readBuildInfo } from "./build-info.js";
import { loadClusterConfig } from "./cluster-config.js";
import { readObjectFlags } from "./object-files.js";
import { readClusterInput } from "./probe-cluster.js";
import { UsageError } from "./usage.js";
import type { TranslationInput } from "../operator/resolve/objects.js";
import { DEFAULT_SHADOW_PATHS } from "../probe/checks/exposure.js";
import { ProbeClient, type SafetyBounds } from "../probe/client.js";
import { dpopKeyFrom } from "../probe/dpop.js";
import { choosePolicy, currentAppHeaders, testUser, type ProbePlan } from "../probe/plan.js";
import { jsonReport, textReport } from "../probe/report/text.js";
import { junitReport } from "../probe/report/junit.js";
import { sarifReport } from "../probe/report/sarif.js";
import { readOpenApi } from "../probe/openapi.js";
import { progress } from "../probe/progress.js";
import { exitCodeOf, runProbe } from "../probe/run.js";
import { checkClasses, severities, type ProbeReport, type Severity } from "../probe/types.js";

export const probeHelp = `usage: bulwark probe --target URL -f PATH [flags]

Tests a live API the way an attacker would, driven by its APISecurityPolicy: every route's
authentication, object ownership (BOLA), the same request in equivalent forms (path case,
trailing, doubled and encoded slashes, dot segments, matrix parameters, HEAD for GET, duplicated
headers), rate limits (and forged X-Forwarded-For), app versions and deprecations, TLS, shadow
endpoints and the app reachable around its sidecar. Each check passes, fails (with the exact
request and answer) or could not run (and says why); nothing is left out of the report.

Only GET, HEAD and OPTIONS are sent unless --allow-unsafe-methods; only the target's host and
--allow-host/--direct-url hosts are contacted; at most --rate requests per second and
--max-requests in all.

Exit codes: 0 no failed check at --fail-on or worse; 3 the worst is medium or low; 4 high;
5 critical; 1 the probe could not run; 2 a mistake on the command line.

flags:
  --target URL               base URL of the API (its sidecar, or the Service or ingress in front of it)
  -f, --filename PATH        the policy and its Service, Pods, Secrets (files or directories, repeatable)
  --from-cluster             read the policies, Services and Pods from the cluster instead
  --kubeconfig PATH          the cluster of --from-cluster (default: KUBECONFIG, else in-cluster)
  --policy NS/NAME           the policy to probe when the files hold several
  --token-a TOKEN            access token of test user a (or env BULWARK_PROBE_TOKEN_A)
  --token-b TOKEN            access token of test user b, another user (or env BULWARK_PROBE_TOKEN_B)
  --issuer-key FILE          a test issuer's private JWK (with kid, alg): also sign expired,
                             not-yet-valid, wrong-audience and too-old tokens (labs only)
  --dpop-key-a FILE          the private JWK user a's token is bound to (cnf.jkt): DPoP proofs
  --dpop-key-b FILE          the same for user b
  --app-version V            the app version to send (default: the policy's minimum)
  --app-platform P           the app platform to send (default: the first the policy names)
  --owner-param NAME         a path variable that names an object's owner even without an
                             ownership rule (repeatable; default userId, user_id, uid, accountId, ownerId)
  --direct-url URL           another address of the same app that must not answer past the sidecar (repeatable)
  --shadow-path PATH         another undeclared path to try (repeatable)
  --openapi FILE             the app's OpenAPI 3 document (JSON or YAML): its paths no rule declares
                             must be refused; object ids from its path parameters' examples
  --login-body BODY          a successful login's JSON body, for the failed-login budget check
                             (needs --allow-unsafe-methods: a login is a POST)
  --login-failure-body BODY  a failed login's JSON body (default {})
  --checks LIST              only these classes: ${checkClasses.join(",")}
  --rate N                   requests per second at most (default 10)
  --max-requests N           requests in all at most (default 1000)
  --allow-host HOST          another host the probe may contact (repeatable)
  --allow-unsafe-methods     also send other methods than GET, HEAD and OPTIONS
  --timeout-ms N             per request (default 5000)
  --insecure-tls             accept a certificate the system does not trust (the certificate check still reports it)
  --ca-file PATH             also trust these CA certificates (PEM), e.g. a staging environment's private CA
  -o, --output FORMAT        table (default), json, junit or sarif, on stdout
  --write FORMAT=PATH        also write a report to a file (repeatable), e.g. --write junit=probe.xml
  --fail-on SEVERITY         ${severities.join(", ")} (default low: any failed check)
  --quiet                    no progress on stderr
  -h, --help                 this text
`;

const DEFAULT_OWNER_PARAMS = ["userId", "user_id", "uid", "accountId", "ownerId"];
const formats = ["table", "json", "junit", "sarif"] as const;
type Format = (typeof formats)[number];

function positive(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} ${value} is not a positive number`);
  return n;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} ${value} is not one of ${allowed.join(", ")}`);
  return value as T;
}

function urlFlag(value: string, flag: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
    return url;
  } catch {
    throw new UsageError(`${flag} ${value} is not an http:// or https:// URL`);
  }
}

function render(report: ProbeReport, format: Format): string {
  if (format === "json") return jsonReport(report);
  if (format === "junit") return junitReport(report);
  if (format === "sarif") return sarifReport(report, readBuildInfo().version);
  return textReport(report);
}

const options = {
  target: { type: "string" },
  filename: { type: "string", short: "f", multiple: true },
  policy: { type: "string" },
  "from-cluster": { type: "boolean" },
  kubeconfig: { type: "string" },
  "token-a": { type: "string" },
  "token-b": { type: "string" },
  "issuer-key": { type: "string" },
  "dpop-key-a": { type: "string" },
  "dpop-key-b": { type: "string" },
  "app-version": { type: "string" },
  "app-platform": { type: "string" },
  "owner-param": { type: "string", multiple: true },
  "direct-url": { type: "string", multiple: true },
  "shadow-path": { type: "string", multiple: true },
  openapi: { type: "string" },
  "login-body": { type: "string" },
  "login-failure-body": { type: "string" },
  checks: { type: "string" },
  rate: { type: "string" },
  "max-requests": { type: "string" },
  "allow-host": { type: "string", multiple: true },
  "allow-unsafe-methods": { type: "boolean" },
  "timeout-ms": { type: "string" },
  "insecure-tls": { type: "boolean" },
  "ca-file": { type: "string" },
  output: { type: "string", short: "o" },
  write: { type: "string", multiple: true },
  "fail-on": { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; strict: true }>>["values"];

/** The objects the plan is made from: the files of -f, or the cluster with --from-cluster. */
async function objectsOf(values: Values): Promise<Omit<TranslationInput, "now">> {
  if (values["from-cluster"]) {
    if (values.filename?.length) throw new UsageError("probe reads the policy from -f PATH or --from-cluster, not both");
    return readClusterInput(loadClusterConfig(values.kubeconfig));
  }
  if (!values.filename?.length) throw new UsageError("probe needs the policy: -f PATH, or --from-cluster");
  const { input, problems } = await readObjectFlags(values.filename);
  for (const problem of problems) process.stderr.write(`bulwark probe: ${problem.source}: ${problem.message}\n`);
  return input;
}

async function planOf(values: Values, target: URL): Promise<ProbePlan> {
  const input = await objectsOf(values);
  const choice = choosePolicy({ ...input, now: new Date().toISOString() }, values.policy);
  const tokens = [values["token-a"] ?? process.env.BULWARK_PROBE_TOKEN_A, values["token-b"] ?? process.env.BULWARK_PROBE_TOKEN_B];
  const keyFiles = [values["dpop-key-a"], values["dpop-key-b"]];
  const keys = await Promise.all(keyFiles.map(async (file) => (file ? dpopKeyFrom(JSON.parse(await readFile(file, "utf8")) as JWK) : undefined)));
  const users = tokens.flatMap((token, i) => (token ? [testUser(i === 0 ? "a" : "b", token, keys[i])] : []));
  return {
    target,
    policy: `${choice.resolved.namespace}/${choice.resolved.name}`,
    workload: choice.workload,
    resolved: choice.resolved,
    placeholder: choice.placeholder,
    users,
    appHeaders: currentAppHeaders(choice.workload, values["app-platform"], values["app-version"]),
    ownerParams: values["owner-param"] ?? DEFAULT_OWNER_PARAMS,
    directUrls: (values["direct-url"] ?? []).map((u) => urlFlag(u, "--direct-url").href),
    shadowPaths: [...DEFAULT_SHADOW_PATHS, ...(values["shadow-path"] ?? [])],
    ...(values.openapi ? { openapi: readOpenApi(await readFile(values.openapi, "utf8"), values.openapi) } : {}),
    ...(values["login-body"] !== undefined ? { loginBody: values["login-body"] } : {}),
    ...(values["login-failure-body"] !== undefined ? { loginFailureBody: values["login-failure-body"] } : {}),
  };
}

async function boundsOf(values: Values, target: URL, plan: ProbePlan): Promise<SafetyBounds> {
  const hosts = [target.host, ...plan.directUrls.map((u) => new URL(u).host), ...(values["allow-host"] ?? [])].map((h) => h.toLowerCase());
  return {
    allowedHosts: [...new Set(hosts)],
    ratePerSecond: positive(values.rate, "--rate", 10),
    maxRequests: positive(values["max-requests"], "--max-requests", 1000),
    allowUnsafeMethods: values["allow-unsafe-methods"] ?? false,
    timeoutMs: positive(values["timeout-ms"], "--timeout-ms", 5000),
    ...(values["insecure-tls"] ? { insecureTls: true } : {}),
    ...(values["ca-file"] ? { caPem: await readFile(values["ca-file"], "utf8") } : {}),
  };
}

async function writeReports(report: ProbeReport, specs: readonly string[]): Promise<void> {
  for (const spec of specs) {
    const [format, path] = spec.split(/=(.*)/s);
    if (!format || !path) throw new UsageError(`--write ${spec} is not FORMAT=PATH (e.g. junit=probe.xml)`);
    await writeFile(path, render(report, oneOf(format, formats, "--write")));
  }
}

export async function runProbeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options, strict: true });
  if (values.help) {
    process.stdout.write(probeHelp);
    return 0;
  }
  if (!values.target) throw new UsageError("probe needs --target URL");
  const target = urlFlag(values.target, "--target");
  const format = oneOf(values.output ?? "table", formats, "--output");
  const failOn: Severity = oneOf(values["fail-on"] ?? "low", severities, "--fail-on");
  const classes = values.checks?.split(",").map((c) => oneOf(c.trim(), checkClasses, "--checks"));
  const issuerKey = values["issuer-key"] ? { jwk: JSON.parse(await readFile(values["issuer-key"], "utf8")) as JWK } : undefined;
  const plan = await planOf(values, target);
  const bounds = await boundsOf(values, target, plan);
  const stderr = process.stderr;
  const shown = progress({ isTTY: stderr.isTTY, columns: stderr.columns, write: (text) => void stderr.write(text) }, values.quiet ?? false);
  const client = new ProbeClient(bounds, shown.onRequest);
  const report = await runProbe({
    plan,
    client,
    ...(issuerKey ? { issuerKey } : {}),
    ...(classes ? { classes } : {}),
    onClass: shown.onClass,
    onChecks: shown.onChecks,
  });
  shown.finish();
  process.stdout.write(render(report, format));
  await writeReports(report, values.write ?? []);
  return exitCodeOf(report, failOn);
}
