/**
 * Fixtures for mTLS tests: `bulwark controller` started with the workload-CA flags, the CA read
 * back from its Secret (to issue client certificates as any workload of the mesh would hold),
 * and TLS clients on 127.0.0.1 that say how a handshake and a request ended.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from "node:tls";
import { caFromSecret } from "../../operator/identity/ca-secret.js";
import type { WorkloadCa } from "../../operator/identity/ca.js";
import { startController, type ControllerProcess, type E2eEnvironment } from "./e2e.js";
import { errorMessage } from "../../common/errors.js";

export interface MeshControllerOptions {
  leaseNamespace: string;
  identity: string;
  trustDomain: string;
  /** e.g. `30s` to see rotations during a test. */
  certificateLifetime?: string;
  caSecret?: string;
  caSecretCreate?: boolean;
}

/** `bulwark controller` with the workload CA flags; waits for /readyz. */
export async function startMeshController(env: E2eEnvironment, options: MeshControllerOptions): Promise<ControllerProcess> {
  return startController(env, {
    leaseNamespace: options.leaseNamespace,
    identity: options.identity,
    extraArgs: [
      "--trust-domain",
      options.trustDomain,
      "--ca-secret",
      options.caSecret ?? "bulwark-workload-ca",
      "--ca-secret-create",
      String(options.caSecretCreate ?? true),
      "--workload-cert-lifetime",
      options.certificateLifetime ?? "24h",
    ],
  });
}

/** The workload CA the controller keeps in its Secret. */
export async function readWorkloadCa(kc: KubeConfig, namespace: string, name: string, trustDomain: string): Promise<WorkloadCa> {
  return caFromSecret(await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name }), trustDomain);
}

export interface TlsOutcome {
  /** The handshake completed and an HTTP answer came back. */
  ok: boolean;
  status?: number;
  body?: string;
  /** Why it failed: the TLS alert, reset or timeout. */
  error?: string;
  peer?: PeerCertificate;
  protocol?: string | null;
}

export interface TlsClientOptions {
  port: number;
  /** Roots to verify the sidecar with (the trust bundle); several roots as a list (node reads a list, not a concatenation, reliably when they share a subject). */
  ca: string | string[];
  /** The SPIFFE id the sidecar's certificate must carry. */
  expectServerId?: string;
  cert?: string;
  key?: string;
  minVersion?: ConnectionOptions["minVersion"];
  maxVersion?: ConnectionOptions["maxVersion"];
}

/** Checks that the peer certificate names `expected` as its URI SAN (workload certificates have no DNS name). */
function spiffeCheck(expected: string | undefined): ConnectionOptions["checkServerIdentity"] {
  return (_host, cert) => {
    if (expected === undefined) return undefined;
    return cert.subjectaltname === `URI:${expected}` ? undefined : new Error(`the sidecar presented ${cert.subjectaltname ?? "no SAN"}, not URI:${expected}`);
  };
}

/** Opens a TLS connection to the sidecar (kept open: `request` can be called again on it). */
export function openTls(options: TlsClientOptions): Promise<{ socket: TLSSocket; request(path: string): Promise<TlsOutcome>; close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port: options.port,
      ca: options.ca,
      servername: "workload.bulwark.invalid",
      checkServerIdentity: spiffeCheck(options.expectServerId),
      ...(options.cert ? { cert: options.cert } : {}),
      ...(options.key ? { key: options.key } : {}),
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ALPNProtocols: ["http/1.1"],
    });
    socket.setTimeout(3000, () => socket.destroy(new Error("timed out")));
    socket.on("error", () => undefined); // reported by the promise or by the request in progress
    socket.once("error", reject);
    const closed = (): void => reject(new Error("connection closed during the handshake"));
    socket.once("close", closed);
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      socket.off("close", closed);
      resolve({ socket, request: (path) => httpOver(socket, path), close: () => socket.destroy() });
    });
  });
}

/** One HTTP/1.1 request on an open socket (keep-alive), read until the body is complete. */
function httpOver(socket: TLSSocket, path: string): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    let data = "";
    const done = (outcome: TlsOutcome): void => {
      socket.setTimeout(0);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      data += chunk.toString("utf8");
      const head = data.indexOf("\r\n\r\n");
      if (head < 0) return;
      const length = /content-length: *(\d+)/i.exec(data.slice(0, head))?.[1];
      if (length === undefined || data.length - head - 4 < Number(length)) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      done({ ok: true, status, body: data.slice(head + 4), peer: socket.getPeerCertificate(), protocol: socket.getProtocol() });
    };
    const onError = (error: Error): void => done({ ok: false, error: error.message });
    const onClose = (): void => done({ ok: false, error: `connection closed${data ? ` after ${JSON.stringify(data.slice(0, 80))}` : ""}` });
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.setTimeout(3000, () => socket.destroy(new Error("timed out")));
    socket.write(`GET ${path} HTTP/1.1\r\nhost: sidecar\r\nconnection: keep-alive\r\n\r\n`);
  });
}

/** Connects, sends one request, closes: how a fresh client fares. */
export async function tlsRequest(options: TlsClientOptions, path = "/"): Promise<TlsOutcome> {
  let connection: Awaited<ReturnType<typeof openTls>>;
  try {
    connection = await openTls(options);
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
  try {
    return await connection.request(path);
  } finally {
    connection.close();
  }
}
