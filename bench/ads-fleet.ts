import { AdsClient } from "./ads-client.js";
import { AdsWireClient } from "./ads-wire-client.js";
import { fleetNodeId, type FleetCommand, type FleetMessage, type FleetOptions } from "./fleet-protocol.js";

/**
 * A process of simulated sidecars (forked by the benchmark, so their CPU and memory are not
 * the server's): opens `count` ADS streams, each on its own connection, in batches; reports
 * when all are open; answers "cpu" with its CPU time so far (so the benchmark can say what each
 * phase cost the sidecars); on "stop" closes them and reports its own CPU time and RSS.
 */

function send(message: FleetMessage): void {
  process.send?.(message);
}

function cpuMicros(since?: NodeJS.CpuUsage): number {
  const cpu = process.cpuUsage(since);
  return cpu.user + cpu.system;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BULWARK_FLEET ?? "null") as FleetOptions | null;
  if (!options) throw new Error("BULWARK_FLEET is not set: this process is started by bench/xds-push-server.ts");
  const clients: (AdsClient | AdsWireClient)[] = [];
  let errors = 0;
  const cpuStart = process.cpuUsage();
  const batch = options.batch ?? 50;
  for (let i = 0; i < options.count; i++) {
    const clientOptions = {
      target: options.target,
      nodeId: fleetNodeId(options.nodePrefix, i),
      delta: options.delta,
      onError: (): void => {
        errors += 1;
      },
    };
    const client = options.client === "grpc-js" ? new AdsClient(clientOptions) : new AdsWireClient(clientOptions);
    client.start();
    clients.push(client);
    // In batches, so that thousands of sidecars do not all dial in the same tick.
    if (i % batch === batch - 1) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  send({ kind: "started", count: clients.length });
  process.on("message", (message: FleetCommand) => {
    if (message.kind === "cpu") {
      send({ kind: "cpu", cpuMicros: cpuMicros(cpuStart) });
      return;
    }
    if (message.kind !== "stop") return;
    const cpu = cpuMicros(cpuStart);
    const responses = clients.reduce((n, c) => n + c.responses.total, 0);
    const redials = clients.reduce((n, c) => n + (c instanceof AdsWireClient ? c.redials : 0), 0);
    for (const client of clients) client.close();
    send({ kind: "stopped", cpuMicros: cpu, rssBytes: process.memoryUsage().rss, responses, errors, redials });
    setTimeout(() => process.exit(0), 100);
  });
  // Never outlive the benchmark that started it.
  process.on("disconnect", () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
