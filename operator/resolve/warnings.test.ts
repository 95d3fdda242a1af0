import { describe, expect, it } from "vitest";
import { desiredStatus } from "../controller/policy-status.js";
import { jwtAuthentication, policy, service, sidecarPod } from "../testdata/objects.js";
import { resolvePolicies } from "./resolve.js";

function resolvedWith(spec: Record<string, unknown>): ReturnType<typeof resolvePolicies>["policies"][number] {
  const [resolved] = resolvePolicies({
    policies: [policy({ name: "p", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], ...spec } })],
    services: [service("shop", "api", { app: "api" })],
    pods: [sidecarPod("shop", "api-1", { app: "api" })],
    secrets: [],
    now: "2026-11-25T12:00:00Z",
  }).policies;
  if (!resolved) throw new Error("no policy");
  return resolved;
}

const rule = (name: string, match: Record<string, unknown>): Record<string, unknown> => ({ name, match, authentication: "None" });

describe("the Warnings condition", () => {
  it.each([
    ["the same exact path", [rule("a", { path: "/v1/x" }), rule("b", { path: "/v1/x", methods: ["GET"] })], "rule b never applies: the earlier rule a"],
    ["a broader prefix first", [rule("a", { pathPrefix: "/v1/" }), rule("b", { pathTemplate: "/v1/users/{id}" })], "rule b never applies: the earlier rule a"],
    ["a superset of methods", [rule("a", { pathPrefix: "/", methods: ["GET", "POST"] }), rule("b", { pathPrefix: "/v1/", methods: ["POST"] })], "rule b never applies"],
  ])("reports a rule shadowed by %s", (_what, rules, message) => {
    const resolved = resolvedWith({ rules });
    expect(resolved.warnings).toMatchObject({ status: "True", reason: "ShadowedRule" });
    expect(resolved.warnings.message).toContain(message);
  });

  it.each([
    ["a narrower prefix first", [rule("a", { pathPrefix: "/v1/users/" }), rule("b", { pathPrefix: "/v1/" })]],
    ["methods the earlier rule does not take", [rule("a", { pathPrefix: "/", methods: ["GET"] }), rule("b", { pathPrefix: "/v1/", methods: ["GET", "POST"] })]],
    ["any method after a rule with methods", [rule("a", { path: "/x", methods: ["GET"] }), rule("b", { path: "/x" })]],
    ["a path the template does not match", [rule("a", { pathTemplate: "/v1/{id}" }), rule("b", { path: "/v1/a/b" })]],
  ])("says nothing about %s", (_what, rules) => {
    expect(resolvedWith({ rules }).warnings).toMatchObject({ status: "False", reason: "NoWarnings" });
  });

  it("reports a JWKS fetched over plain http, and https stays quiet", () => {
    const http = { jwt: { providers: [{ ...jwtAuthentication.jwt.providers[0], jwks: { remote: { uri: "http://idp.auth.svc/jwks" } } }] } };
    expect(resolvedWith({ authentication: http }).warnings).toMatchObject({ status: "True", reason: "PlaintextJwksUri" });
    expect(resolvedWith({ authentication: jwtAuthentication }).warnings.status).toBe("False");
  });

  it("stays out of Ready: a policy with warnings is Ready, and its Warnings condition says why", () => {
    const resolved = resolvedWith({ rules: [rule("a", { pathPrefix: "/" }), rule("b", { path: "/x" })] });
    const status = desiredStatus(resolved, { runningGeneration: () => 1, rejection: () => undefined }, undefined, "2026-11-25T12:00:00Z");
    const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));
    expect(byType).toEqual({ Accepted: "True Accepted", ResolvedRefs: "True ResolvedRefs", Programmed: "True Programmed", Ready: "True Ready", Warnings: "True ShadowedRule" });
  });
});
