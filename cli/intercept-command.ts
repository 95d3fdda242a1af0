import { parseArgs } from "node:util";
import { InterceptionError, programInterception } from "../operator/intercept/program.js";
import { interceptionProblem } from "../operator/intercept/rules.js";
import { UsageError } from "./usage.js";

export const interceptHelp = `usage: bulwark intercept --app-port PORT [flags]

Run by the injector's init container (bulwark-intercept) in an injected pod's network namespace,
before any other container: redirects inbound TCP to the app port to the sidecar's inbound port,
for IPv4 and (when the kernel has it) IPv6, with the iptables binaries of the image
(iptables-restore, then iptables-save to check). Connections to loopback and the sidecar's own
connections are not redirected: the sidecar reaches the app on 127.0.0.1:<app port>. Exits non-zero
with the reason when the rules cannot be programmed (no iptables, no NET_ADMIN capability), so the
pod does not start with its app port open.

flags:
  --app-port PORT        the app's port (repeatable) (required)
  --sidecar-port PORT    the sidecar's inbound port (default 15006)
  --proxy-uid UID        the sidecar's user id, never redirected (default 101)
  -h, --help             this text
`;

function port(value: string, name: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`--${name} ${value} is not a port (1-65535)`);
  return Number(value);
}

/** Programs the interception once; resolves with the exit code. */
export async function runIntercept(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "app-port": { type: "string", multiple: true },
      "sidecar-port": { type: "string" },
      "proxy-uid": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(interceptHelp);
    return 0;
  }
  if (!values["app-port"] || values["app-port"].length === 0) throw new UsageError("--app-port is required");
  const uid = values["proxy-uid"] ?? "101";
  if (!/^[0-9]{1,10}$/.test(uid)) throw new UsageError(`--proxy-uid ${uid} is not a user id`);
  const options = {
    appPorts: values["app-port"].map((p) => port(p, "app-port")),
    sidecarPort: port(values["sidecar-port"] ?? "15006", "sidecar-port"),
    proxyUid: Number(uid),
  };
  const problem = interceptionProblem(options);
  if (problem) throw new UsageError(problem);
  try {
    const results = await programInterception(options);
    const families = results.map((r) => r.family).join(" and ");
    process.stdout.write(
      `bulwark intercept: inbound TCP to port ${options.appPorts.join(", ")} goes to the sidecar on ${options.sidecarPort} (${families}; uid ${options.proxyUid} and loopback exempt)\n`,
    );
    for (const r of results) process.stdout.write(`# ${r.family}\n${r.saved}`);
    return 0;
  } catch (error) {
    if (error instanceof InterceptionError) {
      process.stderr.write(
        `bulwark intercept: inbound traffic is not intercepted, so this pod must not start (its app port would be reachable past the sidecar): ${error.message}\n`,
      );
      return 1;
    }
    throw error;
  }
}
