import { describe, expect, it } from "vitest";
import { decideInjection, DEFAULT_INJECTOR_CONFIG, PROXY_CONTAINER, type InjectorConfig, type JsonPatchOp, type PodLike } from "./inject.js";
import { review } from "./webhook.js";

const config: InjectorConfig = {
  ...DEFAULT_INJECTOR_CONFIG,
  image: "envoyproxy/envoy:v1.40.0",
  xds: { host: "bulwark-controller.bulwark-system.svc", port: 18000, caPem: "-----BEGIN CERTIFICATE-----\nxds-ca\n-----END CERTIFICATE-----\n" },
};

/** Applies the JSON Patch operations the injector emits (add to objects and arrays). */
function apply(pod: PodLike, patch: JsonPatchOp[]): PodLike {
  const out = structuredClone(pod) as Record<string, unknown>;
  for (const op of patch) {
    const parts = op.path
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop() ?? "";
    let target = out as Record<string, unknown> | unknown[];
    for (const part of parts) target = (target as Record<string, unknown>)[part] as Record<string, unknown>;
    if (Array.isArray(target)) target.splice(last === "-" ? target.length : Number(last), 0, op.value);
    else target[last] = op.value;
  }
  return out;
}

const app: PodLike = { metadata: { name: "orders-0", namespace: "shop" }, spec: { serviceAccountName: "orders", containers: [{ name: "app", ports: [{ containerPort: 8080 }] }] } };

