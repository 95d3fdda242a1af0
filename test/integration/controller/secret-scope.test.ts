/**
 * Secrets are read only in the namespaces whose policies name one, never cluster-wide. Proven
 * through the real API server with a reader that may read Secrets only there (a ServiceAccount
 * with a Role in those namespaces, no cluster-wide access to Secrets): a cluster-wide list or
 * watch of Secrets is refused (403) for it, so the store lists at all only if it never asks.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { exportJWK, generateKeyPair } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { group, plural, version } from "../../../operator/api/v1alpha1/policy.js";
import { ObjectStore } from "../../../operator/kube/object-store.js";
import { translate } from "../../../operator/translate/translate.js";
import { installCrds } from "../../support/crds.js";
import { adminKubeConfig, uniqueName } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);
const home = uniqueName("scope-home");
const later = uniqueName("scope-later");
const unrelated = uniqueName("scope-unrelated");
const reader = uniqueName("scoped-reader");
let store: ObjectStore | undefined;
let jwks = "";

function policy(namespace: string, name: string): Record<string, unknown> {
  return {
    apiVersion: `${group}/${version}`,
    kind: "APISecurityPolicy",
    metadata: { name, namespace },
    spec: {
      targetRefs: [{ kind: "Service", name: "api" }],
      authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop"], jwks: { secretRef: { name: "idp-jwks" } } }] } },
    },
  };
}

/** Secrets get/list/watch in `namespace` only, for the reader. */
async function allowSecrets(namespace: string): Promise<void> {
  await rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name: "read-secrets" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "read-secrets" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-secrets" },
      subjects: [{ kind: "ServiceAccount", name: reader, namespace: home }],
    },
  });
}

/** The reader's kubeconfig: the test cluster, a token of its ServiceAccount. */
async function readerKubeConfig(): Promise<KubeConfig> {
  const token = (await core.createNamespacedServiceAccountToken({ namespace: home, name: reader, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status?.token;
  if (!token) throw new Error("no token for the reader");
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("no cluster in the admin kubeconfig");
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [cluster], users: [{ name: reader, token }], contexts: [{ name: reader, cluster: cluster.name, user: reader }], currentContext: reader });
  return kc;
}

function secretKeys(s: ObjectStore): string[] {
  return s
    .translationInput(new Date().toISOString())
    .secrets.map((x) => `${x.metadata.namespace ?? ""}/${x.metadata.name}`)
    .sort();
}

function resolvedRefs(s: ObjectStore, namespace: string, name: string): string | undefined {
  const resolved = translate(s.translationInput(new Date().toISOString())).resolution.policies.find((p) => p.namespace === namespace && p.name === name);
  return resolved ? `${resolved.resolvedRefs.status}/${resolved.resolvedRefs.reason}` : undefined;
}

beforeAll(async () => {
  await installCrds();
  const { publicKey } = await generateKeyPair("ES256");
  jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
  for (const namespace of [home, later, unrelated]) await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace: home, body: { metadata: { name: reader } } });
  // Everything translation reads, cluster-wide, except Secrets.
  await rbac.createClusterRole({
    body: {
      metadata: { name: reader },
      rules: [
        { apiGroups: [""], resources: ["services", "pods"], verbs: ["list", "watch"] },
        { apiGroups: [group], resources: [plural], verbs: ["list", "watch"] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: reader },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: reader },
      subjects: [{ kind: "ServiceAccount", name: reader, namespace: home }],
    },
  });
  await allowSecrets(home);
  await allowSecrets(later);
  for (const namespace of [home, later, unrelated]) {
    await core.createNamespacedService({ namespace, body: { metadata: { name: "api" }, spec: { selector: { app: "api" }, ports: [{ port: 80 }] } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "idp-jwks" }, stringData: { "jwks.json": jwks } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "app-credentials" }, stringData: { password: "not for bulwark" } } });
  }
  await custom.createNamespacedCustomObject({ group, version, plural, namespace: home, body: policy(home, "api") });
});

