/** A benchmark run by `npm run bench` (bench/run.ts). */
export interface Benchmark {
  name: string;
  /** Runs to completion on its own, prints a table on stdout and writes its results file. */
  run(): Promise<void>;
  /** Run only when named (`npm run bench -- <name>`), not by a bare `npm run bench`: too long for every run. */
  explicitOnly?: boolean;
}
