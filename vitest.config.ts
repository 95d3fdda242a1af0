import { defineConfig } from "vitest/config";

/**
 * Integration suites that use no shared cluster state (only Envoy, Redis and processes of their
 * own on free ports): they run two at a time beside the unit tests. Every other integration
 * suite, a new one included, runs alone afterwards, because the local cluster is shared: a
 * controller started by one suite watches every namespace and would write the status and events
 * of another suite's policies, and webhooks, CRDs and the real node are cluster-wide.
 */
const SELF_CONTAINED = [
  "test/integration/api/kubeconform.test.ts",
  "test/integration/authz/adaptive.test.ts",
  "test/integration/authz/api-keys.test.ts",
  "test/integration/authz/body-limit.test.ts",
  "test/integration/authz/corpus.test.ts",
  "test/integration/authz/envoy-authz.test.ts",
  "test/integration/authz/restart-replay.test.ts",
  "test/integration/authz/sunset.test.ts",
  "test/integration/authz/timeouts.test.ts",
  "test/integration/env/envoy.test.ts",
  "test/integration/env/redis.test.ts",
  "test/integration/envoy/**/*.test.ts",
  "test/integration/probe/probe.test.ts",
  "test/integration/ratelimit/memory-cap.test.ts",
  "test/integration/ratelimit/ratelimit.test.ts",
  "test/integration/ratelimit/redis-batch.test.ts",
  "test/integration/ratelimit/redis-store.test.ts",
  "test/integration/standalone/standalone.test.ts",
  "test/integration/telemetry/benign.test.ts",
  "test/integration/telemetry/stream.test.ts",
  "test/integration/translate/**/*.test.ts",
  "test/integration/xds/ads.test.ts",
  "test/integration/xds/connection-age.test.ts",
  "test/integration/xds/forged-reports.test.ts",
  "test/integration/xds/grpc-xds-client.test.ts",
];

/** Two at a time (vitest would run one: a worker per core, less one, on the 2-core machines this project targets). */
const PARALLEL_WORKERS = 2;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          // Unit tests sit beside their code; test/integration holds the suites that need real components.
          include: ["**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/.git/**", "test/integration/**"],
          // Tests check behaviour, not time: vitest's 5 s default failed property and load tests
          // (3,000 gRPC calls in flight, fast-check over DPoP proofs) on a busy 2-core machine.
          testTimeout: 60_000,
          maxWorkers: PARALLEL_WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: SELF_CONTAINED,
          globalSetup: ["test/env/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: PARALLEL_WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "cluster",
          include: ["test/integration/**/*.test.ts"],
          exclude: ["**/node_modules/**", ...SELF_CONTAINED],
          globalSetup: ["test/env/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
