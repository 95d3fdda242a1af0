import { describe, expect, it } from "vitest";
import { DistinctSketch, LruTable, WindowCounter, WindowDistinct } from "./bounded.js";

describe("LruTable", () => {
  it("keeps at most its capacity and forgets the least recently used first", () => {
    const table = new LruTable<number>(4); // two generations of 2
    for (const k of ["a", "b", "c"]) table.upsert(k, () => 1); // old {a, b}, young {c}
    expect(table.upsert("a", () => 2)).toBe(1); // a moves to the young generation
    table.upsert("d", () => 1); // young is full: old {c, a}, young {d}; b is forgotten
    expect([...table].map(([k]) => k)).toEqual(["c", "a", "d"]);
    expect(table.evictions).toBe(1);
    for (let i = 0; i < 1000; i++) table.upsert(`k${i}`, () => i);
    expect(table.size).toBeLessThanOrEqual(4);
    expect(table.get("k999")).toBe(999);
  });
});

describe("DistinctSketch", () => {
  it("counts small sets nearly exactly and large ones within 30%", () => {
    for (const n of [1, 5, 15, 40, 100, 1000, 50_000]) {
      const sketch = new DistinctSketch();
      for (let i = 0; i < n; i++) {
        sketch.add(`user-${i}`);
        sketch.add(`user-${i}`); // repeats never count
      }
      const estimate = sketch.estimate();
      const tolerance = n <= 40 ? Math.max(1, 0.12 * n) : 0.3 * n;
      expect(Math.abs(estimate - n), `n=${n} estimate=${estimate}`).toBeLessThanOrEqual(tolerance);
    }
  });
});

describe("WindowCounter", () => {
  it("counts over a sliding window and forgets what is older than two windows", () => {
    const counter = new WindowCounter(10_000);
    for (let t = 1000; t < 11_000; t += 1000) counter.add(t); // 10 in the first bucket
    counter.roll(16_000);
    expect(counter.value(16_000)).toBeCloseTo(10 * 0.5, 5); // half of the previous bucket still in the window
    counter.add(40_000);
    expect(counter.value(40_000)).toBe(1);
  });

  it("WindowDistinct forgets identifiers of old buckets", () => {
    const distinct = new WindowDistinct(10_000);
    for (let i = 0; i < 30; i++) distinct.add(1000 + i, `id-${i}`);
    expect(Math.round(distinct.value(2000))).toBeGreaterThanOrEqual(27);
    expect(distinct.value(40_000)).toBe(0); // reading after two windows forgets too
    expect(Math.round(distinct.add(35_000, "id-new"))).toBe(1);
  });
});
