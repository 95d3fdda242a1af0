/** The mutating admission webhook: AdmissionReview v1 in, a JSON Patch out (HTTPS, node:https). */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { decideInjection, type InjectorConfig, type PodLike } from "./inject.js";
import { errorMessage } from "../common/errors.js";

export const MUTATE_PATH = "/mutate-pods";
const MAX_BODY = 4 * 1024 * 1024;

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string; kind?: { kind?: string }; operation?: string; namespace?: string; object?: PodLike; dryRun?: boolean };
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
}

/** The answer to one AdmissionReview: always allowed (injection never blocks a pod), patched when injected. */
export function review(body: AdmissionReview, config: InjectorConfig, log?: Logger): { apiVersion: string; kind: string; response: AdmissionResponse } {
  const request = body.request;
  if (!request?.uid) throw new Error("not an AdmissionReview request");
  const base = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" };
  if (request.kind?.kind !== "Pod" || request.operation !== "CREATE" || !request.object) return { ...base, response: { uid: request.uid, allowed: true } };
  const pod: PodLike = { ...request.object, metadata: { ...request.object.metadata, namespace: request.object.metadata?.namespace ?? request.namespace } };
  const decision = decideInjection(pod, config);
  const name = `${pod.metadata?.namespace ?? "?"}/${pod.metadata?.name ?? `${pod.metadata?.generateName ?? ""}*`}`;
  if (!decision.inject) {
    log?.debug({ pod: name, reason: decision.reason }, "not injected");
    return { ...base, response: { uid: request.uid, allowed: true, ...(decision.warning ? { warnings: [decision.warning] } : {}) } };
  }
  log?.info({ pod: name, appPort: decision.appPort, dryRun: request.dryRun === true }, "injected the sidecar");
  return { ...base, response: { uid: request.uid, allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(decision.patch)).toString("base64") } };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error("request body too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface WebhookServerOptions {
  host: string;
  port: number;
  /** Serving certificate and key (PEM); replace them later with `server.setSecureContext`. */
  tls: { cert: string; key: string };
  config: InjectorConfig;
  log: Logger;
}

/** Starts the HTTPS server: POST /mutate-pods, GET /healthz. Resolves with the server once listening. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<Server> {
  const server = createServer({ ...options.tls, minVersion: "TLSv1.2" }, (req, res) => {
    if (req.method === "GET" && req.url === "/healthz") return send(res, 200, "ok");
    if (req.method !== "POST" || req.url?.split("?")[0] !== MUTATE_PATH) return send(res, 404, "not found");
    void readBody(req).then(
      (text) => {
        try {
          send(res, 200, review(JSON.parse(text) as AdmissionReview, options.config, options.log));
        } catch (error) {
          send(res, 400, errorMessage(error));
        }
      },
      (error: unknown) => send(res, 413, errorMessage(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
