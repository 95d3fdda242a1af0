import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { stringify } from "yaml";
import { createClusterPki, createNodePki, type ClusterPki } from "./pki.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "./processes.js";
import type { StepReporter } from "./steps.js";
import type { KubeBinaries } from "./provision/kube-binaries.js";

export interface LocalCluster {
  kubeconfig: string;
  apiServerUrl: string;
  processes: ManagedProcess[];
  pki: ClusterPki;
  pkiDir: string;
}

/** How the API server faces a real node: the address it serves on and the Service range the node's kube-proxy routes. */
export interface ApiServerNodeFacing {
  /** Host address the node (and its Pods) reach the API server on; the API server binds it instead of loopback. */
  address: string;
  serviceCidr: string;
  /** First address of serviceCidr: the kubernetes Service. */
  kubernetesServiceIp: string;
  nodeName: string;
}

export interface StartClusterOptions {
  dir: string;
  binaries: KubeBinaries;
  steps: StepReporter;
  keepAlive: boolean;
  /** Set when a real node joins: the API server serves on the node-facing address, with the Node authorizer, and kube-scheduler runs. */
  nodeFacing?: ApiServerNodeFacing | undefined;
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** The scheduler's secure port with its self-signed certificate; /healthz needs no credentials. */
function httpsUp(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

function apiOk(baseUrl: string, path: string, pki: ClusterPki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${baseUrl}${path}`,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

function adminKubeconfig(apiServerUrl: string, pki: ClusterPki): string {
  const b64 = (file: string): string => readFileSync(file).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "bulwark-local", cluster: { server: apiServerUrl, "certificate-authority-data": b64(pki.caCert) } }],
    users: [{ name: "bulwark-admin", user: { "client-certificate-data": b64(pki.adminCert), "client-key-data": b64(pki.adminKey) } }],
    contexts: [{ name: "bulwark-local", context: { cluster: "bulwark-local", user: "bulwark-admin" } }],
    "current-context": "bulwark-local",
  });
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager on loopback with free ports,
 * the way controller-runtime's envtest does, plus the controller manager so namespaces
 * finish deleting, garbage collection runs and EndpointSlices exist.
 */
export async function startLocalCluster(options: StartClusterOptions): Promise<LocalCluster> {
  const { dir, binaries, steps, keepAlive, nodeFacing } = options;
  const pkiDir = join(dir, "pki");
  await mkdir(pkiDir, { recursive: true });
  await mkdir(join(dir, "etcd"), { recursive: true });
  const processes: ManagedProcess[] = [];
  try {
    const pki = await steps.step("create cluster PKI", () => createClusterPki(pkiDir, { extraServingIps: nodeFacing ? [nodeFacing.address, nodeFacing.kubernetesServiceIp] : [] }));
    const nodePki = nodeFacing ? await createNodePki(pkiDir, nodeFacing.nodeName) : undefined;
    const apiAddress = nodeFacing?.address ?? "127.0.0.1";

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    await steps.step(`start etcd on ${etcdUrl}`, async () => {
      const etcd = startProcess({
        name: "etcd",
        command: binaries.etcd,
        args: [
          `--data-dir=${join(dir, "etcd")}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          "--unsafe-no-fsync=true",
          "--log-level=warn",
        ],
        logFile: join(dir, "etcd.log"),
        keepAlive,
      });
      processes.push(etcd);
      await waitUntilReady(etcd, () => httpOk(`${etcdUrl}/health`), 30_000);
    });

    const apiServerUrl = `https://${apiAddress}:${apiPort}`;
    await steps.step(`start kube-apiserver on ${apiServerUrl}`, async () => {
      const apiserver = startProcess({
        name: "kube-apiserver",
        command: binaries.kubeApiserver,
        args: [
          `--etcd-servers=${etcdUrl}`,
          `--bind-address=${apiAddress}`,
          `--advertise-address=${apiAddress}`,
          `--secure-port=${apiPort}`,
          `--cert-dir=${pkiDir}`,
          `--tls-cert-file=${pki.servingCert}`,
          `--tls-private-key-file=${pki.servingKey}`,
          `--client-ca-file=${pki.caCert}`,
          ...(nodeFacing && nodePki
            ? [
                // A real kubelet: the Node authorizer and NodeRestriction confine it to its own node and Pods.
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                `--service-cluster-ip-range=${nodeFacing.serviceCidr}`,
                `--kubelet-client-certificate=${nodePki.apiserverKubeletClientCert}`,
                `--kubelet-client-key=${nodePki.apiserverKubeletClientKey}`,
                "--kubelet-preferred-address-types=InternalIP",
              ]
            : ["--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16"]),
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          `--service-account-key-file=${pki.serviceAccountPublicKey}`,
          `--service-account-signing-key-file=${pki.serviceAccountPrivateKey}`,
          "--allow-privileged=true",
          "--profiling=false",
          "--v=0",
        ],
        logFile: join(dir, "kube-apiserver.log"),
        keepAlive,
      });
      processes.push(apiserver);
      await waitUntilReady(apiserver, () => apiOk(apiServerUrl, "/readyz", pki), 90_000);
    });

    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, adminKubeconfig(apiServerUrl, pki), { mode: 0o600 });

    await steps.step("start kube-controller-manager", async () => {
      const controllerManager = startProcess({
        name: "kube-controller-manager",
        command: binaries.kubeControllerManager,
        args: [
          `--kubeconfig=${kubeconfig}`,
          `--authentication-kubeconfig=${kubeconfig}`,
          `--authorization-kubeconfig=${kubeconfig}`,
          "--bind-address=127.0.0.1",
          `--secure-port=${await freePort()}`,
          "--leader-elect=false",
          `--service-account-private-key-file=${pki.serviceAccountPrivateKey}`,
          `--root-ca-file=${pki.caCert}`,
          `--cluster-signing-cert-file=${pki.caCert}`,
          `--cluster-signing-key-file=${pki.caKey}`,
          "--use-service-account-credentials=false",
          "--concurrent-gc-syncs=5",
          "--v=0",
        ],
        logFile: join(dir, "kube-controller-manager.log"),
        keepAlive,
      });
      processes.push(controllerManager);
      // The service-account controller creating `default` in `default` shows the controllers run.
      await waitUntilReady(controllerManager, () => apiOk(apiServerUrl, "/api/v1/namespaces/default/serviceaccounts/default", pki), 60_000);
    });

    if (nodeFacing) {
      await steps.step("start kube-scheduler", async () => {
        const healthPort = await freePort();
        const scheduler = startProcess({
          name: "kube-scheduler",
          command: binaries.kubeScheduler,
          args: [
            `--kubeconfig=${kubeconfig}`,
            `--authentication-kubeconfig=${kubeconfig}`,
            `--authorization-kubeconfig=${kubeconfig}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${healthPort}`,
            "--leader-elect=false",
            "--v=0",
          ],
          logFile: join(dir, "kube-scheduler.log"),
          keepAlive,
        });
        processes.push(scheduler);
        await waitUntilReady(scheduler, () => httpsUp(`https://127.0.0.1:${healthPort}/healthz`), 60_000);
      });
    }

    return { kubeconfig, apiServerUrl, processes, pki, pkiDir };
  } catch (error) {
    for (const proc of processes.reverse()) await proc.stop();
    throw error;
  }
}
