import type { HealthChecks } from "../../operator/kube/http-server.js";
import type { RouteTableHolder } from "./config.js";

/**
 * Liveness and readiness of bulwark authz. Live while it is not shutting down. Ready once a
 * route table is loaded and Check is served: before that every Check is refused with
 * `config_not_loaded`, so a replica should get no traffic. A table, once loaded, is kept when
 * the API server or the controller goes away, so readiness does not depend on them afterwards.
 */
export function authzHealthChecks(options: { tables: RouteTableHolder; serving: () => boolean; stopping: () => boolean }): HealthChecks {
  return {
    live: () => !options.stopping(),
    ready: () => !options.stopping() && options.serving() && options.tables.current() !== undefined,
  };
}
