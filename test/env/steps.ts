import { performance } from "node:perf_hooks";

export interface StepReporter {
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Prints one line per step with its duration, on stderr so stdout stays machine-readable. */
export function consoleSteps(prefix = "env"): StepReporter {
  return {
    async step<T>(title: string, work: () => Promise<T>): Promise<T> {
      const started = performance.now();
      try {
        const result = await work();
        process.stderr.write(`[${prefix}] ${title} … ok (${formatSeconds(performance.now() - started)})\n`);
        return result;
      } catch (error) {
        process.stderr.write(`[${prefix}] ${title} … failed (${formatSeconds(performance.now() - started)})\n`);
        throw error;
      }
    },
  };
}

export const silentSteps: StepReporter = {
  step: <T>(_title: string, work: () => Promise<T>): Promise<T> => work(),
};
