import { authzCheck } from "./authz-check.js";
import type { Benchmark } from "./benchmark.js";
import { controllerApply } from "./controller-apply.js";
import { ratelimitDecide } from "./ratelimit-decide.js";
import { xdsPush } from "./xds-push.js";

/** Every benchmark, run one after the other by `npm run bench`. Add new ones to this list. */
const benchmarks: Benchmark[] = [xdsPush, authzCheck, controllerApply, ratelimitDecide];

async function main(): Promise<void> {
  for (const benchmark of benchmarks) {
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
