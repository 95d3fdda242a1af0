/** `bulwark render --bootstrap`: a runnable Envoy bootstrap for one sidecar. */
import { sidecarBootstrap } from "../envoy/bootstrap/sidecar-bootstrap.js";
import { standaloneBootstrap } from "../envoy/bootstrap/standalone-bootstrap.js";
import type { RenderedWorkload } from "../operator/translate/render.js";
import { UsageError } from "./usage.js";

export interface BootstrapRequest {
  /** The sidecar's node id (`<pod>.<namespace>`). */
  nodeId: string;
  adminPort: number;
  /** Configuration over ADS from this controller (`bulwark controller -f`); static when absent. */
  xds?: { host: string; port: number };
}

/** JSON, which Envoy reads as YAML too: its YAML 1.1 reader would take unquoted strings such as `on` or `n` for booleans. */
function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * The bootstrap (JSON). Static: every resource of the sidecar inline, so `envoy -c` runs it with
 * nothing else (the Bulwark services it calls excepted). With `xds`: only the node and the ADS
 * connection, the configuration coming from the standalone controller, which follows the files.
 */
export function renderBootstrap(workloads: readonly RenderedWorkload[], request: BootstrapRequest): string {
  const workload = workloads.find((w) => w.sidecars.includes(request.nodeId));
  if (!workload) {
    const known = workloads.flatMap((w) => w.sidecars);
    throw new UsageError(`no sidecar ${request.nodeId} among the objects read${known.length ? ` (sidecars: ${known.join(", ")})` : "; add one with --local [NS/]SERVICE"}`);
  }
  const [pod, ...rest] = request.nodeId.split(".");
  const node = { id: request.nodeId, cluster: `${rest.join(".")}/${pod ?? ""}` };
  if (request.xds) return json(sidecarBootstrap({ node, xds: { host: request.xds.host, port: request.xds.port }, admin: { port: request.adminPort } }));
  try {
    return json(standaloneBootstrap(workload.resources, { adminPort: request.adminPort, nodeId: node.id, nodeCluster: node.cluster }));
  } catch (error) {
    throw new UsageError(
      `a static bootstrap cannot carry this sidecar's configuration: ${error instanceof Error ? error.message : String(error)}. Certificates (spec.tls) come from the controller: run \`bulwark controller -f\` and render with --xds-address`,
    );
  }
}
