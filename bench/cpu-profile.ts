/** Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function: where a process spends its CPU. */
import { readFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  function: string;
  /** Share of the busy time (samples other than "(idle)"), percent. */
  selfPercent: number;
  selfMs: number;
}

export interface ProfileSummary {
  busyMs: number;
  /** Busy time by area, percent: the telemetry code by directory, protobuf decoding, the rest. */
  areas: Record<string, number>;
  hot: HotFunction[];
}

/** Where a function belongs, from its name and file. */
function areaOf(name: string): string {
  if (/services\/telemetry\/signals\//.test(name)) return "signal detectors";
  if (/services\/telemetry\/inventory\//.test(name)) return "inventory";
  if (/services\/telemetry\//.test(name)) return "receiver (entry mapping, sinks)";
  if (/protobufjs|\$(decode|toObject|fromObject)\b/.test(name)) return "protobuf decoding";
  if (/^\(garbage collector\)/.test(name)) return "garbage collection";
  if (/node:internal\/http2|node:http2|Http2|nghttp2/i.test(name)) return "HTTP/2";
  return "other (Node internals, prom-client, pino, ioredis, ...)";
}

/** The `top` functions by self time, with their file (relative to node_modules or dist) and line, and the busy time by area. */
export async function hotFunctions(path: string, top = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
  const names = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules|dist)\//, "$1/").replace(/^file:\/\//, "");
    names.set(node.id, `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim());
  }
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const name = names.get(id) ?? "?";
    if (name === "(idle)") return;
    self.set(name, (self.get(name) ?? 0) + us);
    total += us;
  });
  const percent = (us: number): number => Math.round((us / total) * 1000) / 10;
  const areas = new Map<string, number>();
  for (const [name, us] of self) areas.set(areaOf(name), (areas.get(areaOf(name)) ?? 0) + us);
  return {
    busyMs: Math.round(total / 1000),
    areas: Object.fromEntries([...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => [area, percent(us)])),
    hot: [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ function: name, selfPercent: percent(us), selfMs: Math.round(us / 1000) })),
  };
}
