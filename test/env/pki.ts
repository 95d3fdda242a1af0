import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exec } from "./exec.js";

export interface ClusterPki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

/** Client certificates of a node's components, issued by the cluster CA (for the Node authorizer and RBAC). */
export interface NodePki {
  /** CN system:node:<name>, O system:nodes: the kubelet's identity. */
  kubeletCert: string;
  kubeletKey: string;
  /** CN system:kube-proxy: bound to system:node-proxier by the default RBAC. */
  kubeProxyCert: string;
  kubeProxyKey: string;
  /** The API server's client certificate towards kubelets (logs, exec). */
  apiserverKubeletClientCert: string;
  apiserverKubeletClientKey: string;
}

export interface ClusterPkiOptions {
  /** Extra IP addresses the API server's certificate is valid for (its node-facing address, the kubernetes Service's IP). */
  extraServingIps?: readonly string[];
}

const opensslFix = "install openssl (apt-get install openssl)";

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await exec("openssl", args, { cwd: dir, missingFix: opensslFix });
}

async function issue(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "30",
    "-out",
    `${name}.crt`,
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * Creates the throw-away PKI of a local test cluster: a CA, the API server's serving
 * certificate for loopback, an admin client certificate (group system:masters) and
 * the service-account signing key pair.
 */
export async function createClusterPki(dir: string, options: ClusterPkiOptions = {}): Promise<ClusterPki> {
  const extraIps = (options.extraServingIps ?? []).map((ip) => `,IP:${ip}`).join("");
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "30",
    "-subj",
    "/CN=bulwark-test-cluster-ca",
  ]);
  await issue(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1${extraIps}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  await issue(dir, "admin", "/O=system:masters/CN=bulwark-admin", "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
  const serviceAccount = generateKeyPairSync("rsa", { modulusLength: 2048 });
  await writeFile(join(dir, "sa.key"), serviceAccount.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(join(dir, "sa.pub"), serviceAccount.publicKey.export({ type: "spki", format: "pem" }));
  return {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    servingCert: join(dir, "apiserver.crt"),
    servingKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
    serviceAccountPublicKey: join(dir, "sa.pub"),
    serviceAccountPrivateKey: join(dir, "sa.key"),
  };
}

const clientUsage = "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n";

/** Issues the node's client certificates with the CA created by createClusterPki in the same directory. */
export async function createNodePki(dir: string, nodeName: string): Promise<NodePki> {
  await issue(dir, "kubelet", `/O=system:nodes/CN=system:node:${nodeName}`, clientUsage);
  await issue(dir, "kube-proxy", "/CN=system:kube-proxy", clientUsage);
  await issue(dir, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", clientUsage);
  return {
    kubeletCert: join(dir, "kubelet.crt"),
    kubeletKey: join(dir, "kubelet.key"),
    kubeProxyCert: join(dir, "kube-proxy.crt"),
    kubeProxyKey: join(dir, "kube-proxy.key"),
    apiserverKubeletClientCert: join(dir, "apiserver-kubelet-client.crt"),
    apiserverKubeletClientKey: join(dir, "apiserver-kubelet-client.key"),
  };
}
