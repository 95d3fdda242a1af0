import { coreDnsTool, provisionGoTool } from "./go-tools.js";

/**
 * Builds the node's cluster DNS, CoreDNS with only the plugins a local cluster needs (the module
 * in test/env/coredns pins the release), into a cache directory keyed by that module.
 */
export async function provisionCoreDns(): Promise<{ coredns: string; built: boolean }> {
  const { path, built } = await provisionGoTool(coreDnsTool);
  return { coredns: path, built };
}
