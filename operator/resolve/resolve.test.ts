import { describe, expect, it } from "vitest";
import { jwksSecret, jwtAuthentication, policy, service, sidecarPod } from "../testdata/objects.js";
import type { TranslationInput } from "./objects.js";
import { resolvePolicies } from "./resolve.js";
import { UNUSABLE_JWKS } from "./jwks.js";

const now = "2026-11-25T12:00:00Z";

function input(partial: Partial<TranslationInput>): TranslationInput {
  return { policies: [], services: [], pods: [], secrets: [], now, ...partial };
}

const shop = service("shop", "shop-api", { app: "shop" });
const pods = [sidecarPod("shop", "shop-1", { app: "shop" }), sidecarPod("shop", "shop-2", { app: "shop" })];
const publicRules = { rules: [{ name: "all", match: { pathPrefix: "/" }, authentication: "None" }] };

describe("resolvePolicies", () => {
  it("gives a contested workload to the oldest policy, whatever the input order, and tells the younger one", () => {
    const older = policy({ name: "older", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], ...publicRules } });
    const younger = policy({ name: "younger", created: "2026-02-01T00:00:00Z", spec: { podSelector: { matchLabels: { app: "shop" } }, ...publicRules } });
    for (const policies of [
      [older, younger],
      [younger, older],
    ]) {
      const result = resolvePolicies(input({ policies, services: [shop], pods }));
      const [first, second] = result.policies;
      expect(first?.name).toBe("older");
      expect(first?.accepted.status).toBe("True");
      expect(first?.governed).toEqual([{ ports: { sidecarPort: 15006, appPort: 8080 }, sidecars: ["shop-1.shop", "shop-2.shop"] }]);
      expect(second?.name).toBe("younger");
      expect(second?.accepted).toMatchObject({ status: "False", reason: "Conflicted" });
      expect(second?.accepted.message).toContain("2 sidecar(s) of PodSelector app=shop are governed by the older policy shop/older");
      expect(second?.governed).toEqual([]);
    }
  });

  it("reports a missing Service as ResolvedRefs=False TargetNotFound", () => {
    const p = policy({ name: "p", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "nope" }], ...publicRules } });
    const [resolved] = resolvePolicies(input({ policies: [p] })).policies;
    expect(resolved?.resolvedRefs).toEqual({ status: "False", reason: "TargetNotFound", message: "Service shop/nope not found" });
  });

  it("fails closed on a missing or broken JWKS Secret, and inlines a good one", () => {
    const spec = (secret: string): Record<string, unknown> => ({
      targetRefs: [{ kind: "Service", name: "shop-api" }],
      authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["a"], jwks: { secretRef: { name: secret } } }] } },
      rules: [{ name: "all", match: { pathPrefix: "/" } }],
    });
    const good = jwksSecret("shop", "good", {
      keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }],
    });
    const broken = jwksSecret("shop", "broken", { nokeys: true });
    const result = resolvePolicies(
      input({
        policies: [
          policy({ name: "a", created: "2026-01-01T00:00:00Z", spec: spec("good") }),
          policy({ name: "b", created: "2026-01-01T00:00:00Z", spec: spec("missing") }),
          policy({
            name: "c",
            namespace: "shop",
            created: "2026-01-02T00:00:00Z",
            spec: { ...spec("broken"), targetRefs: undefined, podSelector: { matchLabels: { app: "none" } } },
          }),
        ],
        services: [shop],
        secrets: [good, broken],
      }),
    );
    const byName = Object.fromEntries(result.policies.map((p) => [p.name, p]));
    expect(byName.a?.resolvedRefs.status).toBe("True");
    expect(JSON.parse(byName.a?.inlineJwks["jwt/idp"] ?? "{}")).toMatchObject({ keys: [{ kty: "EC" }] });
    expect(byName.b?.resolvedRefs).toMatchObject({ status: "False", reason: "SecretNotFound" });
    expect(byName.b?.inlineJwks["jwt/idp"]).toBe(UNUSABLE_JWKS);
    expect(byName.c?.resolvedRefs).toMatchObject({ status: "False", reason: "InvalidSecret" });
    expect(byName.c?.inlineJwks["jwt/idp"]).toBe(UNUSABLE_JWKS);
  });

  it("marks an invalid policy Accepted=False and holds its sidecars at their last good configuration", () => {
    const invalid = policy({
      name: "dup",
      created: "2026-01-01T00:00:00Z",
      spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], authentication: jwtAuthentication, rules: [{ name: "x", match: { pathTemplate: "/v1/{id}/{id}" } }] },
    });
    const result = resolvePolicies(input({ policies: [invalid], services: [shop], pods }));
    const [resolved] = result.policies;
    expect(resolved?.accepted).toMatchObject({ status: "False", reason: "Invalid" });
    expect(resolved?.accepted.message).toContain("spec.rules[0].match.pathTemplate: pathTemplate variables must have distinct names");
    expect(resolved?.held).toEqual(["shop-1.shop", "shop-2.shop"]);
    expect(result.passthrough).toEqual([]);
  });

  it("lets sidecars no policy governs pass traffic through, and ignores pods without a sidecar", () => {
    const plain = { ...sidecarPod("shop", "plain", { app: "x" }), metadata: { name: "plain", namespace: "shop" } };
    const result = resolvePolicies(input({ pods: [...pods, plain, sidecarPod("web", "w-1", { app: "web" }, { sidecar: 16000, app: 3000 })] }));
    expect(result.passthrough).toEqual([
      { namespace: "shop", ports: { sidecarPort: 15006, appPort: 8080 }, sidecars: ["shop-1.shop", "shop-2.shop"] },
      { namespace: "web", ports: { sidecarPort: 16000, appPort: 3000 }, sidecars: ["w-1.web"] },
    ]);
  });
});

