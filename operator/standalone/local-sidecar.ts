import { sidecarNodeIdOf } from "../../contract/wire.js";
import { namespaceOf, SidecarAnnotation, type PodObject, type ServiceObject, type TranslationInput } from "../resolve/objects.js";

/** A sidecar on the developer's machine: Envoy on `listenPort` in front of an app on 127.0.0.1:`appPort`, for a Service. */
export interface LocalSidecar {
  namespace: string;
  service: string;
  appPort: number;
  listenPort: number;
}

/** The label a synthesized Service selects its local pod by, when the files hold no Service of that name. */
export const LOCAL_LABEL = "bulwark.dev/local";

export type WithLocalSidecar = { ok: true; input: Omit<TranslationInput, "now">; nodeId: string } | { ok: false; message: string };

/**
 * The objects with a local sidecar added, as the injector would have made it: a Pod (`<service>-local`,
 * running, ready, on 127.0.0.1) that the Service selects, annotated with the sidecar's and the
 * app's ports. The Service is taken from the objects when they hold it (a policy then resolves as
 * in the cluster), else synthesized with a selector of its own. Pure.
 */
export function withLocalSidecar(input: Omit<TranslationInput, "now">, local: LocalSidecar): WithLocalSidecar {
  const { namespace, service, appPort, listenPort } = local;
  if (appPort === listenPort) return { ok: false, message: `the app port and the listen port are both ${appPort}: Envoy listens on one and forwards to the other` };
  const found = input.services.find((s) => s.metadata.name === service && namespaceOf(s.metadata) === namespace);
  const selector = found ? found.spec?.selector : { [LOCAL_LABEL]: service };
  if (!selector || Object.keys(selector).length === 0) {
    return {
      ok: false,
      message: `Service ${namespace}/${service} in the files has no selector, so no pod (and no local sidecar) can be behind it; give it one, or leave it out of the files`,
    };
  }
  const services: ServiceObject[] = found
    ? input.services
    : [...input.services, { apiVersion: "v1", kind: "Service", metadata: { name: service, namespace }, spec: { selector, ports: [{ port: listenPort, targetPort: listenPort }] } }];
  const name = `${service}-local`;
  const pod: PodObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels: selector,
      annotations: { [SidecarAnnotation.sidecarPort]: String(listenPort), [SidecarAnnotation.appPort]: String(appPort) },
    },
    spec: { serviceAccountName: "default" },
    status: { phase: "Running", podIP: "127.0.0.1", conditions: [{ type: "Ready", status: "True" }] },
  };
  const pods = [...input.pods.filter((p) => !(p.metadata.name === name && namespaceOf(p.metadata) === namespace)), pod];
  return { ok: true, input: { ...input, services, pods }, nodeId: sidecarNodeIdOf(name, namespace) };
}