afterAll(async () => {
  await store?.stop();
  await rbac.deleteClusterRoleBinding({ name: reader }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: reader }).catch(() => undefined);
  for (const namespace of [home, later, unrelated]) await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe("Secrets read only where policies name them (real API server)", () => {
  it("lists with access to Secrets in the policies' namespaces only, holds no other Secret, and follows policies added and removed", async () => {
    const kc = await readerKubeConfig();
    store = new ObjectStore(kc, () => undefined, pino({ level: process.env.SCOPE_LOG ?? "silent" }));
    await store.start();
    const s = store;
    // A cluster-wide list of Secrets is refused for this reader: listing at all means none was asked for.
    expect(s.isListed(), "the store did not list: it asked for Secrets beyond the policies' namespaces").toBe(true);
    // Synced once every watch has had its first list; under load that can follow start() by a moment.
    await waitFor("the store synced", () => (s.isSynced() ? true : undefined), 15_000);
    expect(s.secretScopes()).toEqual([home]);
    // Only the home namespace's Secrets; none of the unrelated namespace, nor of the later one yet.
    expect(secretKeys(s).every((k) => k.startsWith(`${home}/`))).toBe(true);
    expect(secretKeys(s)).toContain(`${home}/idp-jwks`);
    expect(resolvedRefs(s, home, "api")).toBe("True/ResolvedRefs");

    // A policy in a new namespace: its Secrets are watched from then on, and its reference resolves.
    await custom.createNamespacedCustomObject({ group, version, plural, namespace: later, body: policy(later, "api") });
    await waitFor("the later policy's Secret resolved", () => (s.isListed() && resolvedRefs(s, later, "api") === "True/ResolvedRefs" ? true : undefined), 15_000);
    expect(s.secretScopes()).toEqual([home, later].sort());
    expect(secretKeys(s).some((k) => k.startsWith(`${unrelated}/`))).toBe(false);
    // A Secret changed in the new namespace reaches translation.
    await core.replaceNamespacedSecret({ namespace: later, name: "idp-jwks", body: { metadata: { name: "idp-jwks", namespace: later }, stringData: { "jwks.json": "{}" } } });
    await waitFor("the changed Secret seen", () => (resolvedRefs(s, later, "api") === "False/InvalidSecret" ? true : undefined), 15_000);

    // A policy where the reader may not read Secrets: that policy alone reads its Secret as missing; translation goes on.
    await custom.createNamespacedCustomObject({ group, version, plural, namespace: unrelated, body: policy(unrelated, "api") });
    await waitFor("the forbidden namespace's policy judged", () => (s.isListed() && resolvedRefs(s, unrelated, "api") === "False/SecretNotFound" ? true : undefined), 15_000);
    expect(resolvedRefs(s, home, "api")).toBe("True/ResolvedRefs");
    expect(s.isSynced()).toBe(false);
    await custom.deleteNamespacedCustomObject({ group, version, plural, namespace: unrelated, name: "api" });

    // The policy goes: so do the watch and the Secrets of its namespace.
    await custom.deleteNamespacedCustomObject({ group, version, plural, namespace: later, name: "api" });
    await waitFor("the later namespace unwatched", () => (s.secretScopes().length === 1 ? true : undefined), 15_000);
    expect(s.secretScopes()).toEqual([home]);
    expect(secretKeys(s).every((k) => k.startsWith(`${home}/`))).toBe(true);
    await waitFor("the store synced again", () => (s.isSynced() ? true : undefined), 15_000);
  }, 60_000);

  it("watches the namespace of a policy that names only an API keys Secret, and reads that Secret", async () => {
    const s = store;
    if (!s) throw new Error("the store of the first test is gone");
    await core.createNamespacedSecret({ namespace: later, body: { metadata: { name: "partner-keys" }, stringData: { "acme-logistics": "acme-key-0123456789abcdef" } } });
    const partners = {
      apiVersion: `${group}/${version}`,
      kind: "APISecurityPolicy",
      metadata: { name: "partners", namespace: later },
      spec: {
        targetRefs: [{ kind: "Service", name: "api" }],
        authentication: { apiKeys: { secretRef: { name: "partner-keys" } } },
        rules: [{ name: "stock", match: { pathPrefix: "/partner/" }, authentication: "APIKey" }],
      },
    };
    await custom.createNamespacedCustomObject({ group, version, plural, namespace: later, body: partners });
    await waitFor("the API keys Secret resolved", () => (s.isListed() && resolvedRefs(s, later, "partners") === "True/ResolvedRefs" ? true : undefined), 15_000);
    expect(s.secretScopes()).toEqual([home, later].sort());
    await core.deleteNamespacedSecret({ namespace: later, name: "partner-keys" });
    await waitFor("the deleted Secret seen", () => (resolvedRefs(s, later, "partners") === "False/SecretNotFound" ? true : undefined), 15_000);
    await custom.deleteNamespacedCustomObject({ group, version, plural, namespace: later, name: "partners" });
    await waitFor("the later namespace unwatched", () => (s.secretScopes().length === 1 ? true : undefined), 15_000);
  }, 60_000);
});
