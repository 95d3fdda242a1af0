/**
 * The `bulwark` executable as a CI step or a person meets it: exit codes and the one line it
 * prints for each mistake. Each case runs cli/main.ts as its own process.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { sidecarPod } from "../operator/testdata/objects.js";
import { xdsServingArgs } from "../test/support/xds-credentials.js";
import { runBulwark } from "../test/support/bulwark-cli.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
// Each case starts Node.js with tsx; on a loaded 2-core machine that alone can take tens of seconds.
vi.setConfig({ testTimeout: 180_000 });

const bulwark = runBulwark;

async function folder(objects: readonly object[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-cli-"));
  for (const [i, o] of objects.entries()) await writeFile(join(dir, `${i}.yaml`), stringify(o));
  return dir;
}

const policy = (name: string, spec: Record<string, unknown>, created = "2026-01-01T00:00:00Z"): Record<string, unknown> => ({
  apiVersion: "bulwark.dev/v1alpha1",
  kind: "APISecurityPolicy",
  metadata: { name, namespace: "shop", creationTimestamp: created },
  spec,
});
const api = { targetRefs: [{ kind: "Service", name: "api" }] };
const service = { apiVersion: "v1", kind: "Service", metadata: { name: "api", namespace: "shop" }, spec: { selector: { app: "api" }, ports: [{ port: 80 }] } };

describe.concurrent("bulwark render", () => {
  it("exits 0 on the examples, every policy Accepted", async () => {
    const run = await bulwark(["render", "-f", join(repoRoot, "examples")]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  it("exits 1 when a policy is not Accepted, naming it, the reason and the controller's words, and still prints the render", async () => {
    const dir = await folder([
      service,
      policy("good", api),
      policy("twice", { targetRefs: [{ kind: "Service", name: "other" }], rules: [{ name: "r", match: { pathTemplate: "/v1/users/{id}/orders/{id}" }, authentication: "None" }] }),
    ]);
    const run = await bulwark(["render", "-f", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^bulwark render: policy shop\/twice is not Accepted \(Invalid\): The policy is invalid: .*pathTemplate variables must have distinct names/m);
    expect(run.stderr).not.toContain("shop/good");
    expect(run.stdout).toContain("# policies");
  });

  it("exits 1 on a policy that loses its target to an older one (Conflicted)", async () => {
    const dir = await folder([service, sidecarPod("shop", "api-0", { app: "api" }), policy("older", api, "2026-01-01T00:00:00Z"), policy("younger", api, "2026-02-01T00:00:00Z")]);
    const run = await bulwark(["render", "-f", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^bulwark render: policy shop\/younger is not Accepted \(Conflicted\): .*shop\/older/)]);
  });

  it("does not fail on references it cannot resolve offline", async () => {
    const run = await bulwark(["render", "-f", await folder([policy("alone", api)])]);
    expect(run.code).toBe(0);
  });

  it("exits 1 with a clear line on a directory with nothing to render", async () => {
    const empty = await mkdtemp(join(tmpdir(), "bulwark-cli-empty-"));
    const run = await bulwark(["render", "-f", empty]);
    expect(run).toEqual({ code: 1, stdout: "", stderr: `bulwark render: no APISecurityPolicy in ${empty} (0 file(s) read: *.yaml, *.yml and *.json); nothing to render\n` });
  });

  it("exits 1 on files that hold no policy", async () => {
    const dir = await folder([service]);
    const run = await bulwark(["render", "-f", dir]);
    expect(run).toEqual({ code: 1, stdout: "", stderr: `bulwark render: no APISecurityPolicy in ${dir} (1 file(s) read: *.yaml, *.yml and *.json); nothing to render\n` });
  });
});

describe("bulwark inventory openapi", () => {
  it("prints the observed API of an APIInventory object kubectl printed, and says why when it cannot", async () => {
    const endpoint = { method: "GET", path: "/internal/debug", class: "shadow", count: 3, authenticated: 0, statuses: { "2xx": 3 } };
    const status = {
      summary: { documented: 0, shadow: 1, zombie: 0, unused: 0, observed: 3, dropped: 0, omitted: 0 },
      workloads: [{ workload: "w", observed: 3, dropped: 0, endpoints: [endpoint] }],
      updatedAt: "2026-12-03T11:00:00.000Z",
    };
    const dir = await folder([{ apiVersion: "bulwark.dev/v1alpha1", kind: "APIInventory", metadata: { name: "api", namespace: "shop" }, status }]);
    const run = await bulwark(["inventory", "openapi", "-f", join(dir, "0.yaml")]);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as { openapi: string; paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(["/internal/debug"]);
    const wrong = await folder([service]);
    expect(await bulwark(["inventory", "openapi", "-f", join(wrong, "0.yaml")])).toEqual({
      code: 1,
      stdout: "",
      stderr: 'bulwark: inventory: not an APIInventory object (kind "Service")\n',
    });
  });
});

describe.concurrent("mistakes on the command line: one line, exit 2", () => {
  it.each([
    [["render", "--bogus"], "bulwark: render: unknown flag --bogus; run 'bulwark render --help' for its flags\n"],
    [["controller", "--xds-adress=127.0.0.1:1"], "bulwark: controller: unknown flag --xds-adress; run 'bulwark controller --help' for its flags\n"],
    [["controller", "--xds-max-connection-age=5s"], "bulwark: --xds-max-connection-age 5s is not 0 (never) or a duration of at least 1m (e.g. 30m, 2h)\n"],
    [["render", "-f", "examples", "extra"], "bulwark: render: unexpected argument extra; run 'bulwark render --help' for its flags\n"],
    [["ratelimit", "--redis-url=redis://a:6379", "--redis-cluster-nodes=b:6379"], "bulwark: --redis-url and --redis-cluster-nodes name two different stores: set one of them\n"],
    [["authz", "--redis-cluster-nodes=redis-0,redis-1:6379"], "bulwark: --redis-cluster-nodes: redis-0 is not HOST:PORT (a port from 1 to 65535)\n"],
    [
      ["frobnicate"],
      "bulwark: unknown command frobnicate; commands: authz, blocks, controller, injector, intercept, inventory, probe, ratelimit, render, telemetry, version (run 'bulwark --help')\n",
    ],
    [["blocks", "clear", "--redis-url=redis://127.0.0.1:1"], "bulwark: blocks clear needs --policy NAMESPACE/NAME\n"],
    [["blocks", "clear", "--policy=shop/api", "--identity=Cookie=1"], "bulwark: --identity Cookie=1 is not KIND=VALUE with KIND one of ClientAddress, Device, Account\n"],
    [["blocks", "list"], "bulwark: blocks: set --redis-url or --redis-cluster-nodes (the Redis of bulwark authz)\n"],
    [["probe", "-f", "examples"], "bulwark: probe needs --target URL\n"],
    [["inventory"], "bulwark: inventory needs an action: openapi (run 'bulwark inventory --help')\n"],
    [["telemetry", "--listen", "8091"], "bulwark: --listen 8091 is not HOST:PORT (e.g. 127.0.0.1:18000)\n"],
    [["probe", "--target", "ftp://api.test/"], "bulwark: --target ftp://api.test/ is not an http:// or https:// URL\n"],
    [["probe", "--target", "http://api.test/", "--output", "xml"], "bulwark: --output xml is not one of table, json, junit, sarif\n"],
    [["probe", "--target", "http://api.test/"], "bulwark: probe needs the policy: -f PATH, or --from-cluster\n"],
  ])("bulwark %j", async (args, stderr) => {
    expect(await bulwark(args)).toEqual({ code: 2, stdout: "", stderr });
  });
});

describe("bulwark ratelimit", () => {
  it("refuses at start memory counters that would not fit its heap when full (instead of dying when Redis is away)", async () => {
    const run = await bulwark(["ratelimit", "--memory-counters=500000", "-f", "examples"], { NODE_OPTIONS: "--max-semi-space-size=1 --max-old-space-size=128" });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^bulwark: --memory-counters 500000 needs about 222 MiB of heap when full \(about 330 bytes per counter and 64 MiB for the rest of the process\), but this process's heap limit is 1\d\d MiB \(--max-old-space-size in NODE_OPTIONS, the chart's ratelimit.nodeOptions\): raise the limit or lower --memory-counters to at most \d+\n$/,
    );
  });
});

describe("bulwark telemetry", () => {
  it("exits 1 with one clear line when its port is in use", async () => {
    const { createServer } = await import("node:net");
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const run = await bulwark(["telemetry", "--listen", `127.0.0.1:${port}`, "--metrics", "127.0.0.1:0"]);
      expect(run).toEqual({
        code: 1,
        stdout: "",
        stderr: `bulwark: the telemetry receiver (--listen) could not listen on 127.0.0.1:${port}: the port is in use (choose another)\n`,
      });
    } finally {
      busy.close();
    }
  });

  it.each([
    [["--cluster"], "bulwark: --tls-cert and --tls-key (or --tls-secret) are required: with --cluster sidecars present their tokens to this service, over TLS only\n"],
    [["--tls-secret", "bulwark-telemetry-tls", "--tls-dns-names", "t.example"], "bulwark: --tls-secret needs --cluster (the Secret is kept through the API server)\n"],
    [["--cluster", "--tls-secret", "s"], "bulwark: --tls-dns-names is required with --tls-secret (the names sidecars reach the telemetry by)\n"],
  ])("refuses to take tokens in plaintext: %j", async (flags, stderr) => {
    expect(await bulwark(["telemetry", ...flags, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])).toEqual({ code: 2, stdout: "", stderr });
  });
});

describe.concurrent("bulwark controller without a cluster to talk to", () => {
  it("says in one line which configuration it looked for and how to give it", async () => {
    const tls = await xdsServingArgs();
    const run = await bulwark(["controller", ...tls, "--http-address", "127.0.0.1:0", "--xds-address", "127.0.0.1:0"]);
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "bulwark: no cluster configuration: --kubeconfig and KUBECONFIG are unset and this is not a pod (no KUBERNETES_SERVICE_HOST or ServiceAccount token); pass --kubeconfig PATH or set KUBECONFIG\n",
    });
  });

  it("names a kubeconfig that does not exist and where it came from", async () => {
    const tls = await xdsServingArgs();
    const run = await bulwark(["controller", ...tls, "--http-address", "127.0.0.1:0"], { KUBECONFIG: "/nonexistent/kubeconfig" });
    expect(run).toEqual({ code: 2, stdout: "", stderr: "bulwark: no cluster configuration: the kubeconfig /nonexistent/kubeconfig (from KUBECONFIG) does not exist\n" });
  });
});
