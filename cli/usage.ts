/** A mistake on the command line: printed as one line with the usage hint, exit code 2. */
export class UsageError extends Error {}

export function parseAddress(value: string, flag: string): { host: string; port: number } {
  const match = /^(.*):([0-9]{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || !match[1] || port > 65535) throw new UsageError(`${flag} ${value} is not HOST:PORT (e.g. 127.0.0.1:18000)`);
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
}
