import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, RbacAuthorizationV1Api, Watch } from "@kubernetes/client-node";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKubeConfig, testEnvironment, uniqueName } from "../../support/environment.js";
import { kubectl } from "../../support/kubectl.js";
import { waitFor } from "../../support/poll.js";

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === 404;
}

describe("the real Kubernetes API server", () => {
  const namespace = uniqueName("smoke");

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it("reports its real version to kubectl", async () => {
    const { stdout } = await kubectl(["version", "--output=json"]);
    const version = JSON.parse(stdout) as { serverVersion: { gitVersion: string; major: string } };
    if (!testEnvironment().externalCluster) expect(version.serverVersion.gitVersion).toBe("v1.36.3");
    expect(Number(version.serverVersion.major)).toBe(1);
  });

  it("serves a CRD applied with kubectl, and streams a custom object through a watch", async () => {
    const group = `${namespace}.smoke.bulwark.dev`;
    const dir = await mkdtemp(join(tmpdir(), "bulwark-smoke-"));
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `gadgets.${group}` },
      spec: {
        group,
        names: { kind: "Gadget", plural: "gadgets", singular: "gadget" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: { spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } }, required: ["size"] } },
              },
            },
          },
        ],
      },
    };
    await writeFile(join(dir, "crd.yaml"), stringify(crd));
    await kubectl(["apply", "-f", join(dir, "crd.yaml")]);
    try {
      await kubectl(["wait", "--for=condition=Established", "--timeout=30s", `crd/gadgets.${group}`]);

      const custom = kc.makeApiClient(CustomObjectsApi);
      // Established can precede the moment the new resource is served; wait until it lists.
      await waitFor(
        "the new resource to be served",
        async () => {
          await custom.listNamespacedCustomObject({ group, version: "v1", namespace, plural: "gadgets" });
          return true;
        },
        30_000,
        100,
      );
      const events: { type: string; size: number }[] = [];
      const watch = await new Watch(kc).watch(
        `/apis/${group}/v1/namespaces/${namespace}/gadgets`,
        {},
        (type: string, object: { spec: { size: number } }) => events.push({ type, size: object.spec.size }),
        () => undefined,
      );
      try {
        const object = { apiVersion: `${group}/v1`, kind: "Gadget", metadata: { name: "g1", namespace }, spec: { size: 3 } };
        await writeFile(join(dir, "gadget.yaml"), stringify(object));
        await kubectl(["apply", "-f", join(dir, "gadget.yaml")]);
        const added = await waitFor("the ADDED watch event", async () => Promise.resolve(events.find((e) => e.type === "ADDED")), 30_000, 100);
        expect(added).toEqual({ type: "ADDED", size: 3 });

        // The structural schema is enforced by the server.
        await writeFile(join(dir, "bad.yaml"), stringify({ ...object, metadata: { name: "g2", namespace }, spec: { size: 0 } }));
        await expect(kubectl(["apply", "-f", join(dir, "bad.yaml")])).rejects.toThrow(/spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1/);
      } finally {
        watch.abort();
      }

      const read = (await custom.getNamespacedCustomObject({ group, version: "v1", namespace, plural: "gadgets", name: "g1" })) as {
        spec: { size: number };
      };
      expect(read.spec.size).toBe(3);
    } finally {
      await kubectl(["delete", "crd", `gadgets.${group}`, "--wait=false"]);
    }
  });

  it("mints a ServiceAccount token with TokenRequest, and RBAC refuses what the account was not granted", async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "reader" } } });
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: "configmap-reader" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "reader-reads-configmaps" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
      },
    });
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name: "reader",
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tokenRequest.status?.token;
    expect(token).toMatch(/^eyJ/);

    const review = await kc.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: token ?? "" } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe(`system:serviceaccount:${namespace}:reader`);

    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no cluster");
    const asReader = new KubeConfig();
    asReader.loadFromOptions({
      clusters: [cluster],
      users: [{ name: "reader", token }],
      contexts: [{ name: "reader", cluster: cluster.name, user: "reader" }],
      currentContext: "reader",
    });
    const readerCore = asReader.makeApiClient(CoreV1Api);
    const configMaps = await readerCore.listNamespacedConfigMap({ namespace });
    expect(Array.isArray(configMaps.items)).toBe(true);
    await expect(readerCore.listNamespacedSecret({ namespace })).rejects.toMatchObject({ code: 403 });
    await expect(readerCore.listNamespacedConfigMap({ namespace: "default" })).rejects.toMatchObject({ code: 403 });
  });

  it("runs the controllers: garbage collection by ownerReference and EndpointSlices for a Service", async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "owner" } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: "dependent",
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata?.uid ?? "" }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: "owner" });
    await waitFor(
      "the dependent ConfigMap to be garbage-collected",
      async () => {
        try {
          await core.readNamespacedConfigMap({ namespace, name: "dependent" });
          return undefined;
        } catch (error) {
          if (isNotFound(error)) return true;
          throw error;
        }
      },
      30_000,
      100,
    );

    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: "api" }, spec: { selector: { app: "api" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } },
    });
    const slices = await waitFor(
      "an EndpointSlice for Service api",
      async () => {
        const list = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace, labelSelector: "kubernetes.io/service-name=api" });
        return list.items.length > 0 ? list.items : undefined;
      },
      30_000,
      100,
    );
    expect(slices[0]?.addressType).toBe("IPv4");
  });

  it("finishes deleting a namespace with objects in it", async () => {
    const doomed = uniqueName("doomed");
    await core.createNamespace({ body: { metadata: { name: doomed } } });
    await core.createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: "data" }, data: { a: "b" } } });
    await core.deleteNamespace({ name: doomed });
    await waitFor(
      `namespace ${doomed} to be gone`,
      async () => {
        try {
          await core.readNamespace({ name: doomed });
          return undefined;
        } catch (error) {
          if (isNotFound(error)) return true;
          throw error;
        }
      },
      60_000,
      100,
    );
  });
});
