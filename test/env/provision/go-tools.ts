import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, cachedDirectory, shortHash } from "../cache.js";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";
import { silentSteps, type StepReporter } from "../steps.js";
import { versions } from "../versions.js";
import { errorMessage } from "../../../common/errors.js";

const envDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const goFix = "install Go 1.26 or newer and put `go` on PATH";
const goEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CGO_ENABLED: "0" });

/** A small Go program built once into the version-keyed cache. */
export interface GoTool {
  /** The executable's name, and the cache key's first part. */
  name: string;
  /** The Go module it is built from, for the announcement. */
  module: string;
  /** That module's version (pinned in versions.ts; a module of this repository pins it in go.mod too). */
  version: string;
  /**
   * A module of this repository (a directory under test/env holding go.mod, go.sum and main.go):
   * the cache key hashes those files, so editing them rebuilds.
   */
  moduleDir?: string;
  /** Otherwise a published command, `go install <package>@<version>`. */
  install?: { package: string };
}

/** Runs `go`, turning a network failure into what to check. */
async function go(args: readonly string[], options: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<void> {
  await exec("go", args, { ...options, missingFix: goFix }).catch((error: unknown) => {
    const message = errorMessage(error);
    if (/dial tcp|no such host|connection refused|i\/o timeout|TLS handshake/.test(message)) {
      throw new PrerequisiteError(`go could not download the modules of ${args.join(" ")}`, "check that the Go module proxy is reachable (go env GOPROXY)");
    }
    throw error;
  });
}

async function cacheKey(tool: GoTool): Promise<string> {
  if (tool.install) return `${tool.name}-${tool.version}`;
  if (!tool.moduleDir) throw new Error(`${tool.name}: neither a module nor a package to install`);
  const files = await Promise.all(["go.mod", "go.sum", "main.go"].map((f) => readFile(join(tool.moduleDir ?? "", f))));
  return `${tool.name}-${tool.version}-${shortHash(...files)}`;
}

/**
 * Builds `tool` into `<cache>/<name>-<version or hash>/<name>` on first use (statically, without
 * cgo) and returns the executable's path. Before a build it says what is built, from where and
 * that it happens once; the step reporter prints the elapsed time while it runs.
 */
export async function provisionGoTool(tool: GoTool, steps: StepReporter = silentSteps): Promise<{ path: string; built: boolean }> {
  const key = await cacheKey(tool);
  const { dir, built } = await cachedDirectory(key, (out) =>
    steps.step(`build ${tool.name}`, async () => {
      steps.note(`building ${tool.name} from ${tool.module} ${tool.version} with Go: first run only (cached in ${join(cacheRoot(), key)})`);
      if (tool.install) {
        await go(["install", "-trimpath", "-ldflags", "-s -w", `${tool.install.package}@${tool.version}`], { env: { ...goEnv(), GOBIN: out, GOFLAGS: "" } });
      } else {
        await go(["build", "-trimpath", "-ldflags", "-s -w", "-o", join(out, tool.name), "."], { cwd: tool.moduleDir ?? "", env: { ...goEnv(), GOFLAGS: "-mod=readonly" } });
      }
    }),
  );
  return { path: join(dir, tool.name), built };
}

/** kstatus's `status.Compute` on an object read as JSON (test/env/kstatus). */
export const kstatusTool: GoTool = { name: "kstatus", module: "sigs.k8s.io/cli-utils", version: versions.cliUtils, moduleDir: join(envDir, "kstatus") };

/** An Argo CD health script run in gopher-lua as Argo CD runs it (test/env/argocd-lua). */
export const argoLuaTool: GoTool = { name: "argocd-lua", module: "github.com/yuin/gopher-lua", version: versions.gopherLua, moduleDir: join(envDir, "argocd-lua") };

/** kubeconform, the manifest validator GitOps pipelines run with published JSON schemas. */
export const kubeconformTool: GoTool = {
  name: "kubeconform",
  module: "github.com/yannh/kubeconform",
  version: versions.kubeconform,
  install: { package: "github.com/yannh/kubeconform/cmd/kubeconform" },
};

/** CoreDNS with only the plugins a local cluster needs (test/env/coredns pins the release). */
export const coreDnsTool: GoTool = { name: "coredns", module: "github.com/coredns/coredns", version: versions.coredns, moduleDir: join(envDir, "coredns") };

/** The GitOps checkers the integration suites run: kstatus, Argo CD's Lua engine and kubeconform. */
export async function provisionGitOpsTools(steps: StepReporter = silentSteps): Promise<{ kstatus: string; argoLua: string; kubeconform: string }> {
  const [kstatus, argoLua, kubeconform] = await Promise.all([kstatusTool, argoLuaTool, kubeconformTool].map((tool) => provisionGoTool(tool, steps)));
  if (!kstatus || !argoLua || !kubeconform) throw new Error("a GitOps tool was not provisioned");
  return { kstatus: kstatus.path, argoLua: argoLua.path, kubeconform: kubeconform.path };
}
