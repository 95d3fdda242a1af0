import { describe, expect, it } from "vitest";
import { buildSidecarResources } from "../../../envoy/build/sidecar.js";
import { fixtureSettings, irFixtures, servingWorkload } from "../../../envoy/testdata/ir-fixtures.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { validateSidecarResources } from "../../support/envoy-validate.js";

/** The services by IP address: their clusters are EDS clusters, made STATIC in the bootstrap. */
const ipSettings: TranslationSettings = {
  authz: { host: "10.96.0.10", port: 9001, timeoutMs: 1500 },
  ratelimit: { host: "10.96.0.20", port: 8081, timeoutMs: 20 },
  rateLimitDomain: "bulwark-test",
};

describe("the real Envoy accepts the resources built from", () => {
  for (const [name, workload] of Object.entries(irFixtures)) {
    it(`the ${name} workload`, async () => {
      expect(await validateSidecarResources(buildSidecarResources(workload, fixtureSettings))).toEqual({ accepted: true });
    });
  }

  it("the shop workload with both services addressed by IP", async () => {
    expect(await validateSidecarResources(buildSidecarResources(irFixtures.shop!, ipSettings))).toEqual({ accepted: true });
  });

  it("the serving workload", async () => {
    expect(await validateSidecarResources(buildSidecarResources(servingWorkload({ listener: 18080, app: 18081 }), fixtureSettings))).toEqual({ accepted: true });
  });
});

describe("envoy --mode validate", () => {
  it("refuses resources that refer to a cluster they do not define, and says which", async () => {
    const resources = buildSidecarResources(irFixtures.passThrough!, fixtureSettings);
    const result = await validateSidecarResources({ ...resources, clusters: [], endpoints: [] });
    expect(result.accepted).toBe(false);
    expect(result.accepted ? "" : result.error).toMatch(/unknown cluster 'app'/);
  });

  it("refuses a path template Envoy cannot parse", async () => {
    const workload = servingWorkload({ listener: 18080, app: 18081 });
    const broken = { ...workload, routes: [{ ...workload.routes[1]!, match: { path: { kind: "template" as const, template: "/orders/{id", variables: ["id"] }, methods: [] } }] };
    const result = await validateSidecarResources(buildSidecarResources(broken, fixtureSettings));
    expect(result.accepted).toBe(false);
    expect(result.accepted ? "" : result.error).toContain("/orders/{id");
  });
});
