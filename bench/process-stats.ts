/**
 * What a process has used, read from /proc (Linux): CPU seconds (user + system, every thread),
 * seconds its threads waited for a CPU while runnable (contention), resident memory.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  cpuSeconds: number;
  runQueueSeconds: number;
}

/** User + system CPU seconds of every thread of `pid` so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Seconds the threads of `pid` have spent runnable but waiting for a CPU (schedstat's second field, summed over threads). */
export function runQueueSecondsOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1] ?? 0);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e9;
}

export function sampleProcess(pid: number): ProcessSample {
  return { cpuSeconds: cpuSecondsOf(pid), runQueueSeconds: runQueueSecondsOf(pid) };
}

/** Resident set size of `pid`, MiB. */
export function rssMiBOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

/** CPU and run-queue wait of several named processes over one interval. */
export class ProcessMeter {
  private readonly before = new Map<string, ProcessSample>();

  constructor(private readonly pids: ReadonlyMap<string, number>) {
    for (const [name, pid] of pids) this.before.set(name, sampleProcess(pid));
  }

  /** Seconds used by each process since the meter was made. */
  read(): Record<string, ProcessSample> {
    const out: Record<string, ProcessSample> = {};
    for (const [name, pid] of this.pids) {
      const now = sampleProcess(pid);
      const was = this.before.get(name) ?? { cpuSeconds: 0, runQueueSeconds: 0 };
      out[name] = { cpuSeconds: now.cpuSeconds - was.cpuSeconds, runQueueSeconds: now.runQueueSeconds - was.runQueueSeconds };
    }
    return out;
  }
}
