/** What one counter held in memory costs, key included (measured with the budgets of the bench). */
export const COUNTER_BYTES = 330;

/** The process's own heap beside its counters under load (V8 heap used: 25-31 MiB in npm run bench -- service-memory), with room to spare. */
const PROCESS_HEAP_BYTES = 64 * 1024 * 1024;

const MiB = 1024 * 1024;

/**
 * Why `maxCounters` counters cannot be held within a heap limit of `heapLimitBytes`, or undefined
 * when they fit. A full store past the heap limit would end the process ("JavaScript heap out of
 * memory") just when Redis is away and the counters are needed, so this is refused at start.
 */
export function memoryCountersProblem(maxCounters: number, heapLimitBytes: number): string | undefined {
  const needed = maxCounters * COUNTER_BYTES + PROCESS_HEAP_BYTES;
  if (needed <= heapLimitBytes) return undefined;
  return (
    `--memory-counters ${maxCounters} needs about ${Math.ceil(needed / MiB)} MiB of heap when full (about ${COUNTER_BYTES} bytes per counter ` +
    `and ${PROCESS_HEAP_BYTES / MiB} MiB for the rest of the process), but this process's heap limit is ${Math.floor(heapLimitBytes / MiB)} MiB ` +
    `(--max-old-space-size in NODE_OPTIONS, the chart's ratelimit.nodeOptions): raise the limit or lower --memory-counters ` +
    `to at most ${Math.max(0, Math.floor((heapLimitBytes - PROCESS_HEAP_BYTES) / COUNTER_BYTES))}`
  );
}
