import { startJsonServer, type Upstream } from "./http.js";

export type { Upstream } from "./http.js";

/** A tiny upstream on loopback: answers JSON naming itself and the path. */
export function startUpstream(name: string): Promise<Upstream> {
  return startJsonServer((req) => ({ upstream: name, path: req.url }));
}
