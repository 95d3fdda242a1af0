/** Builders of Kubernetes objects for translation tests. */
import { SidecarAnnotation, type PodObject, type SecretObject, type ServiceObject } from "../resolve/objects.js";

export function service(namespace: string, name: string, selector: Record<string, string>): ServiceObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { selector } };
}

export function sidecarPod(namespace: string, name: string, labels: Record<string, string>, ports = { sidecar: 15006, app: 8080 }): PodObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels,
      annotations: { [SidecarAnnotation.sidecarPort]: String(ports.sidecar), [SidecarAnnotation.appPort]: String(ports.app) },
    },
    status: { phase: "Running" },
  };
}

export function jwksSecret(namespace: string, name: string, jwks: unknown, key = "jwks.json"): SecretObject {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, data: { [key]: Buffer.from(JSON.stringify(jwks)).toString("base64") } };
}

export interface PolicyOptions {
  namespace?: string;
  name: string;
  created: string;
  generation?: number;
  spec: Record<string, unknown>;
}

export function policy(options: PolicyOptions): Record<string, unknown> {
  return {
    apiVersion: "bulwark.dev/v1alpha1",
    kind: "APISecurityPolicy",
    metadata: { name: options.name, namespace: options.namespace ?? "shop", creationTimestamp: options.created, generation: options.generation ?? 1 },
    spec: options.spec,
  };
}

export const jwtAuthentication = {
  jwt: {
    providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop-api"], jwks: { remote: { uri: "https://id.example.com/.well-known/jwks.json" } } }],
  },
};
