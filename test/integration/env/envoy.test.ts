import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../../env/exec.js";
import { freePort } from "../../env/processes.js";
import { testEnvironment } from "../../support/environment.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";

describe("the real Envoy binary", () => {
  let upstream: Server;
  let upstreamPort: number;
  let listenerPort: number;
  let envoy: EnvoyProcess;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url, seenVia: req.headers["x-forwarded-proto"] ?? null }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const address = upstream.address();
    if (!address || typeof address !== "object") throw new Error("upstream has no port");
    upstreamPort = address.port;
    listenerPort = await freePort();
    envoy = await startEnvoy({
      static_resources: {
        listeners: [
          {
            name: "ingress",
            address: { socket_address: { address: "127.0.0.1", port_value: listenerPort } },
            filter_chains: [
              {
                filters: [
                  {
                    name: "envoy.filters.network.http_connection_manager",
                    typed_config: {
                      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                      stat_prefix: "ingress",
                      route_config: {
                        virtual_hosts: [{ name: "backend", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "backend" } }] }],
                      },
                      http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
                    },
                  },
                ],
              },
            ],
          },
        ],
        clusters: [
          {
            name: "backend",
            type: "STATIC",
            connect_timeout: "1s",
            load_assignment: {
              cluster_name: "backend",
              endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: upstreamPort } } } }] }],
            },
          },
        ],
      },
    });
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it("is the pinned official build", async () => {
    const { stdout } = await exec(testEnvironment().binaries.envoy, ["--version"], { missingFix: "" });
    expect(stdout).toMatch(/version: [0-9a-f]{40}\/1\.40\.0\/Clean\/RELEASE\/BoringSSL/);
  });

  it("proxies a request to the upstream", async () => {
    const response = await fetch(`http://127.0.0.1:${listenerPort}/hello?x=1`);
    expect(response.status).toBe(200);
    expect(response.headers.get("server")).toBe("envoy");
    expect(response.headers.get("x-envoy-upstream-service-time")).toMatch(/^\d+$/);
    expect(await response.json()).toEqual({ path: "/hello?x=1", seenVia: "http" });
  });

  it("counts the request in its admin stats", async () => {
    const stats = await (await fetch(`http://127.0.0.1:${envoy.adminPort}/stats?filter=^cluster.backend.upstream_rq_total$`)).text();
    expect(stats).toMatch(/cluster\.backend\.upstream_rq_total: [1-9]/);
  });
});
