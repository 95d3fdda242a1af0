/**
 * The local environment by hand: `npm run env -- up | down | status | kubeconfig | provision`.
 * The integration suites use the same code (test/env/global-setup.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot } from "./cache.js";
import { provisionBinaries, startEnvironment, type EnvironmentInfo } from "./environment.js";
import { PrerequisiteError } from "./errors.js";
import { exec } from "./exec.js";
import { cleanUpNode } from "./node/node.js";
import { checkNodeHost } from "./node/prerequisites.js";
import { provisionGitOpsTools } from "./provision/go-tools.js";
import { provisionImages } from "./provision/images.js";
import { isAlive, stopPid } from "./processes.js";
import { consoleSteps } from "./steps.js";
import { errorMessage } from "../../common/errors.js";

interface State {
  info: EnvironmentInfo;
  processes: { name: string; pid: number; logFile: string }[];
}

const usage = `usage: npm run env -- <command>

  up          provision (first use only) and start etcd, kube-apiserver, kube-controller-manager and redis-server
  up --node   the same, plus a real node: kube-scheduler, containerd, kubelet, kube-proxy and the cluster DNS
  down        stop them and delete the instance's data (containers, mounts, network namespace, cgroups)
  status      show whether each process runs, and the node's readiness
  kubeconfig  print the path of the admin kubeconfig (export KUBECONFIG=$(npm run -s env -- kubeconfig))
  provision   only build or download the binaries (the GitOps checkers kstatus, argocd-lua and kubeconform
              included) and the images into the cache (${cacheRoot()})
  images      build (first use) the bulwark and Envoy sidecar images; print their OCI archives as JSON
`;

const instanceDir = join(cacheRoot(), "run", "local");
const stateFile = join(instanceDir, "state.json");

function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, "utf8")) as State;
}

async function up(withNode: boolean): Promise<void> {
  const existing = readState();
  if (existing && existing.processes.every((p) => isAlive(p.pid))) {
    process.stdout.write(`already up; KUBECONFIG=${existing.info.kubeconfig}\n`);
    return;
  }
  // A previous run that failed half-way leaves data behind; every `up` starts from nothing.
  if (existing || existsSync(instanceDir)) await down();
  await mkdir(instanceDir, { recursive: true });
  const steps = consoleSteps();
  const env = await startEnvironment({ dir: instanceDir, steps, keepAlive: true, kubeconfig: process.env.KUBECONFIG, node: withNode });
  const state: State = { info: env.info, processes: env.processes.map((p) => ({ name: p.name, pid: p.pid, logFile: p.logFile })) };
  await writeFile(stateFile, JSON.stringify(state, null, 2));
  process.stdout.write(`up; KUBECONFIG=${env.info.kubeconfig} REDIS_URL=${env.info.redisUrl}\n`);
}

async function down(): Promise<void> {
  const state = readState();
  if (state) {
    for (const proc of [...state.processes].reverse()) await stopPid(proc.pid);
    if (state.info.node) await cleanUpNode(state.info.node, (await checkNodeHost()).tools);
  }
  await rm(instanceDir, { recursive: true, force: true });
  process.stdout.write("down\n");
}

async function status(): Promise<void> {
  const state = readState();
  if (!state) {
    process.stdout.write("not running (npm run env -- up)\n");
    process.exitCode = 3;
    return;
  }
  for (const proc of state.processes) {
    process.stdout.write(`${proc.name.padEnd(24)} pid ${String(proc.pid).padEnd(8)} ${isAlive(proc.pid) ? "running" : "NOT RUNNING"}  log ${proc.logFile}\n`);
  }
  process.stdout.write(`kubeconfig ${state.info.kubeconfig}\nredis      ${state.info.redisUrl}\n`);
  if (!state.processes.every((p) => isAlive(p.pid))) process.exitCode = 3;
  if (state.info.node) {
    const { stdout } = await exec(state.info.binaries.kubectl, ["--kubeconfig", state.info.kubeconfig, "get", "nodes", "-o", "wide"], {
      missingFix: "run `npm run env -- provision`",
    });
    process.stdout.write(`\n${stdout}`);
    if (!/\sReady\s/.test(stdout)) process.exitCode = 3;
  }
}

function kubeconfig(): void {
  const state = readState();
  if (!state) throw new PrerequisiteError("the local environment is not running", "run `npm run env -- up` first");
  process.stdout.write(`${state.info.kubeconfig}\n`);
}

async function main(command: string | undefined, flags: readonly string[]): Promise<void> {
  switch (command) {
    case "up":
      return up(flags.includes("--node"));
    case "down":
      return down();
    case "status":
      return status();
    case "kubeconfig":
      return kubeconfig();
    case "provision": {
      const steps = consoleSteps();
      const { binaries } = await provisionBinaries(steps, !process.env.KUBECONFIG);
      const gitops = await provisionGitOpsTools(steps);
      const images = await provisionImages(steps).catch((error: unknown) => {
        // Without images only the suites that run Pods on a node are skipped; say why and go on.
        if (!(error instanceof PrerequisiteError)) throw error;
        process.stderr.write(`env: images not built: ${error.oneLine()}\n`);
        return undefined;
      });
      process.stdout.write(`${JSON.stringify({ ...binaries, ...gitops, ...(images ? { images } : {}) }, null, 2)}\n`);
      return;
    }
    case "images": {
      const images = await provisionImages(consoleSteps());
      process.stdout.write(`${JSON.stringify(images, null, 2)}\n`);
      return;
    }
    default:
      process.stderr.write(usage);
      process.exitCode = command === undefined || command === "help" || command === "--help" ? 0 : 2;
  }
}

main(process.argv[2], process.argv.slice(3)).catch((error: unknown) => {
  if (error instanceof PrerequisiteError) {
    process.stderr.write(`env: ${error.oneLine()}\n`);
  } else {
    process.stderr.write(`env: ${errorMessage(error)}\n`);
  }
  process.exitCode = 1;
});
