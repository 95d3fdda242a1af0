#!/usr/bin/env node
/**
 * The `bulwark` executable: one package, subcommands. Each command's module is imported when it
 * runs, so a data-plane service does not load the controller's dependencies (#19: memory).
 */
import { formatVersion, readBuildInfo } from "./build-info.js";
import { usageProblem, UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";

const help = `usage: bulwark <command> [flags]

commands:
  authz        serve Envoy ext_authz: DPoP, certificate-bound tokens, attestation, ownership, app versions
  blocks       list or clear the adaptive blocks and throttles of flagged identities (in Redis)
  controller   watch policies and serve every sidecar its Envoy configuration over xDS
  injector     serve the admission webhook that adds the Envoy sidecar to opted-in pods
  inventory    print the API a policy's workloads serve, learned from traffic, as OpenAPI (from an APIInventory)
  intercept    redirect a pod's inbound app-port traffic to its sidecar (the injected init container)
  probe        test a live API the way an attacker would, driven by its policy (authentication, BOLA, bypasses, limits)
  ratelimit    serve Envoy global rate limits and outcome-aware budgets (RateLimitService, AccessLogService)
  render       print the Envoy configuration a set of Kubernetes objects produces (offline)
  telemetry    receive every sidecar's finished requests (AccessLogService) for the inventory and abuse signals
  version      print the version, the commit and date of the build, and the Node.js version

Run 'bulwark <command> --help' for a command's flags.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "authz":
      return (await import("./authz-command.js")).runAuthz(rest);
    case "blocks":
      return (await import("./blocks-command.js")).runBlocks(rest);
    case "controller":
      return (await import("./controller-command.js")).runController(rest);
    case "injector":
      return (await import("./injector-command.js")).runInjector(rest);
    case "inventory":
      return (await import("./inventory-command.js")).runInventory(rest);
    case "intercept":
      return (await import("./intercept-command.js")).runIntercept(rest);
    case "probe":
      return (await import("./probe-command.js")).runProbeCommand(rest);
    case "ratelimit":
      return (await import("./ratelimit-command.js")).runRatelimit(rest);
    case "render":
      return (await import("./render-command.js")).runRender(rest);
    case "telemetry":
      return (await import("./telemetry-command.js")).runTelemetry(rest);
    case "version":
    case "--version":
      process.stdout.write(formatVersion(readBuildInfo()));
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(help);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(
        `unknown command ${command}; commands: authz, blocks, controller, injector, intercept, inventory, probe, ratelimit, render, telemetry, version (run 'bulwark --help')`,
      );
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage = usageProblem(error, argv[0]);
    process.stderr.write(`bulwark: ${usage ?? errorMessage(error)}\n`);
    process.exitCode = usage === undefined ? 1 : 2;
  },
);
