/** Flags of a sidecar on the developer's machine (`bulwark controller -f`, `bulwark render --bootstrap`). */
import type { LocalSidecar } from "../operator/standalone/local-sidecar.js";
import { UsageError } from "./usage.js";

export const localSidecarHelp = `  --local [NS/]SERVICE       a sidecar on this machine for the Service (namespace default): a pod
                             <service>-local is added to the objects read, node id <service>-local.<ns>
  --app-port PORT            with --local: where the app listens on 127.0.0.1 (default 8080)
  --listen-port PORT         with --local: where Envoy listens for clients (default 10000)
`;

export const localSidecarFlags = {
  local: { type: "string" },
  "app-port": { type: "string" },
  "listen-port": { type: "string" },
} as const;

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function port(value: string, name: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`--${name} ${value} is not a port (1 to 65535)`);
  return Number(value);
}

export function parseLocalSidecarFlags(values: { local?: string | undefined; "app-port"?: string | undefined; "listen-port"?: string | undefined }): LocalSidecar | undefined {
  if (values.local === undefined) {
    if (values["app-port"] !== undefined || values["listen-port"] !== undefined) throw new UsageError("--app-port and --listen-port go with --local [NS/]SERVICE");
    return undefined;
  }
  const [namespace, service] = values.local.includes("/") ? values.local.split("/", 2) : ["default", values.local];
  if (!namespace || !service || !LABEL.test(namespace) || !LABEL.test(service) || values.local.split("/").length > 2)
    throw new UsageError(`--local ${values.local} is not [NAMESPACE/]SERVICE (lowercase DNS labels, e.g. shop/orders)`);
  return { namespace, service, appPort: port(values["app-port"] ?? "8080", "app-port"), listenPort: port(values["listen-port"] ?? "10000", "listen-port") };
}
