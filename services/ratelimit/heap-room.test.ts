import { describe, expect, it } from "vitest";
import { COUNTER_BYTES, memoryCountersProblem } from "./heap-room.js";

const MiB = 1024 * 1024;

describe("memoryCountersProblem", () => {
  it("accepts counters that fit beside the process's own heap", () => {
    expect(memoryCountersProblem(250_000, 256 * MiB)).toBeUndefined();
  });

  it("refuses counters that would pass the heap limit when full, naming both and the most that fit", () => {
    const problem = memoryCountersProblem(1_000_000, 256 * MiB);
    expect(problem).toContain("--memory-counters 1000000 needs about 379 MiB");
    expect(problem).toContain("heap limit is 256 MiB");
    const most = Number(/at most (\d+)$/.exec(problem ?? "")?.[1]);
    expect(memoryCountersProblem(most, 256 * MiB)).toBeUndefined();
    expect(memoryCountersProblem(most + 1, 256 * MiB)).toBeDefined();
  });

  it("counts every counter at its measured size", () => {
    expect(memoryCountersProblem(100, 64 * MiB + 100 * COUNTER_BYTES)).toBeUndefined();
    expect(memoryCountersProblem(101, 64 * MiB + 100 * COUNTER_BYTES)).toBeDefined();
  });
});
