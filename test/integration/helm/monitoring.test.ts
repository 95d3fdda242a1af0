/**
 * The chart's alerts and Grafana dashboard against the real tools: the PrometheusRule and the
 * dashboard ConfigMap rendered by the real helm; every expression checked by promtool (the rules
 * as they are, the dashboard's queries as recording rules); then a real Prometheus scrapes a
 * running controller, authz, ratelimit and injector (labelled as the chart's ServiceMonitor labels them),
 * evaluates the alerts without error, and answers each expression through its HTTP API; every
 * metric an expression names has series, or is declared by a component and listed below with why
 * it has none yet.
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizationService } from "../../../services/authz/authorization-service.js";
import { exec } from "../../env/exec.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../../env/processes.js";
import { installCrds } from "../../support/crds.js";
import {
  createNamespace,
  deleteNamespace,
  e2eEnvironment,
  httpRequest,
  kubeConfig,
  kubectl,
  policyManifest,
  startBulwark,
  startController,
  waitFor,
  type BulwarkProcess,
  type E2eEnvironment,
} from "../../support/e2e.js";
import { startAuthzProcess } from "../../support/authz-process.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { servingPki } from "../../support/pki-webhook.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const chart = join(repoRoot, "charts/bulwark");
const NAMESPACE = "bulwark-system";
const RELEASE = "bw";
const PROMETHEUS_FIX = "install Debian's prometheus package (apt-get install prometheus): it provides promtool and prometheus";

/**
 * Metrics an expression may name without series in this run, each with why. Each must still be
 * declared (# HELP) by a running component: a misspelt name fails.
 */
const DECLARED_WITHOUT_SERIES: Record<string, string> = {
  bulwark_ratelimit_decisions_total: "a labelled counter: no series until a sidecar asks for a Global limit",
};

/** The injector with a serving certificate of its own (from files) and an xDS CA to hand out. */
async function startInjector(): Promise<BulwarkProcess> {
  const pki = await servingPki("bulwark-injector");
  injectorCertificatePem = pki.certPem;
  await writeFile(join(dir, "injector.crt"), pki.certPem);
  await writeFile(join(dir, "injector.key"), pki.keyPem);
  await writeFile(join(dir, "xds-ca.crt"), pki.caPem);
  return startBulwark({
    command: "injector",
    name: "bulwark injector",
    probe: "/readyz",
    args: [
      "--address",
      `127.0.0.1:${await freePort()}`,
      "--tls-cert-file",
      join(dir, "injector.crt"),
      "--tls-key-file",
      join(dir, "injector.key"),
      "--xds-ca-file",
      join(dir, "xds-ca.crt"),
      "--proxy-image",
      "envoyproxy/envoy:v1.40.0",
      "--inbound-interception",
      "none",
    ],
  });
}

type Doc = { kind?: string; spec?: { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] }; data?: Record<string, string> };

let env: E2eEnvironment;
let dir: string;
let rulesFile: string;
let dashboardRulesFile: string;
let alertExprs: { name: string; expr: string }[];
let dashboardExprs: { name: string; expr: string }[];
let prometheus: ManagedProcess | undefined;
let promPort: number;
const components: BulwarkProcess[] = [];
let policyNamespace: string | undefined;
let injectorCertificatePem = "";

async function helmTemplate(args: readonly string[]): Promise<Doc[]> {
  const { stdout } = await exec(testEnvironment().binaries.helm, ["template", RELEASE, chart, "--namespace", NAMESPACE, ...args], { missingFix: "run `npm run env -- provision`" });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
}

async function query(expr: string): Promise<{ status: string; data?: { result: unknown[] }; error?: string }> {
  const answer = await httpRequest(promPort, `/api/v1/query?query=${encodeURIComponent(expr)}`, { timeoutMs: 10_000 });
  return JSON.parse(answer.body) as { status: string; data?: { result: unknown[] }; error?: string };
}

/** The metric names an expression reads (histogram buckets by their family name). */
function metricNames(expr: string): string[] {
  const names = [...expr.matchAll(/\b((?:bulwark|process)_[a-z_]+|up)\s*[{[(]/g)].map((m) => m[1] ?? "");
  return [...new Set(names)];
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  dir = await mkdtemp(join(tmpdir(), "bulwark-monitoring-"));
  const docs = await helmTemplate(["--api-versions", "monitoring.coreos.com/v1", "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.grafanaDashboard.enabled=true"]);
  const rule = docs.find((d) => d?.kind === "PrometheusRule");
  const dashboardMap = docs.find((d) => d?.kind === "ConfigMap" && d.data?.["bulwark.json"]);
  if (!rule?.spec || !dashboardMap?.data) throw new Error("the chart rendered no PrometheusRule or dashboard ConfigMap");
  rulesFile = join(dir, "alerts.yaml");
  await writeFile(rulesFile, stringify({ groups: rule.spec.groups }));
  alertExprs = rule.spec.groups.flatMap((g) => g.rules.map((r) => ({ name: r.alert ?? r.record ?? "?", expr: r.expr })));
  const dashboard = JSON.parse(dashboardMap.data["bulwark.json"] ?? "{}") as { panels: { title: string; targets?: { expr: string; refId: string }[] }[] };
  dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ name: `${p.title} ${t.refId}`, expr: t.expr })));
  dashboardRulesFile = join(dir, "dashboard-as-rules.yaml");
  await writeFile(dashboardRulesFile, stringify({ groups: [{ name: "dashboard", rules: dashboardExprs.map((e, i) => ({ record: `bulwark:dashboard:${i}`, expr: e.expr })) }] }));
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  for (const c of components) await c.stop();
  if (policyNamespace) await deleteNamespace(kubeConfig(env), policyNamespace);
});

