import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The modules a file loads when it is imported: static imports and re-exports of values (type-only ones are erased), followed through the tree. Dynamic import() is not followed. */
function staticGraph(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined;
      if (ts.isImportDeclaration(statement)) {
        const clause = statement.importClause;
        const typeOnly =
          clause !== undefined &&
          (clause.isTypeOnly ||
            (!clause.name && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
        if (!typeOnly) specifier = statement.moduleSpecifier;
      } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
        specifier = statement.moduleSpecifier;
      }
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      const name = specifier.text;
      if (name.startsWith(".")) {
        const target = resolve(dirname(file), name.replace(/\.js$/, ".ts"));
        if (existsSync(target)) visit(target);
      } else if (!name.startsWith("node:")) {
        const pkg = name.startsWith("@") ? name.split("/").slice(0, 2).join("/") : (name.split("/")[0] ?? name);
        if (!packages.has(pkg)) packages.set(pkg, file.slice(repoRoot.length + 1));
      }
    }
  };
  visit(join(repoRoot, entry));
  return { files, packages };
}

describe("what each command loads (#19: the data-plane services stay small)", () => {
  it("bulwark itself loads no command until one runs", () => {
    expect([...staticGraph("cli/main.ts").packages.keys()]).toEqual([]);
  });

  it.each(["cli/ratelimit-command.ts", "cli/authz-command.ts", "cli/telemetry-command.ts"])("%s reads files without loading the Kubernetes client", (entry) => {
    const { packages } = staticGraph(entry);
    expect(packages.get("@kubernetes/client-node"), `reached through ${packages.get("@kubernetes/client-node")}`).toBeUndefined();
    // They serve gRPC with services/grpc over node:http2 and read messages with protobufjs: no grpc-js, no proto-loader.
    for (const pkg of ["@grpc/grpc-js", "@grpc/proto-loader", "@grpc/grpc-js-xds"]) expect(packages.get(pkg), `${pkg} reached through ${packages.get(pkg)}`).toBeUndefined();
  });

  it("the Kubernetes watches are still there, behind the import the command makes when it watches", () => {
    expect(staticGraph("services/ratelimit/kubernetes-limit-source.ts").packages.has("@kubernetes/client-node")).toBe(true);
    expect(staticGraph("cli/authz-route-watch.ts").packages.has("@kubernetes/client-node")).toBe(true);
  });
});
