import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileTemplate, findDeclared } from "./declared-template.js";
import { PathLearner, type LearnerNodeJSON } from "./path-learner.js";

const options = { threshold: 8, maxNodes: 200 };

describe("PathLearner", () => {
  it("collapses identifiers by shape at once", () => {
    const learner = new PathLearner(options);
    expect(learner.learn("/v1/orders/123")).toBe("/v1/orders/{param}");
    expect(learner.learn("/v1/orders/summary")).toBe("/v1/orders/summary");
  });

  it("collapses a position with many distinct words under one prefix, merging what was below it", () => {
    const learner = new PathLearner(options);
    const names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
    const templates = names.map((n) => learner.learn(`/v1/users/${n}/profile`));
    expect(templates.slice(0, 8)).toEqual(names.slice(0, 8).map((n) => `/v1/users/${n}/profile`));
    expect(templates[8]).toBe("/v1/users/{param}/profile");
    expect(learner.resolve("/v1/users/alice/profile")).toBe("/v1/users/{param}/profile");
    expect(learner.learn("/v1/users/zed/settings")).toBe("/v1/users/{param}/settings");
    // Other prefixes keep their names.
    expect(learner.learn("/v1/orders/summary")).toBe("/v1/orders/summary");
  });

  it("never collapses the first segment (scanners probe many)", () => {
    const learner = new PathLearner(options);
    for (let i = 0; i < 50; i++) learner.learn(`/probe${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
    expect(learner.learn("/health")).toBe("/health");
  });

  it("returns templates that cover their paths, now and after every later collapse", () => {
    const segment = fc.oneof(
      fc.constantFrom("v1", "users", "orders", "me", "items"),
      fc.stringMatching(/^[a-z]{1,5}$/),
      fc.nat().map(String),
      fc.uuid(),
      fc.string({ minLength: 1, maxLength: 12 }).map(encodeURIComponent),
    );
    fc.assert(
      fc.property(fc.array(fc.array(segment, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 120 }), (paths) => {
        const learner = new PathLearner(options);
        const learned = paths.map((p) => {
          const path = `/${p.join("/")}`;
          return { path, template: learner.learn(path) };
        });
        const covers = (template: string, path: string): boolean => findDeclared(path, [compileTemplate(template, true)], true) !== undefined;
        return learned.every(({ path, template }) => covers(template, path) && covers(learner.resolve(template), path));
      }),
    );
  });

  it("stays within its node budget whatever it is fed", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 6 }), { maxLength: 300 }), (paths) => {
        const learner = new PathLearner(options);
        for (const p of paths) learner.learn(`/${p.join("/")}`);
        return learner.size <= options.maxNodes;
      }),
    );
  });

  it("survives a restart through JSON with the same templates", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "x1", "42"), { minLength: 1, maxLength: 4 }), { maxLength: 100 }),
        (paths) => {
          const learner = new PathLearner(options);
          for (const p of paths) learner.learn(`/${p.join("/")}`);
          const restored = PathLearner.fromJSON(JSON.parse(JSON.stringify(learner.toJSON())) as LearnerNodeJSON, options);
          return paths.every((p) => restored.resolve(`/${p.join("/")}`) === learner.resolve(`/${p.join("/")}`)) && restored.size === learner.size;
        },
      ),
    );
  });
});
