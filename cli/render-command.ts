import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { withLocalSidecar, type LocalSidecar } from "../operator/standalone/local-sidecar.js";
import type { ReadFiles } from "../operator/standalone/policy-files.js";
import { readObjectFlags } from "./object-files.js";
import { render, statusSummary, xdsFiles, type Rendered } from "../operator/translate/render.js";
import { localSidecarFlags, localSidecarHelp, parseLocalSidecarFlags } from "./local-sidecar-flags.js";
import { renderBootstrap } from "./render-bootstrap.js";
import { parseAddress, UsageError } from "./usage.js";

export const renderHelp = `usage: bulwark render -f PATH [-f PATH...] [--now RFC3339] [--sidecar NODE-ID | --local [NS/]SERVICE] [--bootstrap]

Prints, as YAML, the exact Envoy configuration that the Kubernetes objects in the given files
(APISecurityPolicy, Service, Pod, Secret, Namespace; directories are read for *.yaml, *.yml and
*.json) produce for each sidecar, with the policy conditions translation decides. Nothing is
contacted: the same translation the controller runs, offline.

Exits 1, naming each on stderr, when a policy is not Accepted (Invalid, Conflicted, its
translation failed), a pass-through workload cannot be built or a file cannot be read, and when
the inputs hold no APISecurityPolicy;
a reference it cannot resolve offline (a Service or Secret not among the files) does not fail it.

With --bootstrap, prints instead a runnable Envoy bootstrap for one sidecar (--sidecar, or the
local one of --local): static, with its whole configuration inline; or, with --xds-address, one
that takes its configuration from \`bulwark controller -f\` (standalone mode), which follows edits.

flags:
  -f, --filename PATH        a file or directory (repeatable)
  --now TIME                 the instant to translate for (deprecation windows); default: now
  --sidecar NODE-ID          only the workload of this sidecar (<pod>.<namespace>)
${localSidecarHelp.trimEnd()}
  --bootstrap                print an Envoy bootstrap (JSON; envoy -c FILE) for the sidecar instead
  --xds-address HOST:PORT    with --bootstrap: the standalone controller to take configuration from
  --admin-port PORT          with --bootstrap: Envoy's admin port on 127.0.0.1 (default 9901)
  -h, --help                 this text
`;

export async function runRender(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      filename: { type: "string", short: "f", multiple: true },
      now: { type: "string" },
      sidecar: { type: "string" },
      ...localSidecarFlags,
      bootstrap: { type: "boolean" },
      "xds-address": { type: "string" },
      "admin-port": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(renderHelp);
    return 0;
  }
  if (!values.filename?.length) throw new UsageError("render needs at least one -f PATH");
  const now = values.now ?? new Date().toISOString();
  if (Number.isNaN(new Date(now).getTime())) throw new UsageError(`--now ${now} is not an RFC 3339 time such as 2026-11-25T12:00:00Z`);
  const local = parseLocalSidecarFlags(values);
  const read = await readObjectFlags(values.filename);
  const { problems } = read;
  for (const problem of problems) process.stderr.write(`bulwark render: ${problem.source}: ${problem.message}\n`);
  if (read.input.policies.length === 0) {
    // Nothing to render is a mistake in a CI step (a wrong path, a glob that matched nothing), not a success.
    process.stderr.write(
      `bulwark render: no APISecurityPolicy in ${values.filename.join(", ")} (${read.files.length} file(s) read: *.yaml, *.yml and *.json); nothing to render\n`,
    );
    return 1;
  }
  const { input, sidecar } = withSidecar(read.input, { local, sidecar: values.sidecar });
  const rendered = render({ ...input, now });
  if (values.bootstrap) return writeBootstrap(rendered, { sidecar, problems: problems.length, xdsAddress: values["xds-address"], adminPort: values["admin-port"] });
  if (values["xds-address"] !== undefined || values["admin-port"] !== undefined) throw new UsageError("--xds-address and --admin-port go with --bootstrap");
  const refused = reportRefused(rendered);
  const workloads = rendered.workloads.filter((w) => !sidecar || w.sidecars.includes(sidecar));
  if (sidecar && workloads.length === 0) throw new UsageError(`no sidecar ${sidecar} among the objects read`);
  const out = [
    `# policies\n${stringify(statusSummary(rendered.resolution), { lineWidth: 0 })}`,
    ...workloads.map((w) => {
      const body = Object.fromEntries(xdsFiles.map((t) => [t, w.resources[t].map((r) => r.resource)]));
      return `# workload ${w.workload}\n${stringify({ workload: w.workload, sidecars: w.sidecars, ...body }, { lineWidth: 0 })}`;
    }),
  ];
  process.stdout.write(out.join("---\n"));
  for (const f of rendered.failed)
    process.stderr.write(`bulwark render: the pass-through sidecars ${f.sidecars.join(", ")} (workload ${f.workload}) could not be built: ${f.error}\n`);
  return problems.length > 0 || rendered.failed.length > 0 || refused > 0 ? 1 : 0;
}

/** The objects with the local sidecar added (--local), and the sidecar to render for. */
function withSidecar(
  input: ReadFiles["input"],
  options: { local: LocalSidecar | undefined; sidecar: string | undefined },
): { input: ReadFiles["input"]; sidecar: string | undefined } {
  if (!options.local) return { input, sidecar: options.sidecar };
  if (options.sidecar) throw new UsageError("--sidecar and --local exclude each other: --local adds its own sidecar");
  const withLocal = withLocalSidecar(input, options.local);
  if (!withLocal.ok) throw new UsageError(withLocal.message);
  return { input: withLocal.input, sidecar: withLocal.nodeId };
}

/** A policy the controller would not accept fails the step that renders it, with the controller's words. Returns how many. */
function reportRefused(rendered: Rendered): number {
  const refused = rendered.resolution.policies.filter((p) => p.accepted.status !== "True");
  for (const p of refused) process.stderr.write(`bulwark render: policy ${p.namespace}/${p.name} is not Accepted (${p.accepted.reason}): ${p.accepted.message}\n`);
  return refused.length;
}

function writeBootstrap(rendered: Rendered, options: { sidecar: string | undefined; problems: number; xdsAddress: string | undefined; adminPort: string | undefined }): number {
  if (!options.sidecar) throw new UsageError("--bootstrap needs the sidecar: --local [NS/]SERVICE (one on this machine) or --sidecar NODE-ID");
  const adminText = options.adminPort ?? "9901";
  if (!/^[0-9]{1,5}$/.test(adminText) || Number(adminText) < 1 || Number(adminText) > 65535) throw new UsageError(`--admin-port ${adminText} is not a port (1 to 65535)`);
  const xds = options.xdsAddress === undefined ? undefined : parseAddress(options.xdsAddress, "--xds-address");
  const refused = reportRefused(rendered);
  process.stdout.write(renderBootstrap(rendered.workloads, { nodeId: options.sidecar, adminPort: Number(adminText), ...(xds ? { xds } : {}) }));
  return options.problems > 0 || refused > 0 ? 1 : 0;
}
