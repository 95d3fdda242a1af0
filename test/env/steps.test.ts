import { describe, expect, it } from "vitest";
import { consoleSteps } from "./steps.js";

describe("consoleSteps", () => {
  it("prints a long step's elapsed time while it runs, then its result", async () => {
    const lines: string[] = [];
    let sawProgress: () => void = () => undefined;
    const progressSeen = new Promise<void>((resolve) => (sawProgress = resolve));
    const steps = consoleSteps("env", {
      progressEveryMs: 5,
      write: (line) => {
        lines.push(line);
        if (line.includes("so far")) sawProgress();
      },
    });
    // The step ends only once a progress line was printed for it.
    await steps.step("build kubernetes", () => progressSeen);
    const settled = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(lines[0]).toMatch(/^\[env\] build kubernetes … [0-9]+ s so far\n$/);
    expect(lines[settled - 1]).toMatch(/^\[env\] build kubernetes … ok \([0-9.]+ s\)\n$/);
    // Nothing more once it ended.
    expect(lines.length).toBe(settled);
  });

  it("prints notes as they come and a failed step as failed", async () => {
    const lines: string[] = [];
    const steps = consoleSteps("env", { progressEveryMs: 0, write: (line) => lines.push(line) });
    steps.note("building Kubernetes v1 once");
    await expect(steps.step("provision", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(lines).toEqual(["[env] building Kubernetes v1 once\n", expect.stringMatching(/^\[env\] provision … failed \([0-9.]+ s\)\n$/)]);
  });
});
