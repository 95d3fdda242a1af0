import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, cachedDirectory, shortHash } from "../cache.js";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";
import { versions } from "../versions.js";
import { errorMessage } from "../../../common/errors.js";

export interface KubeBinaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  etcd: string;
  /** The node's components, from the same k8s.io/kubernetes module. */
  kubelet: string;
  kubeProxy: string;
  kubeScheduler: string;
}

const moduleDir = join(dirname(fileURLToPath(import.meta.url)), "..", "kube");
const goFix = "install Go 1.26 or newer and put `go` on PATH, or set KUBECONFIG to use an existing cluster";

function versionLdflags(version: string): string {
  const [major, minor] = version.replace(/^v/, "").split(".");
  return [
    "-s -w",
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/component-base/version.gitTreeState=clean`,
    `-X k8s.io/component-base/version.gitCommit=release-${version}`,
  ].join(" ");
}

/**
 * Builds kube-apiserver, kube-controller-manager, kube-scheduler, the kubelet, kube-proxy and etcd from the Go module proxy
 * (the module in test/env/kube pins the release) into a version-keyed cache directory.
 * `announce` hears, before a build starts, what is built and that it happens once.
 */
export async function provisionKubeBinaries(announce: (message: string) => void = () => undefined): Promise<KubeBinaries & { built: boolean }> {
  const goMod = await readFile(join(moduleDir, "go.mod"));
  const goSum = await readFile(join(moduleDir, "go.sum"));
  const key = `kube-${versions.kubernetes}-etcd-${versions.etcd}-${shortHash(goMod, goSum)}`;
  const { dir, built } = await cachedDirectory(key, async (out) => {
    await exec("go", ["version"], { missingFix: goFix });
    announce(
      `building Kubernetes ${versions.kubernetes} (kube-apiserver, kube-controller-manager) and etcd ${versions.etcd} from source with Go: ` +
        `first run only (cached in ${join(cacheRoot(), key)}), it takes several minutes`,
    );
    const build = exec(
      "go",
      [
        "build",
        "-trimpath",
        "-ldflags",
        versionLdflags(versions.kubernetes),
        "-o",
        `${out}/`,
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        "k8s.io/kubernetes/cmd/kubelet",
        "k8s.io/kubernetes/cmd/kube-proxy",
        "./cmd/etcd",
      ],
      { cwd: moduleDir, env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" }, missingFix: goFix },
    );
    await build.catch((error: unknown) => {
      const message = errorMessage(error);
      if (/dial tcp|no such host|connection refused|i\/o timeout|TLS handshake/.test(message)) {
        throw new PrerequisiteError("go could not download the Kubernetes modules", "check that the Go module proxy is reachable (go env GOPROXY)");
      }
      throw error;
    });
  });
  return {
    kubeApiserver: join(dir, "kube-apiserver"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    etcd: join(dir, "etcd"),
    kubelet: join(dir, "kubelet"),
    kubeProxy: join(dir, "kube-proxy"),
    kubeScheduler: join(dir, "kube-scheduler"),
    built,
  };
}
