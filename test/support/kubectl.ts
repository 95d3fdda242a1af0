import { exec, type ExecResult } from "../env/exec.js";
import { testEnvironment } from "./environment.js";

/** Runs the provisioned kubectl against the test cluster; `stdin` is written to a temp file when given. */
export async function kubectl(args: readonly string[]): Promise<ExecResult> {
  const env = testEnvironment();
  return exec(env.binaries.kubectl, ["--kubeconfig", env.kubeconfig, ...args], { missingFix: "run `npm run env -- provision`" });
}
