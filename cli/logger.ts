import { pino, type Logger } from "pino";

/**
 * A component's logger: JSON lines with the level as a word ("info", not 30) and the time in
 * ISO 8601 UTC, as log pipelines and people read them; `component` names the process.
 */
export function componentLogger(component: string, level: string): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
