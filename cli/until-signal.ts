import type { Logger } from "pino";

/**
 * Runs until SIGTERM or SIGINT, then logs it, calls `stop` (which closes what the command
 * opened, in order) and resolves with exit code 0.
 */
export function untilSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const shutdown = (signal: string): void => {
      log.info({ signal }, "shutting down");
      void stop().then(() => resolve(0));
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
}
