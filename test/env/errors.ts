/**
 * A prerequisite of the local environment is missing or unusable. The CLI prints
 * `message` and `fix` on one line and exits non-zero, without a stack trace.
 */
export class PrerequisiteError extends Error {
  readonly fix: string;

  constructor(message: string, fix: string) {
    super(message);
    this.name = "PrerequisiteError";
    this.fix = fix;
  }

  oneLine(): string {
    return `${this.message} — ${this.fix}`;
  }
}

/** A readable one-line description of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error);
  } catch {
    return "unknown error";
  }
}