describe("sidecar injection", () => {
  it("adds the Envoy sidecar (native sidecar), the port annotations, and identifies the pod through the downward API", () => {
    const decision = decideInjection(app, config);
    if (!decision.inject) throw new Error(decision.reason);
    const pod = apply(app, decision.patch);
    expect(pod.metadata?.annotations).toEqual({ "bulwark.dev/sidecar-port": "15006", "bulwark.dev/app-port": "8080", "bulwark.dev/outbound-port": "15001" });
    expect(pod.metadata?.labels).toEqual({ "bulwark.dev/sidecar": "injected" });
    const proxy = pod.spec?.initContainers?.[0] as unknown as Record<string, unknown> & { args: string[]; env: unknown[] };
    expect(proxy.name).toBe(PROXY_CONTAINER);
    expect(proxy.restartPolicy).toBe("Always");
    const bootstrap = JSON.parse(proxy.args[1] ?? "{}") as { node: { id: string; cluster: string } };
    expect(bootstrap.node.id).toBe("$(POD_NAME).$(POD_NAMESPACE)");
    expect(proxy.env).toContainEqual({ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } });
    expect(proxy.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(proxy.resources).toEqual(config.resources);
  });

  it("projects a short-lived token with Bulwark's audience, bound to the pod, into the proxy only, and bootstraps ADS over TLS with it", () => {
    const decision = decideInjection({ ...app, spec: { ...app.spec, volumes: [{ name: "data" }] } }, config);
    if (!decision.inject) throw new Error(decision.reason);
    const pod = apply({ ...app, spec: { ...app.spec, volumes: [{ name: "data" }] } }, decision.patch);
    expect(pod.spec?.volumes).toEqual([
      { name: "data" },
      { name: "bulwark-xds-token", projected: { sources: [{ serviceAccountToken: { audience: "bulwark.dev/xds", expirationSeconds: 600, path: "token" } }] } },
      // The telemetry stream's token: its own audience, so neither receiver can replay the other's.
      { name: "bulwark-telemetry-token", projected: { sources: [{ serviceAccountToken: { audience: "bulwark.dev/telemetry", expirationSeconds: 600, path: "token" } }] } },
    ]);
    const proxy = pod.spec?.initContainers?.[0] as unknown as { args: string[]; volumeMounts: unknown[] };
    expect(proxy.volumeMounts).toEqual([
      { name: "bulwark-xds-token", mountPath: "/var/run/secrets/bulwark.dev/xds", readOnly: true },
      { name: "bulwark-telemetry-token", mountPath: "/var/run/secrets/bulwark.dev/telemetry", readOnly: true },
    ]);
    expect(pod.spec?.containers?.[0]).not.toHaveProperty("volumeMounts");
    const bootstrap = JSON.parse(proxy.args[1] ?? "{}") as {
      dynamic_resources: { ads_config: { grpc_services: { google_grpc: Record<string, unknown> }[] } };
      static_resources?: unknown;
    };
    const grpc = bootstrap.dynamic_resources.ads_config.grpc_services[0]?.google_grpc;
    expect(grpc).toMatchObject({
      target_uri: "bulwark-controller.bulwark-system.svc:18000",
      channel_credentials: { ssl_credentials: { root_certs: { inline_string: config.xds.caPem } } },
      call_credentials: [
        {
          from_plugin: {
            name: "envoy.grpc_credentials.file_based_metadata",
            typed_config: { secret_data: { filename: "/var/run/secrets/bulwark.dev/xds/token" }, header_key: "authorization", header_prefix: "Bearer " },
          },
        },
      ],
    });
    expect(bootstrap.static_resources).toBeUndefined();
    // A first pod without volumes gets the list.
    const plain = decideInjection(app, config);
    expect(plain.inject && plain.patch.find((op) => op.path === "/spec/volumes")?.value).toEqual([
      expect.objectContaining({ name: "bulwark-xds-token" }),
      expect.objectContaining({ name: "bulwark-telemetry-token" }),
    ]);
    // A pod that already has a volume of that name is left alone, with a warning.
    expect(decideInjection({ ...app, spec: { ...app.spec, volumes: [{ name: "bulwark-xds-token" }] } }, config)).toMatchObject({ inject: false, reason: "volume name taken" });
    expect(decideInjection({ ...app, spec: { ...app.spec, volumes: [{ name: "bulwark-telemetry-token" }] } }, config)).toMatchObject({
      inject: false,
      warning: "bulwark: no sidecar injected: the pod already has a volume named bulwark-telemetry-token",
    });
  });

  it("points the app's containers at the egress proxy when the pod asks for it, keeping variables a container sets itself", () => {
    const pod0: PodLike = {
      metadata: { name: "orders-0", namespace: "shop", annotations: { "bulwark.dev/egress-proxy": "enabled" } },
      spec: {
        containers: [
          { name: "app", ports: [{ containerPort: 8080 }] },
          { name: "worker", env: [{ name: "NO_PROXY" }, { name: "LOG" }] },
        ],
      },
    };
    const decision = decideInjection(pod0, config);
    if (!decision.inject) throw new Error(decision.reason);
    const pod = apply(pod0, decision.patch) as PodLike & { spec: { containers: { env?: { name: string; value?: string }[] }[] } };
    expect(pod.spec.containers[0]?.env).toEqual([
      { name: "HTTP_PROXY", value: "http://127.0.0.1:15001" },
      { name: "http_proxy", value: "http://127.0.0.1:15001" },
      { name: "NO_PROXY", value: "localhost,127.0.0.1,::1" },
      { name: "no_proxy", value: "localhost,127.0.0.1,::1" },
    ]);
    expect(pod.spec.containers[1]?.env?.map((e) => e.name)).toEqual(["NO_PROXY", "LOG", "HTTP_PROXY", "http_proxy", "no_proxy"]);
    expect(decideInjection({ ...pod0, metadata: { annotations: { "bulwark.dev/app-port": "15001" } } }, config)).toMatchObject({ inject: false });
    // Without the annotation, plain-HTTP calls outside the mesh are left alone: no proxy variables.
    const plain = decideInjection({ ...pod0, metadata: { name: "orders-1", namespace: "shop" } }, config);
    if (!plain.inject) throw new Error(plain.reason);
    const plainPod = apply({ ...pod0, metadata: { name: "orders-1", namespace: "shop" } }, plain.patch) as PodLike & { spec: { containers: { env?: { name: string }[] }[] } };
    expect(plainPod.spec.containers[0]?.env).toBeUndefined();
    expect(plainPod.spec.containers[1]?.env?.map((e) => e.name)).toEqual(["NO_PROXY", "LOG"]);
  });

  it("is idempotent: an injected pod is left as it is", () => {
    const decision = decideInjection(app, config);
    if (!decision.inject) throw new Error(decision.reason);
    expect(decideInjection(apply(app, decision.patch), config)).toEqual({ inject: false, reason: "already injected" });
  });

  it("honours the opt-out annotation and an explicit app-port annotation; keeps other init containers after the sidecar", () => {
    expect(decideInjection({ ...app, metadata: { annotations: { "bulwark.dev/inject": "false" } } }, config).inject).toBe(false);
    const annotated: PodLike = {
      metadata: { annotations: { "bulwark.dev/app-port": "9000", keep: "me" } },
      spec: { containers: [{ name: "app" }], initContainers: [{ name: "migrate" }] },
    };
    const decision = decideInjection(annotated, config);
    if (!decision.inject) throw new Error(decision.reason);
    const pod = apply(annotated, decision.patch);
    expect(pod.metadata?.annotations).toEqual({ keep: "me", "bulwark.dev/app-port": "9000", "bulwark.dev/sidecar-port": "15006", "bulwark.dev/outbound-port": "15001" });
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual([PROXY_CONTAINER, "migrate"]);
  });

  it("does not inject (and warns) when the pod has no app port or uses the sidecar port", () => {
    const none = decideInjection({ spec: { containers: [{ name: "app" }] } }, config);
    expect(none).toMatchObject({ inject: false, warning: expect.stringContaining("no app port") as unknown });
    expect(decideInjection({ spec: { containers: [{ name: "app", ports: [{ containerPort: 15006 }] }] } }, config).inject).toBe(false);
    expect(
      decideInjection({ metadata: { annotations: { "bulwark.dev/app-port": "x" } }, spec: { containers: [{ name: "app", ports: [{ containerPort: 80 }] }] } }, config).inject,
    ).toBe(false);
  });

  it("answers AdmissionReviews: always allowed, a JSON Patch only for pod creations to inject", () => {
    const reviewed = review({ request: { uid: "u1", kind: { kind: "Pod" }, operation: "CREATE", namespace: "shop", object: app } }, config);
    expect(reviewed.response).toMatchObject({ uid: "u1", allowed: true, patchType: "JSONPatch" });
    expect((JSON.parse(Buffer.from(reviewed.response.patch ?? "", "base64").toString()) as unknown[]).length).toBe(8); // the labels map and the injected label, the annotations map and three annotations, the token volume, the sidecar (no proxy env: not asked for)
    expect(review({ request: { uid: "u2", kind: { kind: "Pod" }, operation: "UPDATE", object: app } }, config).response).toEqual({ uid: "u2", allowed: true });
    expect(() => review({}, config)).toThrow();
  });
});
