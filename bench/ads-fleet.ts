import { AdsClient } from "./ads-client.js";
import { fleetNodeId, type FleetMessage, type FleetOptions } from "./fleet-protocol.js";

/**
 * A process of simulated sidecars (forked by the benchmark, so their CPU and memory are not
 * the server's): opens `count` ADS streams, each on its own connection, in batches; reports
 * when all are open; on "stop" closes them and reports its own CPU time and RSS.
 */

function send(message: FleetMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BULWARK_FLEET ?? "null") as FleetOptions | null;
  if (!options) throw new Error("BULWARK_FLEET is not set: this process is started by bench/xds-push-server.ts");
  const clients: AdsClient[] = [];
  let errors = 0;
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < options.count; i++) {
    const client = new AdsClient({
      target: options.target,
      nodeId: fleetNodeId(options.nodePrefix, i),
      delta: options.delta,
      onError: () => {
        errors += 1;
      },
    });
    client.start();
    clients.push(client);
    // Batches of 50, so that thousands of sidecars do not all dial in the same tick.
    if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  send({ kind: "started", count: clients.length });
  process.on("message", (message: { kind: string }) => {
    if (message.kind !== "stop") return;
    const cpu = process.cpuUsage(cpuStart);
    const responses = clients.reduce((n, c) => n + c.responses.total, 0);
    for (const client of clients) client.close();
    send({ kind: "stopped", cpuMicros: cpu.user + cpu.system, rssBytes: process.memoryUsage().rss, responses, errors });
    setTimeout(() => process.exit(0), 100);
  });
  // Never outlive the benchmark that started it.
  process.on("disconnect", () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