describe("alerts and dashboard", () => {
  it("renders alerts for NACKs, rejected streams, disconnected sidecars, leader, status writes, policies not Ready, certificate expiry, authz errors and latency, ratelimit without Redis, components down", () => {
    expect(alertExprs.map((a) => a.name).sort()).toEqual(
      [
        "BulwarkAuthzErrors",
        "BulwarkAuthzSlow",
        "BulwarkCertificateExpiresSoon",
        "BulwarkCertificateExpiresVerySoon",
        "BulwarkPolicyNotReady",
        "BulwarkComponentDown",
        "BulwarkNoLeader",
        "BulwarkRatelimitEvictions",
        "BulwarkRatelimitStoreDegraded",
        "BulwarkSidecarsDisconnected",
        "BulwarkStatusWritesFailing",
        "BulwarkXdsConfigRejected",
        "BulwarkXdsPushSlow",
        "BulwarkXdsStreamsRejected",
      ].sort(),
    );
    expect(dashboardExprs.length).toBeGreaterThan(15);
    // Scoped to the release: every selector names its namespace.
    for (const e of [...alertExprs, ...dashboardExprs]) expect(e.expr, e.name).toContain(`namespace="${NAMESPACE}"`);
  });

  it("promtool checks every alert and every dashboard query", async () => {
    const alerts = await exec(testEnvironment().binaries.promtool, ["check", "rules", rulesFile], { missingFix: PROMETHEUS_FIX });
    expect(alerts.stdout).toContain(`SUCCESS: ${alertExprs.length} rules found`);
    const panels = await exec(testEnvironment().binaries.promtool, ["check", "rules", dashboardRulesFile], { missingFix: PROMETHEUS_FIX });
    expect(panels.stdout).toContain(`SUCCESS: ${dashboardExprs.length} rules found`);
    // And it would say so: a broken expression fails.
    const broken = join(dir, "broken.yaml");
    await writeFile(broken, stringify({ groups: [{ name: "x", rules: [{ alert: "X", expr: "sum by (namespace (bulwark_leader)" }] }] }));
    await expect(exec(testEnvironment().binaries.promtool, ["check", "rules", broken], { missingFix: PROMETHEUS_FIX })).rejects.toThrow(/parse error/);
  });

  it("a real Prometheus scraping the running controller, authz, ratelimit and injector evaluates every alert and answers every query; the metrics exist", async () => {
    await installCrds();
    const kc = kubeConfig(env);
    policyNamespace = uniqueName("monitoring-apps");
    await createNamespace(kc, policyNamespace);
    const controller = await startController(env, { leaseNamespace: policyNamespace, identity: "monitoring-0" });
    components.push(controller);
    const authz = await startAuthzProcess({ kubeconfig: env.kubeconfig, waitReady: false });
    components.push(authz);
    const ratelimit = await startBulwark({
      command: "ratelimit",
      name: "bulwark ratelimit",
      probe: "/healthz",
      args: ["--kubeconfig", env.kubeconfig, "--grpc-address", `127.0.0.1:${await freePort()}`],
    });
    components.push(ratelimit);
    const injector = await startInjector();
    components.push(injector);

    // Traffic that gives the labelled metrics series: a policy (status written), an authz Check, a plaintext xDS connection (refused).
    await kubectl(
      env,
      ["apply", "--namespace", policyNamespace],
      policyManifest(policyNamespace, "orders", { targetRefs: [{ kind: "Service", name: "orders" }], defaultAction: "Allow" }),
    );
    await waitFor("a status write", async () => ((await controller.metric("bulwark_status_writes_total")) ?? 0) > 0, 30_000, 200);
    const Ctor = makeGenericClientConstructor(authorizationService(), "Authorization");
    const client = new Ctor(`127.0.0.1:${authz.grpcPort}`, credentials.createInsecure()) as unknown as Client & {
      Check(request: unknown, callback: (error: ServiceError | null) => void): void;
    };
    await new Promise<void>((resolve) => client.Check({ attributes: { request: { http: { method: "GET", path: "/", host: "x" } } } }, () => resolve()));
    client.close();
    await new Promise<void>((resolve) => {
      const socket = connect(controller.xdsPort, "127.0.0.1", () => socket.end("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });

    promPort = await freePort();
    const target = (c: BulwarkProcess, component: string): unknown => ({
      targets: [`127.0.0.1:${c.httpPort}`],
      labels: { namespace: NAMESPACE, pod: `${RELEASE}-bulwark-${component}-0`, app_kubernetes_io_instance: RELEASE, app_kubernetes_io_component: component },
    });
    const config = join(dir, "prometheus.yml");
    await writeFile(
      config,
      stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [rulesFile, dashboardRulesFile],
        scrape_configs: [
          { job_name: "bulwark", static_configs: [target(controller, "controller"), target(authz, "authz"), target(ratelimit, "ratelimit"), target(injector, "injector")] },
        ],
      }),
    );
    prometheus = startProcess({
      name: "prometheus",
      command: testEnvironment().binaries.prometheus,
      args: [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${promPort}`],
      logFile: join(dir, "prometheus.log"),
    });
    await waitUntilReady(prometheus, async () => (await httpRequest(promPort, "/-/ready", { timeoutMs: 2000 }).catch(() => ({ status: 0 }))).status === 200, 60_000).catch(
      async (error: unknown) => {
        throw new Error(`${String(error)}\n${await readFile(join(dir, "prometheus.log"), "utf8").catch(() => "")}`);
      },
    );
    await waitFor("four targets up", async () => ((await query("sum(up)")).data?.result as { value: [number, string] }[] | undefined)?.[0]?.value[1] === "4", 30_000, 500);
    await waitFor(
      "the authz decision and the rejected stream scraped",
      async () => ((await query("count(bulwark_authz_decisions_total) + count(bulwark_xds_rejected_streams_total)")).data?.result.length ?? 0) > 0,
      30_000,
      500,
    );

    // Every rule evaluated without an error (both files: the alerts and the dashboard's queries).
    const rules = await waitFor(
      "every rule evaluated",
      async () => {
        const answer = JSON.parse((await httpRequest(promPort, "/api/v1/rules", { timeoutMs: 10_000 })).body) as {
          data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
        };
        const all = answer.data.groups.flatMap((g) => g.rules);
        return all.length === alertExprs.length + dashboardExprs.length && all.every((r) => r.health !== "unknown") ? all : undefined;
      },
      30_000,
      500,
    );
    expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError ?? r.health}`)).toEqual([]);

    // Each expression through the query API, and the series behind it.
    for (const e of [...alertExprs, ...dashboardExprs]) {
      const answer = await query(e.expr);
      expect(answer.status, `${e.name}: ${e.expr}: ${answer.error ?? ""}`).toBe("success");
    }
    const names = [...new Set([...alertExprs, ...dashboardExprs].flatMap((e) => metricNames(e.expr)))].sort();
    expect(names.length).toBeGreaterThan(15);
    const declared = (await Promise.all(components.map((c) => c.metrics()))).join("\n");
    const withoutSeries: string[] = [];
    for (const name of names) {
      const series = await query(`count({__name__=~"${name}(_bucket)?"})`);
      if ((series.data?.result.length ?? 0) > 0) continue;
      withoutSeries.push(name);
      expect(DECLARED_WITHOUT_SERIES[name], `${name} has no series and is not listed as declared without series`).toBeDefined();
      expect(declared, `${name} is declared by no component`).toContain(`# HELP ${name} `);
    }

    // Certificate expiry: every certificate has its series, at its real notAfter; the injector's test
    // certificate (valid for a day) makes the critical alert fire, the workload CA (ten years) does not.
    const expiry = (await query("bulwark_certificate_expiry_timestamp_seconds")).data?.result as { metric: Record<string, string>; value: [number, string] }[];
    expect(expiry.map((r) => r.metric.certificate).sort()).toEqual(["injector-serving", "workload-ca", "xds-ca", "xds-serving"]);
    const injectorExpiry = Math.floor(new X509Certificate(injectorCertificatePem).validToDate.getTime() / 1000);
    expect(expiry.find((r) => r.metric.certificate === "injector-serving")?.value[1]).toBe(String(injectorExpiry));
    const firing = await waitFor(
      "the certificate alert pending or firing",
      async () => {
        const answer = JSON.parse((await httpRequest(promPort, "/api/v1/alerts", { timeoutMs: 10_000 })).body) as { data: { alerts: { labels: Record<string, string> }[] } };
        const certificates = answer.data.alerts.filter((a) => a.labels.alertname === "BulwarkCertificateExpiresVerySoon").map((a) => a.labels.certificate ?? "");
        return certificates.includes("injector-serving") ? certificates : undefined;
      },
      30_000,
      500,
    );
    expect(firing).not.toContain("workload-ca");

    process.stdout.write(
      `monitoring: ${names.length} metrics in ${alertExprs.length} alerts and ${dashboardExprs.length} dashboard queries; without series in this run: ${withoutSeries.join(", ") || "none"}\n`,
    );
  }, 240_000);
});
