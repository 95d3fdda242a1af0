import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { group, plural, version } from "../../../operator/api/v1alpha1/policy.js";
import { KubernetesLimitSource } from "../../../services/ratelimit/kubernetes-limit-source.js";
import { SidecarAnnotation } from "../../../operator/resolve/objects.js";
import { installCrds } from "../../support/crds.js";
import { adminKubeConfig, uniqueName } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";

describe("bulwark ratelimit's limits follow the policies in Kubernetes", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = uniqueName("rl");
  const source = new KubernetesLimitSource(kc, pino({ level: "warn" }), 20);

  beforeAll(async () => {
    await installCrds();
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedService({ namespace, body: { metadata: { name: "api" }, spec: { selector: { app: "api" }, ports: [{ port: 80 }] } } });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "api-1", labels: { app: "api" }, annotations: { [SidecarAnnotation.sidecarPort]: "15006", [SidecarAnnotation.appPort]: "8080" } },
        spec: { containers: [{ name: "app", image: "example.invalid/app:1" }] },
      },
    });
    await source.start();
  });

  afterAll(async () => {
    await source.stop();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  const name = (limit: string): string => `apisecuritypolicy/${namespace}/api/rule/login/ratelimit/${limit}`;

  function body(requests: number): Record<string, unknown> {
    return {
      apiVersion: `${group}/${version}`,
      kind: "APISecurityPolicy",
      metadata: { name: "api" },
      spec: {
        targetRefs: [{ kind: "Service", name: "api" }],
        rules: [
          {
            name: "login",
            authentication: "None",
            match: { methods: ["POST"], path: "/v1/login" },
            rateLimits: [{ name: "failed", key: ["clientIP"], limit: { requests, per: "15m" }, counts: { responseCodes: [401] } }],
          },
        ],
      },
    };
  }

  it("adds, changes and removes a limit as its policy does", async () => {
    expect(source.current().byName.has(name("failed"))).toBe(false);
    await custom.createNamespacedCustomObject({ group, version, plural, namespace, body: body(5) });
    const added = await waitFor("the limit", () => Promise.resolve(source.current().byName.get(name("failed"))), 30_000, 100);
    expect(added).toMatchObject({ requests: 5, windowSeconds: 900, countedResponseCodes: [401] });
    expect(
      source
        .current()
        .countedByRoute.get(`apisecuritypolicy/${namespace}/api/rule/login`)
        ?.map((l) => l.name),
    ).toEqual([name("failed")]);

    await custom.patchNamespacedCustomObject({
      group,
      version,
      plural,
      namespace,
      name: "api",
      body: [{ op: "replace", path: "/spec/rules/0/rateLimits/0/limit/requests", value: 7 }],
    });
    await waitFor("the changed limit", () => Promise.resolve(source.current().byName.get(name("failed"))?.requests === 7 ? true : undefined), 30_000, 100);

    await custom.deleteNamespacedCustomObject({ group, version, plural, namespace, name: "api" });
    await waitFor("the limit gone", () => Promise.resolve(source.current().byName.has(name("failed")) ? undefined : true), 30_000, 100);
  });
});