describe("mesh Services", () => {
  const withIp = (pod: ReturnType<typeof sidecarPod>, ip: string, serviceAccount?: string): ReturnType<typeof sidecarPod> => ({
    ...pod,
    ...(serviceAccount ? { spec: { serviceAccountName: serviceAccount } } : {}),
    status: { phase: "Running", podIP: ip },
  });

  it("are the Services whose selector picks sidecar pods: their pods' IPs, inbound ports and service accounts", () => {
    const noSidecar = { ...sidecarPod("shop", "plain", { app: "plain" }), metadata: { name: "plain", namespace: "shop", labels: { app: "plain" } } };
    const result = resolvePolicies(
      input({
        services: [
          { ...shop, spec: { selector: { app: "shop" }, ports: [{ port: 8080 }, { port: 80 }, { port: 53, protocol: "UDP" }] } },
          service("shop", "plain", { app: "plain" }),
        ],
        pods: [withIp(pods[1] ?? pods[0]!, "10.0.0.2", "orders"), pods[0]!, noSidecar],
      }),
    );
    expect(result.meshServices).toEqual([
      {
        namespace: "shop",
        name: "shop-api",
        ports: [80, 8080],
        pods: [
          { sidecar: "shop-1.shop", port: 15006, serviceAccount: "default", ready: true },
          { sidecar: "shop-2.shop", address: "10.0.0.2", port: 15006, serviceAccount: "orders", ready: true },
        ],
      },
    ]);
  });

  it("a pod is a mesh endpoint only when ready: its Ready condition False makes it not ready, unless the Service publishes not-ready addresses", () => {
    const notReady = { ...withIp(pods[0]!, "10.0.0.1", "default"), status: { phase: "Running", podIP: "10.0.0.1", conditions: [{ type: "Ready", status: "False" }] } };
    const ready = { ...withIp(pods[1] ?? pods[0]!, "10.0.0.2", "default"), status: { phase: "Running", podIP: "10.0.0.2", conditions: [{ type: "Ready", status: "True" }] } };
    const readiness = (svc: typeof shop): boolean[] => resolvePolicies(input({ services: [svc], pods: [notReady, ready] })).meshServices[0]?.pods.map((p) => p.ready) ?? [];
    expect(readiness({ ...shop, spec: { selector: { app: "shop" }, ports: [{ port: 80 }] } })).toEqual([false, true]);
    expect(readiness({ ...shop, spec: { selector: { app: "shop" }, ports: [{ port: 80 }], publishNotReadyAddresses: true } })).toEqual([true, true]);
  });

  it("a pod's egress port annotation groups it apart; an unusable one means no valid sidecar", () => {
    const annotated = (name: string, value: string): ReturnType<typeof sidecarPod> => {
      const pod = sidecarPod("shop", name, { app: "shop" });
      return { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, "bulwark.dev/outbound-port": value } } };
    };
    const result = resolvePolicies(input({ pods: [annotated("a", "15001"), annotated("b", "15006"), annotated("c", "x"), sidecarPod("shop", "d", { app: "shop" })] }));
    expect(result.passthrough).toEqual([
      { namespace: "shop", ports: { sidecarPort: 15006, appPort: 8080 }, sidecars: ["d.shop"] },
      { namespace: "shop", ports: { sidecarPort: 15006, appPort: 8080, outboundPort: 15001 }, sidecars: ["a.shop"] },
    ]);
  });
});

describe("the next time-driven change", () => {
  const deprecated = (name: string, created: string, sunsets: string[]): Record<string, unknown> =>
    policy({
      name,
      created,
      spec: {
        podSelector: { matchLabels: { app: name } },
        ...publicRules,
        mobile: { deprecations: sunsets.map((sunsetAt, i) => ({ pathPrefix: `/v${i}/`, deprecatedAt: "2025-01-01", sunsetAt })) },
      },
    });

  it("is the earliest sunset still ahead among the policies, none when every sunset has passed", () => {
    const policies = [deprecated("a", "2026-01-01T00:00:00Z", ["2027-03-01", "2026-01-01"]), deprecated("b", "2026-01-02T00:00:00Z", ["2027-01-01"])];
    expect(resolvePolicies(input({ policies })).nextChange).toBe("2027-01-01T00:00:00.000Z");
    expect(resolvePolicies(input({ policies, now: "2027-01-01T00:00:00Z" })).nextChange).toBe("2027-03-01T00:00:00.000Z");
    expect(resolvePolicies(input({ policies, now: "2027-03-01T00:00:00Z" })).nextChange).toBeUndefined();
    expect(resolvePolicies(input({ policies: [policy({ name: "plain", created: "2026-01-01T00:00:00Z", spec: publicRules })] })).nextChange).toBeUndefined();
  });
});
