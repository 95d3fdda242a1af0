import { describe, expect, it } from "vitest";
import { progress, progressBar } from "./progress.js";

describe("the probe's progress", () => {
  it("draws one line: the classes done out of all, the class running, checks, requests and the time spent", () => {
    const line = progressBar({ classesDone: 3, classesTotal: 7, current: "bypass", checksDone: 41, requests: 180, maxRequests: 1000, elapsedMs: 75_400 });
    expect(line).toBe("[#########-----------] 3/7 classes bypass, 41 checks, 180/1000 requests, 1:15");
    expect(progressBar({ classesDone: 7, classesTotal: 7, current: "rate-limits", checksDone: 60, requests: 1, maxRequests: 1, elapsedMs: 0 }, 40)).toHaveLength(39);
  });

  it("redraws the line in place on a terminal, at most ten times a second, and clears it at the end", () => {
    const out: string[] = [];
    let t = 0;
    const p = progress({ isTTY: true, columns: 120, write: (s) => out.push(s) }, false, () => t);
    p.onClass("transport", 0, 2);
    p.onRequest(1, 10);
    t = 150;
    p.onRequest(2, 10);
    p.onChecks(3, 1);
    p.onClass("exposure", 1, 2);
    p.onChecks(5, 2);
    p.finish();
    expect(out.every((s) => s.startsWith("\r\u001b[K") && !s.includes("\n"))).toBe(true);
    expect(out).toHaveLength(5);
    expect(out[1]).toContain("2/10 requests, 0:00");
    expect(out[3]).toContain("[#########");
    expect(out[3]).toContain("2/2 classes exposure, 5 checks");
    expect(out[4]).toBe("\r\u001b[K");
  });

  it("writes plain lines off a terminal (a class, every 50 requests), and nothing when quiet", () => {
    const out: string[] = [];
    const p = progress({ isTTY: false, write: (s) => out.push(s) }, false);
    p.onClass("bola", 0, 1);
    for (let i = 1; i <= 100; i++) p.onRequest(i, 600);
    p.onChecks(4, 1);
    p.finish();
    expect(out).toEqual(["bulwark probe: bola checks\n", "bulwark probe: bola checks, 50 requests (at most 600)\n", "bulwark probe: bola checks, 100 requests (at most 600)\n"]);
    const quiet: string[] = [];
    const q = progress({ isTTY: true, write: (s) => quiet.push(s) }, true);
    q.onClass("bola", 0, 1);
    q.onRequest(50, 600);
    q.finish();
    expect(quiet).toEqual([]);
  });
});
