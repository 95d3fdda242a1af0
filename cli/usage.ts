/** A mistake on the command line: printed as one line with the usage hint, exit code 2. */
export class UsageError extends Error {}

export function parseAddress(value: string, flag: string): { host: string; port: number } {
  const match = /^(.*):([0-9]{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || !match[1] || port > 65535) throw new UsageError(`${flag} ${value} is not HOST:PORT (e.g. 127.0.0.1:18000)`);
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
}

const knownCommands = new Set(["authz", "blocks", "controller", "injector", "intercept", "inventory", "probe", "ratelimit", "render", "telemetry"]);

/**
 * The one line to print for a mistake on the command line, or undefined when `error` is not one.
 * A node:util parseArgs error says what is wrong in its words; the line names the command and
 * the flag and says where the flags are listed: `render: unknown flag --x; run 'bulwark render --help' for its flags`.
 */
export function usageProblem(error: unknown, command: string | undefined): string | undefined {
  if (error instanceof UsageError) return error.message;
  if (!(error instanceof TypeError) || !("code" in error) || !String(error.code).startsWith("ERR_PARSE_ARGS")) return undefined;
  const known = command !== undefined && knownCommands.has(command);
  const prefix = known ? `${command}: ` : "";
  const help = known ? `run 'bulwark ${command} --help' for its flags` : "run 'bulwark --help'";
  const unknownFlag = /^Unknown option '([^']*)'/.exec(error.message)?.[1];
  const unexpected = /^Unexpected argument '([^']*)'/.exec(error.message)?.[1];
  const what = unknownFlag !== undefined ? `unknown flag ${unknownFlag}` : unexpected !== undefined ? `unexpected argument ${unexpected}` : error.message;
  return `${prefix}${what}; ${help}`;
}
