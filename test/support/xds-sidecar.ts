import { mkdtemp, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { sidecarArgs, sidecarBootstrap } from "../../envoy/bootstrap/sidecar-bootstrap.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../env/processes.js";

/** A real Envoy started as a Bulwark sidecar: the bootstrap and flags Bulwark generates, ADS to `xds`. */
export interface Sidecar {
  nodeId: string;
  adminPort: number;
  process: ManagedProcess;
  /** Counters and gauges whose names match `filter` (a regex), by name. */
  stats(filter: string): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export interface SidecarOptions {
  envoyBinary: string;
  nodeId: string;
  xdsPort: number;
  delta: boolean;
  /** Resolve only once the admin endpoint answers /ready (Envoy has its initial CDS and LDS). Default true. */
  waitReady?: boolean;
  logLevel?: string;
}

function adminGet(port: number, path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`admin ${path} timed out`)));
    req.end();
  });
}

export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-sidecar-"));
  const adminPort = await freePort();
  const bootstrap = sidecarBootstrap({
    node: { id: options.nodeId, cluster: "shop/storefront" },
    xds: { host: "127.0.0.1", port: options.xdsPort, delta: options.delta },
    admin: { port: adminPort },
  });
  const configPath = join(dir, "envoy.yaml");
  await writeFile(configPath, stringify(bootstrap));
  const proc = startProcess({
    name: `envoy ${options.nodeId}`,
    command: options.envoyBinary,
    args: [...sidecarArgs(configPath), "--log-level", options.logLevel ?? "warn"],
    logFile: join(dir, "envoy.log"),
  });
  const sidecar: Sidecar = {
    nodeId: options.nodeId,
    adminPort,
    process: proc,
    async stats(filter: string): Promise<Map<string, number>> {
      const { status, body } = await adminGet(adminPort, `/stats?filter=${encodeURIComponent(filter)}`);
      if (status !== 200) throw new Error(`admin /stats answered ${status}: ${body}`);
      const out = new Map<string, number>();
      for (const line of body.split("\n")) {
        const m = /^([^:]+): (\d+)$/.exec(line.trim());
        if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
      }
      return out;
    },
    stop: () => proc.stop(),
  };
  if (options.waitReady ?? true) {
    try {
      await waitUntilReady(proc, async () => (await adminGet(adminPort, "/ready", 1000).catch(() => ({ status: 0 }))).status === 200, 30_000);
    } catch (error) {
      await proc.stop();
      throw error;
    }
  }
  return sidecar;
}

/** One stat that must exist (a missing stat is a wrong name, not a zero). */
export async function stat(sidecar: Sidecar, name: string): Promise<number> {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const value = (await sidecar.stats(`^${escaped}$`)).get(name);
  if (value === undefined) throw new Error(`Envoy ${sidecar.nodeId} has no stat ${name}`);
  return value;
}
