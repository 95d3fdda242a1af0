import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROBES } from "../envoy/bootstrap/sidecar-bootstrap.js";
import { decideInjection, DEFAULT_INJECTOR_CONFIG, PROXY_CONTAINER, type InjectorConfig, type JsonPatchOp, type PodLike } from "./inject.js";
import { INTERCEPT_CONTAINER, probeRewrites } from "./interception.js";

/**
 * The injector's patch with inbound interception. Golden: `UPDATE_GOLDEN=1 npx vitest run
 * injector/interception.test.ts` rewrites testdata/intercepted.patch.json (review the diff).
 */
const GOLDEN = join(import.meta.dirname, "testdata", "intercepted.patch.json");

const config: InjectorConfig = {
  ...DEFAULT_INJECTOR_CONFIG,
  image: "envoyproxy/envoy:v1.40.0",
  xds: { host: "bulwark-controller.bulwark-system.svc", port: 18000, caPem: "-----BEGIN CERTIFICATE-----\nxds-ca\n-----END CERTIFICATE-----\n" },
  interception: { image: "bulwark:0.1.0", probePort: 15021 },
};

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

/** An app as it is usually written: binds every address, probes on its port (by name and number), metrics on another port. */
const app: PodLike = {
  metadata: { name: "orders-0", namespace: "shop" },
  spec: {
    serviceAccountName: "orders",
    initContainers: [{ name: "migrate" }],
    containers: [
      {
        name: "app",
        ports: [
          { name: "http", containerPort: 8080 },
          { name: "metrics", containerPort: 9090 },
        ],
        readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 5 },
        livenessProbe: { httpGet: { path: "/healthz?full=1", port: 8080, httpHeaders: [{ name: "x-probe", value: "1" }] } },
        startupProbe: { tcpSocket: { port: 8080 } },
      },
      {
        name: "exporter",
        livenessProbe: { httpGet: { path: "/metrics", port: 9090 } },
        readinessProbe: { httpGet: { path: "/secure", port: 8080, scheme: "HTTPS" } },
      },
    ],
  },
};

type Container = Record<string, unknown> & { name: string; args?: string[] };

function injected(pod: PodLike = app): PodLike & { spec: { initContainers: Container[]; containers: Container[] } } {
  const decision = decideInjection(pod, config);
  if (!decision.inject) throw new Error(decision.reason);
  return apply(pod, decision.patch) as PodLike & { spec: { initContainers: Container[]; containers: Container[] } };
}

