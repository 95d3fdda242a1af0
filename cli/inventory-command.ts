import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { errorMessage } from "../common/errors.js";
import { openApiOfInventoryObject } from "../services/telemetry/inventory/inventory-document.js";
import { UsageError } from "./usage.js";

export const inventoryHelp = `usage: bulwark inventory openapi [-f FILE] [-o json|yaml]

Prints the API a policy's workloads actually serve, as bulwark telemetry learned it from traffic,
as an OpenAPI 3.1 document: every endpoint called (documented, shadow and zombie; unused ones
are left out), with its class, counts and callers' app versions as x-bulwark-* extensions.
It reads an APIInventory object, as kubectl prints it:

  kubectl get apiinventory shop-api -n shop -o json | bulwark inventory openapi > observed.json

flags:
  -f, --file FILE            the APIInventory object (JSON or YAML); - or absent: standard input
  -o, --output FORMAT        json or yaml (default json)
  -h, --help                 this text
`;

async function readInput(file: string): Promise<string> {
  if (file !== "-") return readFile(file, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `bulwark inventory openapi`: resolves with the exit code (1 when the object cannot be read). */
export async function runInventory(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { file: { type: "string", short: "f" }, output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(inventoryHelp);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (action !== "openapi") throw new UsageError(`inventory needs an action: openapi (run 'bulwark inventory --help')`);
  if (extra.length > 0) throw new UsageError(`inventory openapi: unexpected argument ${extra[0]}`);
  const output = values.output ?? "json";
  if (output !== "json" && output !== "yaml") throw new UsageError(`--output ${output} is not one of json, yaml`);
  const file = values.file ?? "-";
  let object: unknown;
  try {
    const { parse } = await import("yaml");
    object = parse(await readInput(file)) as unknown;
  } catch (error) {
    process.stderr.write(`bulwark: inventory: cannot read ${file === "-" ? "standard input" : file}: ${errorMessage(error)}\n`);
    return 1;
  }
  const result = openApiOfInventoryObject(object);
  if ("error" in result) {
    process.stderr.write(`bulwark: inventory: ${result.error}\n`);
    return 1;
  }
  process.stdout.write(output === "json" ? `${JSON.stringify(result.document, null, 2)}\n` : stringify(result.document));
  return 0;
}
