import type { KubeConfig } from "@kubernetes/client-node";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { sidecarArgs, sidecarBootstrap } from "../../envoy/bootstrap/sidecar-bootstrap.js";
import { freePort, startProcess } from "../env/processes.js";
import { httpRequest, type E2eEnvironment } from "./e2e.js";
import { podToken, xdsServingFiles } from "./xds-credentials.js";

export interface ImpostorEnvoy {
  stats(filter: string): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/** A real Envoy that claims to be pod `claim` while presenting pod `tokenOf`'s token (both of `namespace`). */
export async function startImpostorEnvoy(
  env: E2eEnvironment,
  kc: KubeConfig,
  options: { namespace: string; claim: string; tokenOf: string; xdsPort: number },
): Promise<ImpostorEnvoy> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-impostor-"));
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, await podToken(kc, { namespace: options.namespace, pod: options.tokenOf }), { mode: 0o600 });
  const adminPort = await freePort();
  const { caPem } = await xdsServingFiles();
  const configPath = join(dir, "envoy.yaml");
  const nodeId = `${options.claim}.${options.namespace}`;
  await writeFile(
    configPath,
    stringify(
      sidecarBootstrap({
        node: { id: nodeId, cluster: `${options.namespace}/${options.claim}` },
        xds: { host: "127.0.0.1", port: options.xdsPort, tls: { caPem }, tokenFile },
        admin: { port: adminPort },
      }),
    ),
  );
  const envoy = startProcess({ name: `impostor envoy ${nodeId}`, command: env.envoy, args: [...sidecarArgs(configPath), "--log-level", "warn"], logFile: join(dir, "envoy.log") });
  return {
    async stats(filter: string): Promise<Map<string, number>> {
      const answer = await httpRequest(adminPort, `/stats?filter=${encodeURIComponent(filter)}`);
      const out = new Map<string, number>();
      for (const line of answer.body.split("\n")) {
        const m = /^([^:]+): (\d+)$/.exec(line.trim());
        if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
      }
      return out;
    },
    stop: () => envoy.stop(),
  };
}
