import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiSecurityPolicyCrd } from "../../../operator/api/crd.js";
import { apiSecurityPolicy } from "../../../operator/api/v1alpha1/index.js";
import { policyStatus } from "../../../operator/api/v1alpha1/status.js";
import { badPolicies, validPolicy, type PolicyManifest } from "../../fixtures/bad-policies.js";
import { examples } from "../../fixtures/examples.js";
import { installCrds } from "../../support/crds.js";
import { uniqueName } from "../../support/environment.js";
import { kubectl } from "../../support/kubectl.js";
import { errorMessage } from "../../../common/errors.js";
import { waitFor } from "../../support/poll.js";

interface StoredPolicy {
  metadata: { name: string; namespace: string };
  spec: Record<string, unknown>;
  status?: unknown;
}

const namespaces: string[] = [];
let dir = "";

async function createNamespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await kubectl(["create", "namespace", name]);
  namespaces.push(name);
  return name;
}

async function writeManifest(name: string, manifest: unknown): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(manifest));
  return file;
}

/** The message kubectl prints when the API server refuses `manifest` in a server-side dry run. */
async function refusal(manifest: PolicyManifest, namespace: string): Promise<string> {
  const file = await writeManifest(`${namespace}-${manifest.metadata.name}`, manifest);
  try {
    await kubectl(["create", "--dry-run=server", "--namespace", namespace, "--filename", file]);
  } catch (error) {
    return errorMessage(error);
  }
  throw new Error("the API server accepted it");
}

/** `kubectl get` output as rows of columns (columns are separated by two or more spaces). */
function table(output: string): string[][] {
  return output
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s{2,}/));
}

/** Descriptions as kubectl explain prints them: wrapped, so compare with whitespace collapsed. */
function words(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bulwark-policy-crd-"));
  await installCrds();
});

afterAll(async () => {
  await Promise.all(namespaces.map((ns) => kubectl(["delete", "namespace", ns, "--wait=false"]).catch(() => undefined)));
});

