import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baseImageRecipe } from "./base-images.js";
import { buildContextFiles, buildContextHash, isIgnored, parseDockerignore } from "./build-context.js";
import { dockerfileArg, dockerfileBaseImages } from "./dockerfile.js";
import { sidecarImageName } from "./envoy-image.js";
import { qualifiedReference } from "./names.js";
import { chartImageNames } from "../provision/images.js";

const repoRoot = join(import.meta.dirname, "..", "..", "..");

describe("Dockerfile base images", () => {
  it("substitutes global ARG defaults and skips stages and scratch", () => {
    const text = [
      "ARG NODE_VERSION=24.1.0",
      'ARG RELEASE="bookworm"',
      "FROM node:${NODE_VERSION}-${RELEASE}-slim AS build",
      "RUN echo \\",
      "  FROM not-an-instruction",
      "FROM --platform=linux/amd64 debian:$RELEASE-slim AS runtime",
      "COPY --from=build /a /b",
      "FROM build AS again",
      "FROM scratch",
    ].join("\n");
    expect(dockerfileBaseImages(text)).toEqual(["node:24.1.0-bookworm-slim", "debian:bookworm-slim"]);
    expect(dockerfileBaseImages(text, { NODE_VERSION: "24.2.0" })[0]).toBe("node:24.2.0-bookworm-slim");
    expect(dockerfileArg(text, "NODE_VERSION")).toBe("24.1.0");
  });

  it("names an ARG that has no value", () => {
    expect(() => dockerfileBaseImages("FROM node:${MISSING}")).toThrow(/ARG MISSING has no default/);
  });

  it("the repository's Dockerfile names only bases the environment can construct, on Node 24", () => {
    const text = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    const recipes = dockerfileBaseImages(text).map(baseImageRecipe);
    expect(recipes.map((recipe) => recipe.kind).sort()).toEqual(["debian", "node"]);
    expect(dockerfileArg(text, "NODE_VERSION")).toMatch(/^24\.[0-9]+\.[0-9]+$/);
  });

  it("refuses a base it cannot construct, saying what it can", () => {
    expect(() => baseImageRecipe("alpine:3.20")).toThrow(/alpine:3.20 cannot be constructed here.*debian:<release>-slim and node:<x.y.z>-<release>-slim/);
    expect(() => baseImageRecipe("node:24-bookworm-slim")).toThrow(/cannot be constructed/);
  });
});

describe("image names", () => {
  it("qualifies names as containerd and the kubelet do", () => {
    expect(qualifiedReference("bulwark:0.1.0")).toBe("docker.io/library/bulwark:0.1.0");
    expect(qualifiedReference("envoyproxy/envoy:v1.40.0")).toBe("docker.io/envoyproxy/envoy:v1.40.0");
    expect(qualifiedReference("registry.example:5000/team/bulwark:1")).toBe("registry.example:5000/team/bulwark:1");
    expect(qualifiedReference("localhost/bulwark:1")).toBe("localhost/bulwark:1");
    expect(() => qualifiedReference("Bulwark")).toThrow(/is not repository:tag/);
  });

  it("the chart's defaults name bulwark:<appVersion> and the Envoy version the environment provisions", async () => {
    const names = await chartImageNames(repoRoot);
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    expect(names.bulwarkImage).toBe(`bulwark:${version}`);
    expect(names.sidecarImage).toMatch(/^envoyproxy\/envoy:v[0-9.]+$/);
  });

  it("refuses a sidecar tag that is not the provisioned Envoy", () => {
    expect(() => sidecarImageName({ proxy: { image: { repository: "envoyproxy/envoy", tag: "v1.39.0" } } }, "1.40.0")).toThrow(/keep proxy.image.tag at v1.40.0/);
  });
});

describe("build context", () => {
  it("applies .dockerignore as docker does: parents, **, and ! re-includes", () => {
    const rules = parseDockerignore("# comment\n.git\n**/node_modules\n**/*.test.ts\ntest/\n*.md\n!README.md\n");
    expect(isIgnored(rules, ".git/config")).toBe(true);
    expect(isIgnored(rules, "a/b/node_modules/x.js")).toBe(true);
    expect(isIgnored(rules, "node_modules")).toBe(true);
    expect(isIgnored(rules, "cli/main.test.ts")).toBe(true);
    expect(isIgnored(rules, "cli/main.ts")).toBe(false);
    expect(isIgnored(rules, "test/env/cli.ts")).toBe(true);
    expect(isIgnored(rules, "CONTRIBUTING.md")).toBe(true);
    expect(isIgnored(rules, "README.md")).toBe(false);
    expect(isIgnored(rules, "docs/guide.md")).toBe(false);
  });

  it("hashes exactly the context: an ignored file does not change it, a context file does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-context-"));
    await mkdir(join(dir, "src"));
    await mkdir(join(dir, "test"));
    await writeFile(join(dir, ".dockerignore"), "test\n**/*.test.ts\n");
    await writeFile(join(dir, "src/a.ts"), "a");
    await writeFile(join(dir, "src/a.test.ts"), "t");
    await writeFile(join(dir, "test/x.ts"), "x");
    expect(await buildContextFiles(dir)).toEqual([".dockerignore", "src/a.ts"]);
    const before = await buildContextHash(dir);
    await writeFile(join(dir, "test/x.ts"), "changed");
    await writeFile(join(dir, "src/a.test.ts"), "changed");
    expect(await buildContextHash(dir)).toBe(before);
    await writeFile(join(dir, "src/a.ts"), "changed");
    expect(await buildContextHash(dir)).not.toBe(before);
  });

  it("the repository's context holds the sources the build compiles and no tests", async () => {
    const files = await buildContextFiles(repoRoot);
    expect(files).toContain("package-lock.json");
    expect(files).toContain("tsconfig.build.json");
    expect(files).toContain("cli/main.ts");
    expect(files.filter((file) => file.endsWith(".test.ts") || file.startsWith("test/") || file.startsWith("node_modules/"))).toEqual([]);
  });
});
