import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";
import type { ObjectSource } from "../controller/ports.js";
import type { TranslationInput } from "../resolve/objects.js";
import { withLocalSidecar, type LocalSidecar } from "./local-sidecar.js";
import { readObjectFiles, watchObjectFiles } from "./policy-files.js";

export interface FileObjectsOptions {
  paths: readonly string[];
  /** A sidecar on this machine, added to the objects read (local-sidecar.ts). */
  local?: LocalSidecar;
  log: Logger;
  /** Called after a read that changed the objects. */
  onChange: () => void;
  /** Saves within this window are read once (default 100 ms). */
  debounceMs?: number;
}

/**
 * The controller's objects from files instead of the API server (standalone mode): read at
 * start and again whenever a file changes. A read that fails — a file being saved, a YAML
 * error — is logged with the file and keeps the objects of the last good read, so a typo never
 * takes the configuration away.
 */
export class FileObjects implements ObjectSource {
  private current: Omit<TranslationInput, "now"> | undefined;
  private signature = "";
  private stopWatching: (() => void) | undefined;
  private reading: Promise<void> = Promise.resolve();

  constructor(private readonly options: FileObjectsOptions) {}

  /** The local sidecar's node id, once the first read succeeded (when one is configured). */
  localNodeId: string | undefined;

  async start(): Promise<void> {
    await this.read();
    if (!this.current) throw new Error("the policy files could not be read (see the lines above); fix them and start again");
    this.stopWatching = watchObjectFiles(this.options.paths, () => this.reread(), {
      debounceMs: this.options.debounceMs ?? 100,
      onError: (message) => this.options.log.warn(message),
    });
  }

  stop(): Promise<void> {
    this.stopWatching?.();
    return this.reading;
  }

  isListed(): boolean {
    return this.current !== undefined;
  }

  isSynced(): boolean {
    return this.current !== undefined;
  }

  translationInput(now: string): TranslationInput {
    return { ...(this.current ?? { policies: [], services: [], pods: [], secrets: [] }), now };
  }

  private reread(): void {
    this.reading = this.reading.then(() => this.read()).then(() => undefined);
  }

  /** Reads every file; true when the objects changed. */
  private async read(): Promise<void> {
    const { log, local } = this.options;
    let read;
    try {
      read = await readObjectFiles(this.options.paths);
    } catch (error) {
      log.warn({ err: errorMessage(error) }, "cannot read the policy files; keeping the objects of the last good read");
      return;
    }
    if (read.problems.length > 0) {
      for (const p of read.problems) log.warn({ file: p.source }, `${p.message}; keeping the objects of the last good read`);
      return;
    }
    let input = read.input;
    if (local) {
      const withLocal = withLocalSidecar(input, local);
      if (!withLocal.ok) {
        log.warn(`${withLocal.message}; keeping the objects of the last good read`);
        return;
      }
      input = withLocal.input;
      this.localNodeId = withLocal.nodeId;
    }
    const signature = JSON.stringify(input);
    if (signature === this.signature) return;
    const first = this.current === undefined;
    this.current = input;
    this.signature = signature;
    log.info({ files: read.files.length, policies: input.policies.length }, first ? "read the policy files" : "the policy files changed");
    if (!first) this.options.onChange();
  }
}
