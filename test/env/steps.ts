import { performance } from "node:perf_hooks";

export interface StepReporter {
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
  /** A line about what a step is doing (for example that it builds something once and caches it). */
  note(message: string): void;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export interface ConsoleStepsOptions {
  /** While a step runs, a line with its elapsed time this often (default 15 s; 0 for none). */
  progressEveryMs?: number;
  write?: (line: string) => void;
}

/**
 * Prints one line per step with its duration, on stderr so stdout stays machine-readable; a step
 * that takes long also prints its elapsed time as it goes, so a first run that builds for minutes
 * never sits silent.
 */
export function consoleSteps(prefix = "env", options: ConsoleStepsOptions = {}): StepReporter {
  const write = options.write ?? ((line: string): void => void process.stderr.write(line));
  const every = options.progressEveryMs ?? 15_000;
  return {
    async step<T>(title: string, work: () => Promise<T>): Promise<T> {
      const started = performance.now();
      const ticker = every > 0 ? setInterval(() => write(`[${prefix}] ${title} … ${Math.round((performance.now() - started) / 1000)} s so far\n`), every) : undefined;
      ticker?.unref();
      try {
        const result = await work();
        write(`[${prefix}] ${title} … ok (${formatSeconds(performance.now() - started)})\n`);
        return result;
      } catch (error) {
        write(`[${prefix}] ${title} … failed (${formatSeconds(performance.now() - started)})\n`);
        throw error;
      } finally {
        clearInterval(ticker);
      }
    },
    note(message: string): void {
      write(`[${prefix}] ${message}\n`);
    },
  };
}

export const silentSteps: StepReporter = {
  step: <T>(_title: string, work: () => Promise<T>): Promise<T> => work(),
  note: (): void => undefined,
};
