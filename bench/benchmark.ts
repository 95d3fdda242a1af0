/** A benchmark run by `npm run bench` (bench/run.ts). */
export interface Benchmark {
  name: string;
  /** Runs to completion on its own, prints a table on stdout and writes its results file. */
  run(): Promise<void>;
}
