import { defineConfig } from "vitest/config";

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
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/env/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
