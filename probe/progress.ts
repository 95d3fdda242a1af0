import type { CheckClass } from "./types.js";

/**
 * What `bulwark probe` shows on stderr while it runs. On a terminal: one line redrawn in place, a
 * bar of the check classes done out of all, the class running, the checks finished, the requests
 * sent and the time spent. Elsewhere (a CI log): a plain line per class and every 50 requests.
 */

export interface ProgressState {
  classesDone: number;
  classesTotal: number;
  current: CheckClass | "";
  checksDone: number;
  requests: number;
  maxRequests: number;
  elapsedMs: number;
}

const BAR_WIDTH = 20;

function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** The single line a terminal shows, cut to `columns` so it never wraps (a wrapped line cannot be redrawn in place). */
export function progressBar(state: ProgressState, columns = 80): string {
  const share = state.classesTotal === 0 ? 1 : Math.min(1, state.classesDone / state.classesTotal);
  const filled = Math.round(share * BAR_WIDTH);
  const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
  const running = state.current ? ` ${state.current}` : "";
  const line = `${bar} ${state.classesDone}/${state.classesTotal} classes${running}, ${state.checksDone} checks, ${state.requests}/${state.maxRequests} requests, ${elapsed(state.elapsedMs)}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
}

export interface Progress {
  onClass: (checkClass: CheckClass, classesDone: number, classesTotal: number) => void;
  onChecks: (checksDone: number, classesDone: number) => void;
  onRequest: (sent: number, max: number) => void;
  /** Clears the bar (a terminal) before the report is written. */
  finish: () => void;
}

export interface ProgressSink {
  isTTY: boolean;
  columns?: number;
  write(text: string): void;
}

/** Progress on `sink`: a bar redrawn in place on a terminal, plain lines elsewhere, nothing when quiet. */
export function progress(sink: ProgressSink, quiet: boolean, now: () => number = Date.now): Progress {
  const started = now();
  const state: ProgressState = { classesDone: 0, classesTotal: 0, current: "", checksDone: 0, requests: 0, maxRequests: 0, elapsedMs: 0 };
  let drawnAt = -Infinity;
  const draw = (force: boolean): void => {
    if (quiet || !sink.isTTY) return;
    const t = now();
    // At most ten redraws a second: a fast run would spend its time painting the terminal.
    if (!force && t - drawnAt < 100) return;
    drawnAt = t;
    state.elapsedMs = t - started;
    sink.write(`\r\u001b[K${progressBar(state, sink.columns ?? 80)}`);
  };
  const line = (text: string): void => {
    if (!quiet && !sink.isTTY) sink.write(`bulwark probe: ${text}\n`);
  };
  return {
    onClass: (checkClass, done, total) => {
      Object.assign(state, { current: checkClass, classesDone: done, classesTotal: total });
      line(`${checkClass} checks`);
      draw(true);
    },
    onChecks: (checksDone, classesDone) => {
      Object.assign(state, { checksDone, classesDone });
      draw(classesDone === state.classesTotal);
    },
    onRequest: (sent, max) => {
      Object.assign(state, { requests: sent, maxRequests: max });
      if (sent % 50 === 0) line(`${state.current} checks, ${sent} requests (at most ${max})`);
      draw(false);
    },
    finish: () => {
      if (!quiet && sink.isTTY) sink.write("\r\u001b[K");
    },
  };
}
