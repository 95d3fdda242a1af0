import { describe, expect, it } from "vitest";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { TranslationRunner } from "../controller/translation-runner.js";
import type { TranslationInput } from "./objects.js";
import { TELEMETRY_WITHOUT_RECEIVER } from "./telemetry-warning.js";

const rule = (name: string, match: Record<string, unknown>): Record<string, unknown> => ({ name, match, authentication: "None" });

function input(spec: Record<string, unknown>): TranslationInput {
  return {
    policies: [
      policy({ name: "p", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], rules: [rule("all", { pathPrefix: "/" })], ...spec } }),
    ],
    services: [service("shop", "api", { app: "api" })],
    pods: [sidecarPod("shop", "api-1", { app: "api" })],
    secrets: [],
    now: "2026-11-25T12:00:00Z",
  };
}

function warnings(spec: Record<string, unknown>, receiver: boolean): unknown {
  return new TranslationRunner(undefined, receiver).run(input(spec)).resolution.policies[0]?.warnings;
}

describe("a policy asking for telemetry in an installation without a receiver", () => {
  it("is warned, and is not when the receiver is there or telemetry is off", () => {
    expect(warnings({ telemetry: {} }, false)).toEqual({ status: "True", reason: "TelemetryWithoutReceiver", message: TELEMETRY_WITHOUT_RECEIVER });
    expect(warnings({ telemetry: {} }, true)).toMatchObject({ status: "False" });
    expect(warnings({ telemetry: { enabled: false } }, false)).toMatchObject({ status: "False" });
    expect(warnings({}, false)).toMatchObject({ status: "False" });
  });

  it("keeps the policy's other warnings first", () => {
    const shadowed = { rules: [rule("a", { pathPrefix: "/" }), rule("b", { path: "/x" })], telemetry: {} };
    const condition = warnings(shadowed, false) as { reason: string; message: string };
    expect(condition.reason).toBe("ShadowedRule");
    expect(condition.message).toMatch(/^rule b never applies.*; spec\.telemetry is enabled but/);
  });
});