describe("injection with inbound interception", () => {
  it("emits the golden patch", () => {
    const decision = decideInjection(app, config);
    if (!decision.inject) throw new Error(decision.reason);
    const text = `${JSON.stringify(decision.patch, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === "1") {
      mkdirSync(join(import.meta.dirname, "testdata"), { recursive: true });
      writeFileSync(GOLDEN, text);
    }
    expect(existsSync(GOLDEN), "the golden is missing: run UPDATE_GOLDEN=1 npx vitest run injector/interception.test.ts").toBe(true);
    expect(text).toBe(readFileSync(GOLDEN, "utf8"));
  });

  it("runs `bulwark intercept` first (root, NET_ADMIN and NET_RAW only), then the sidecar, then the pod's own init containers", () => {
    const pod = injected();
    expect(pod.spec.initContainers.map((c) => c.name)).toEqual([INTERCEPT_CONTAINER, PROXY_CONTAINER, "migrate"]);
    const intercept = pod.spec.initContainers[0];
    expect(intercept).toMatchObject({
      image: "bulwark:0.1.0",
      args: ["intercept", "--app-port", "8080", "--sidecar-port", "15006", "--proxy-uid", "101"],
      securityContext: {
        runAsUser: 0,
        runAsNonRoot: false,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] },
      },
    });
    expect(intercept).not.toHaveProperty("restartPolicy");
    expect(pod.metadata?.annotations).toMatchObject({ "bulwark.dev/inbound-interception": "iptables", "bulwark.dev/app-port": "8080" });
    // The proxy keeps its own least privilege: the capabilities are the init container's alone.
    expect(pod.spec.initContainers[1]?.securityContext).toMatchObject({ runAsUser: 101, capabilities: { drop: ["ALL"] } });
  });

  it("sends the kubelet's HTTP probes of the app port to the sidecar's probe listener, which forwards exactly those paths (GET) to the app", () => {
    const pod = injected();
    const [appContainer, exporter] = pod.spec.containers;
    expect(appContainer?.readinessProbe).toEqual({ httpGet: { path: "/ready", port: 15021 }, periodSeconds: 5 });
    expect(appContainer?.livenessProbe).toEqual({ httpGet: { path: "/healthz?full=1", port: 15021, httpHeaders: [{ name: "x-probe", value: "1" }] } });
    // A TCP probe of the app port reaches the sidecar's inbound listener; probes of other ports and HTTPS probes are left alone.
    expect(appContainer?.startupProbe).toEqual({ tcpSocket: { port: 8080 } });
    expect(exporter?.livenessProbe).toEqual({ httpGet: { path: "/metrics", port: 9090 } });
    expect(exporter?.readinessProbe).toEqual({ httpGet: { path: "/secure", port: 8080, scheme: "HTTPS" } });
    const proxy = pod.spec.initContainers[1];
    expect(proxy?.ports).toEqual([
      { name: "bulwark-inbound", containerPort: 15006, protocol: "TCP" },
      { name: "bulwark-probes", containerPort: 15021, protocol: "TCP" },
    ]);
    const bootstrap = JSON.parse(proxy?.args?.[1] ?? "{}") as {
      static_resources: {
        listeners: {
          name: string;
          address: unknown;
          filter_chains: { filters: { typed_config: { route_config: { virtual_hosts: { routes: { match: unknown; route: unknown }[] }[] } } }[] }[];
        }[];
        clusters: { name: string }[];
      };
    };
    const listener = bootstrap.static_resources.listeners[0];
    expect(listener?.name).toBe(PROBES.listener);
    expect(listener?.address).toEqual({ socket_address: { address: "0.0.0.0", port_value: 15021 } });
    expect(listener?.filter_chains[0]?.filters[0]?.typed_config.route_config.virtual_hosts[0]?.routes).toEqual([
      { match: { path: "/healthz", headers: [{ name: ":method", string_match: { exact: "GET" } }] }, route: { cluster: PROBES.cluster, timeout: "10s" } },
      { match: { path: "/ready", headers: [{ name: ":method", string_match: { exact: "GET" } }] }, route: { cluster: PROBES.cluster, timeout: "10s" } },
    ]);
    expect(bootstrap.static_resources.clusters.map((c) => c.name)).toEqual([PROBES.cluster]);
  });

  it("adds no probe listener when no probe is rewritten", () => {
    const plain = injected({ metadata: { name: "p" }, spec: { containers: [{ name: "app", ports: [{ containerPort: 8080 }] }] } });
    const proxy = plain.spec.initContainers[1];
    expect(proxy?.ports).toEqual([{ name: "bulwark-inbound", containerPort: 15006, protocol: "TCP" }]);
    expect(JSON.parse(proxy?.args?.[1] ?? "{}")).not.toHaveProperty("static_resources");
    expect(plain.spec.initContainers.map((c) => c.name)).toEqual([INTERCEPT_CONTAINER, PROXY_CONTAINER]);
  });

  it("leaves pods injected before alone (upgrades never re-inject), with or without interception", () => {
    expect(decideInjection(injected(), config)).toEqual({ inject: false, reason: "already injected" });
    const before = decideInjection(app, { ...config, interception: undefined });
    if (!before.inject) throw new Error(before.reason);
    const old = apply(app, before.patch);
    expect(old.metadata?.annotations).not.toHaveProperty(["bulwark.dev/inbound-interception"]);
    expect(decideInjection(old, config)).toEqual({ inject: false, reason: "already injected" });
  });

  it("refuses to inject a host-network pod (interception would rewrite the node's firewall) or a pod that took the container's name", () => {
    expect(decideInjection({ ...app, spec: { ...app.spec, hostNetwork: true } }, config)).toMatchObject({
      inject: false,
      reason: "host network",
      warning: expect.stringContaining("host's network") as unknown,
    });
    expect(decideInjection({ ...app, spec: { ...app.spec, initContainers: [{ name: INTERCEPT_CONTAINER }] } }, config)).toMatchObject({
      inject: false,
      warning: expect.stringContaining(INTERCEPT_CONTAINER) as unknown,
    });
    expect(decideInjection({ metadata: { annotations: { "bulwark.dev/app-port": "15021" } }, spec: { containers: [{ name: "app" }] } }, config)).toMatchObject({
      inject: false,
      reason: "app port is a sidecar port",
    });
  });

  it("resolves a probe's named port only to the container's own port of that name", () => {
    const rewrites = probeRewrites(
      [
        { name: "a", ports: [{ name: "web", containerPort: 8080 }], readinessProbe: { httpGet: { port: "web" } } },
        { name: "b", ports: [{ name: "web", containerPort: 9000 }], readinessProbe: { httpGet: { port: "web", path: "/x" } } },
        { name: "c", readinessProbe: { httpGet: { port: 8080, path: "/y", host: "10.0.0.1" } } },
      ],
      8080,
      15021,
    );
    expect(rewrites).toEqual({ patch: [{ op: "replace", path: "/spec/containers/0/readinessProbe", value: { httpGet: { port: 15021, path: "/" } } }], paths: ["/"] });
  });
});
