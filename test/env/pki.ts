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

const opensslFix = "install openssl (apt-get install openssl)";

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await exec("openssl", args, { cwd: dir, missingFix: opensslFix });
}

async function issue(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-out", `${name}.crt`, "-extfile", `${name}.ext`]);
}

/**
 * Creates the throw-away PKI of a local test cluster: a CA, the API server's serving
 * certificate for loopback, an admin client certificate (group system:masters) and
 * the service-account signing key pair.
 */
export async function createClusterPki(dir: string): Promise<ClusterPki> {
  await openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=bulwark-test-cluster-ca"]);
  await issue(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
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
