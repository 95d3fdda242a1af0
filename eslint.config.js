// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "crds/**", "charts/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/explicit-function-return-type": ["error", { allowExpressions: true }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
      eqeqeq: ["error", "always"],
    },
  },
  // Size and complexity of product code (tests, fixtures, benchmarks and scripts are tables and
  // scenarios: exempt). New code meets these; a function that grows past them is split.
  {
    files: ["**/*.ts"],
    ignores: ["**/*.test.ts", "test/**", "bench/**", "scripts/**", "**/testdata/**"],
    rules: {
      complexity: ["error", 20],
      "max-depth": ["error", 4],
      "max-params": ["error", 5],
      "max-lines-per-function": ["error", { max: 80, skipBlankLines: true, skipComments: true }],
      "max-lines": ["error", { max: 450, skipBlankLines: true, skipComments: true }],
    },
  },
  // Known debt, ratcheted at today's figure so it cannot grow: each of these is to be split (#17).
  ...[
    ["injector/inject.ts", { complexity: 39 }],
    ["operator/resolve/resolve.ts", { complexity: 30 }],
    ["envoy/proto/proto-json.ts", { complexity: 29 }],
    ["services/authz/dpop.ts", { complexity: 29 }],
    ["services/authz/service.ts", { complexity: 27 }],
    ["operator/ir/build-routes.ts", { complexity: 26 }],
    ["services/authz/check.ts", { complexity: 25 }],
    ["operator/controller/sidecar-reports.ts", { complexity: 23 }],
    ["cli/controller-command.ts", { "max-lines-per-function": 132 }],
    ["cli/injector-command.ts", { "max-lines-per-function": 110 }],
    ["cli/ratelimit-command.ts", { "max-lines-per-function": 95 }],
    ["envoy/xds/server.ts", { "max-lines-per-function": 83 }],
    ["cli/authz-command.ts", { "max-lines-per-function": 89 }],
    ["operator/identity/ca.ts", { "max-params": 7 }],
    ["services/ratelimit/redis-store.ts", { "max-params": 7 }],
  ].map(([file, limits]) => ({
    files: [/** @type {string} */ (file)],
    rules: Object.fromEntries(
      Object.entries(/** @type {Record<string, number>} */ (limits)).map(([rule, max]) =>
        rule === "max-lines-per-function" ? [rule, ["error", { max, skipBlankLines: true, skipComments: true }]] : [rule, ["error", max]],
      ),
    ),
  })),
  {
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
