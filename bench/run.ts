import { authzCheck } from "./authz-check.js";
import { authzEnvoy } from "./authz-envoy.js";
import { authzGrpc } from "./authz-grpc.js";
import type { Benchmark } from "./benchmark.js";
import { controllerApply } from "./controller-apply.js";
import { controllerEdit } from "./controller-edit.js";
import { ratelimitDecide } from "./ratelimit-decide.js";
import { ratelimitPeer } from "./ratelimit-peer.js";
import { ratelimitService } from "./ratelimit-service.js";
import { serviceMemory } from "./service-memory.js";
import { signalsDetect } from "./signals-detect.js";
import { telemetryBench } from "./telemetry.js";
import { telemetryMemory } from "./telemetry-memory.js";
import { telemetryShipped } from "./telemetry-shipped.js";
import { translate } from "./translate.js";
import { xdsPush, xdsScale } from "./xds-push.js";

/** Every benchmark, run one after the other by `npm run bench`. Add new ones to this list. */
const benchmarks: Benchmark[] = [
  translate,
  xdsPush,
  authzCheck,
  authzGrpc,
  authzEnvoy,
  controllerApply,
  controllerEdit,
  ratelimitDecide,
  ratelimitService,
  ratelimitPeer,
  serviceMemory,
  signalsDetect,
  xdsScale,
  telemetryBench,
  telemetryShipped,
  telemetryMemory,
];

async function main(): Promise<void> {
  // `npm run bench -- translate xds-push` runs only those.
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !benchmarks.some((b) => b.name === name));
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(", ")}; known: ${benchmarks.map((b) => b.name).join(", ")}`);
  for (const benchmark of benchmarks.filter((b) => (only.length === 0 ? !b.explicitOnly : only.includes(b.name)))) {
    console.log(`\n== ${benchmark.name} ==`);
    const started = Date.now();
    await benchmark.run();
    console.log(`(${benchmark.name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