describe("the APISecurityPolicy CRD in the real API server", () => {
  it.each(examples())("applies examples/$file and reads it back with the defaults zod applies", async ({ path, manifest }) => {
    const namespace = await createNamespace("example");
    await kubectl(["apply", "--namespace", namespace, "--filename", path]);
    const { stdout } = await kubectl(["get", "apisecuritypolicy", manifest.metadata.name, "--namespace", namespace, "--output=json"]);
    const stored = JSON.parse(stdout) as StoredPolicy;
    expect(stored.metadata.namespace).toBe(namespace);
    // The server filled in defaults ...
    expect(stored.spec).not.toEqual(manifest.spec);
    // ... the same ones the operator's schema fills in.
    expect(stored.spec).toEqual(apiSecurityPolicy.parse(manifest).spec);
  });

  it("accepts the base of the bad-manifest table, with the defaults zod applies", async () => {
    const namespace = await createNamespace("base");
    const file = await writeManifest("base", validPolicy());
    const { stdout } = await kubectl(["create", "--dry-run=server", "--namespace", namespace, "--filename", file, "--output=json"]);
    expect((JSON.parse(stdout) as StoredPolicy).spec).toEqual(apiSecurityPolicy.parse(validPolicy()).spec);
  });

  describe("rejects bad manifests with a message that names the field and what is allowed", () => {
    let namespace = "";
    beforeAll(async () => {
      namespace = await createNamespace("bad");
    });

    // Server-side dry runs, a few at a time (vitest's maxConcurrency).
    it.concurrent.for(badPolicies.map((c, index) => ({ ...c, index })))("$description", async ({ mutate, wantErrors, index }, { expect }) => {
      const policy = validPolicy();
      policy.metadata.name = `bad-${index}`;
      mutate(policy);
      const message = await refusal(policy, namespace);
      for (const want of wantErrors) expect(message).toContain(want);
    });
  });

  it("documents spec.rules in kubectl explain", async () => {
    const schema = (apiSecurityPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } }).spec.versions[0]?.schema.openAPIV3Schema;
    const rules = schema?.properties?.spec?.properties?.rules;
    const ruleFields = rules?.items?.properties ?? {};
    if (!rules?.description || Object.keys(ruleFields).length === 0) throw new Error("the schema has no documented spec.rules");
    // The API server publishes the OpenAPI of a new CRD a little after it is served.
    const explained = await waitFor(
      "kubectl explain to document apisecuritypolicy.spec.rules",
      async () => {
        const { stdout } = await kubectl(["explain", "apisecuritypolicy.spec.rules"]);
        return words(stdout).includes(words(rules.description ?? "")) ? stdout : undefined;
      },
      60_000,
      100,
    );
    expect(explained).toMatch(/KIND:\s+APISecurityPolicy/);
    for (const [name, field] of Object.entries(ruleFields)) {
      expect(explained).toMatch(new RegExp(`^  ${name}\\s+<`, "m"));
      expect(words(explained)).toContain(words(field.description ?? `no description of ${name}`));
    }
  });

  it("documents spec.clientAddress and rules[].clientCIDRs in kubectl explain", async () => {
    const schema = (apiSecurityPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } }).spec.versions[0]?.schema.openAPIV3Schema;
    const clientAddress = schema?.properties?.spec?.properties?.clientAddress;
    const cidrs = schema?.properties?.spec?.properties?.rules?.items?.properties?.clientCIDRs;
    for (const [path, node] of [
      ["apisecuritypolicy.spec.clientAddress", clientAddress],
      ["apisecuritypolicy.spec.rules.clientCIDRs", cidrs],
    ] as const) {
      const fields = node?.properties ?? {};
      if (!node?.description || Object.keys(fields).length === 0) throw new Error(`the schema has no documented ${path}`);
      const explained = await waitFor(
        `kubectl explain to document ${path}`,
        async () => {
          const { stdout } = await kubectl(["explain", path]);
          return words(stdout).includes(words(node.description ?? "")) ? stdout : undefined;
        },
        60_000,
        100,
      );
      for (const [name, field] of Object.entries(fields)) {
        expect(explained).toMatch(new RegExp(`^  ${name}\\s+<`, "m"));
        expect(words(explained)).toContain(words(field.description ?? `no description of ${name}`));
      }
    }
  });

  it("documents spec.tls, its public certificate and HSTS in kubectl explain", async () => {
    const schema = (apiSecurityPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } }).spec.versions[0]?.schema.openAPIV3Schema;
    const tls = schema?.properties?.spec?.properties?.tls;
    for (const [path, node] of [
      ["apisecuritypolicy.spec.tls", tls],
      ["apisecuritypolicy.spec.tls.certificate.secretRef", tls?.properties?.certificate?.properties?.secretRef],
      ["apisecuritypolicy.spec.tls.hsts", tls?.properties?.hsts],
    ] as const) {
      const fields = node?.properties ?? {};
      if (!node?.description || Object.keys(fields).length === 0) throw new Error(`the schema has no documented ${path}`);
      const explained = await waitFor(
        `kubectl explain to document ${path}`,
        async () => {
          const { stdout } = await kubectl(["explain", path]);
          return words(stdout).includes(words(node.description ?? "")) ? stdout : undefined;
        },
        60_000,
        100,
      );
      for (const [name, field] of Object.entries(fields)) {
        expect(explained).toMatch(new RegExp(`^  ${name}\\s+<`, "m"));
        expect(words(explained)).toContain(words(field.description ?? `no description of ${name}`));
      }
    }
  });

  it("shows targets, Accepted, Programmed, Ready and age in kubectl get asp, and lists policies under the bulwark category", async () => {
    const namespace = await createNamespace("columns");
    const shop = examples().find((e) => e.file === "shop-api.yaml");
    if (!shop) throw new Error("examples/shop-api.yaml is missing");
    await kubectl(["apply", "--namespace", namespace, "--filename", shop.path]);
    const name = shop.manifest.metadata.name;

    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const condition = (type: string, status: string, reason: string, message: string): Record<string, unknown> => ({
      type,
      status,
      reason,
      message,
      observedGeneration: 1,
      lastTransitionTime: now,
    });
    const status = {
      observedGeneration: 1,
      conditions: [
        condition("Accepted", "True", "Accepted", "The policy is valid."),
        condition("ResolvedRefs", "True", "ResolvedRefs", "All references resolved."),
        condition("Programmed", "False", "Pending", "2/3 sidecars run generation 1."),
        condition("Ready", "False", "Pending", "2/3 sidecars run generation 1."),
      ],
      targets: [{ kind: "Service", name: "shop-api", sidecars: 3, programmed: 2 }],
      sidecars: "2/3",
    };
    expect(policyStatus.parse(status)).toEqual(status);
    await kubectl(["patch", "apisecuritypolicy", name, "--namespace", namespace, "--subresource=status", "--type=merge", "--patch", JSON.stringify({ status })]);

    const [header, row, ...rest] = table((await kubectl(["get", "asp", "--namespace", namespace])).stdout);
    expect(header).toEqual(["NAME", "TARGETS", "ACCEPTED", "PROGRAMMED", "READY", "REASON", "AGE"]);
    expect(row?.slice(0, 6)).toEqual([name, "shop-api", "True", "2/3", "False", "Pending"]);
    expect(row?.[6]).toMatch(/^\d+[smhd]/);
    expect(rest).toEqual([]);

    const category = await kubectl(["get", "bulwark", "--namespace", namespace, "--output=name"]);
    expect(category.stdout.trim().split("\n")).toEqual([`apisecuritypolicy.bulwark.dev/${name}`]);

    // The status the server stored is what the operator's schema reads.
    const stored = JSON.parse((await kubectl(["get", "asp", name, "--namespace", namespace, "--output=json"])).stdout) as StoredPolicy;
    expect(policyStatus.parse(stored.status)).toEqual(status);
  });
});

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}
