import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { readObjects } from "../operator/translate/read-objects.js";
import { render, statusSummary, xdsFiles } from "../operator/translate/render.js";
import { UsageError } from "./usage.js";

export const renderHelp = `usage: bulwark render -f PATH [-f PATH...] [--now RFC3339] [--sidecar NODE-ID]

Prints, as YAML, the exact Envoy configuration that the Kubernetes objects in the given files
(APISecurityPolicy, Service, Pod, Secret, Namespace; directories are read for *.yaml, *.yml and
*.json) produce for each sidecar, with the policy conditions translation decides. Nothing is
contacted: the same translation the controller runs, offline.

Exits 1, naming each on stderr, when a policy is not Accepted (Invalid, Conflicted, its
translation failed), a pass-through workload cannot be built or a file cannot be read, and when
the inputs hold no APISecurityPolicy;
a reference it cannot resolve offline (a Service or Secret not among the files) does not fail it.

flags:
  -f, --filename PATH   a file or directory (repeatable)
  --now TIME            the instant to translate for (deprecation windows); default: now
  --sidecar NODE-ID     only the workload of this sidecar (<pod>.<namespace>)
  -h, --help            this text
`;

async function filesOf(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`${path} does not exist`);
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path);
  return entries
    .filter((e) => [".yaml", ".yml", ".json"].includes(extname(e)))
    .sort()
    .map((e) => join(path, e));
}

export async function runRender(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { filename: { type: "string", short: "f", multiple: true }, now: { type: "string" }, sidecar: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(renderHelp);
    return 0;
  }
  if (!values.filename?.length) throw new UsageError("render needs at least one -f PATH");
  const now = values.now ?? new Date().toISOString();
  if (Number.isNaN(new Date(now).getTime())) throw new UsageError(`--now ${now} is not an RFC 3339 time such as 2026-11-25T12:00:00Z`);
  const paths = (await Promise.all(values.filename.map(filesOf))).flat();
  const files = await Promise.all(paths.map(async (path) => ({ path, text: await readFile(path, "utf8") })));
  const { input, problems } = readObjects(files);
  for (const problem of problems) process.stderr.write(`bulwark render: ${problem.source}: ${problem.message}\n`);
  if (input.policies.length === 0) {
    // Nothing to render is a mistake in a CI step (a wrong path, a glob that matched nothing), not a success.
    process.stderr.write(`bulwark render: no APISecurityPolicy in ${values.filename.join(", ")} (${paths.length} file(s) read: *.yaml, *.yml and *.json); nothing to render\n`);
    return 1;
  }
  const rendered = render({ ...input, now });
  const workloads = rendered.workloads.filter((w) => !values.sidecar || w.sidecars.includes(values.sidecar));
  if (values.sidecar && workloads.length === 0) throw new UsageError(`no sidecar ${values.sidecar} among the objects read`);
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
  // A policy the controller would not accept fails the step that renders it, with the controller's words.
  const refused = rendered.resolution.policies.filter((p) => p.accepted.status !== "True");
  for (const p of refused) process.stderr.write(`bulwark render: policy ${p.namespace}/${p.name} is not Accepted (${p.accepted.reason}): ${p.accepted.message}\n`);
  return problems.length > 0 || rendered.failed.length > 0 || refused.length > 0 ? 1 : 0;
}
