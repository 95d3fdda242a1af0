import { decodeJwt, type JWTPayload } from "jose";
import { SidecarAnnotation, type PodObject, type ServiceObject, type TranslationInput } from "../operator/resolve/objects.js";
import type { Resolution, ResolvedPolicy } from "../operator/resolve/resolve.js";
import { translate } from "../operator/translate/translate.js";
import type { WorkloadIR } from "../contract/ir.js";
import type { DpopKey } from "./dpop.js";
import type { OpenApiDocument } from "./openapi.js";

/**
 * What a probe run works from: the workload's IR (the same translation the controller runs,
 * offline), the policy's conditions, and the test users. Every check derives its requests from
 * this plan, never from the YAML.
 */

export interface TestUser {
  /** `a` or `b`. */
  name: string;
  token: string;
  /** The token's payload as jose decodes it (not verified: the sidecar verifies it). */
  claims: JWTPayload;
  /** The key the token is bound to, for DPoP proofs (--dpop-key-a/-b). */
  dpopKey?: DpopKey;
}

export interface ProbePlan {
  /** Base URL of the sidecar (or of the Service or ingress in front of it). */
  target: URL;
  policy: string;
  workload: WorkloadIR;
  resolved: ResolvedPolicy;
  /** True when the files held no Pod of the policy: the probe added a placeholder so translation had a workload (no static bypass analysis then). */
  placeholder: boolean;
  users: TestUser[];
  /** Headers every request carries (the current app version and platform when the policy has a minimum). */
  appHeaders: [string, string][];
  /** Path-template variables that name an object's owner even where no ownership rule says so. */
  ownerParams: string[];
  /** Extra addresses of the same app (a Service's ClusterIP port, a pod's app port) that must not answer past the sidecar. */
  directUrls: string[];
  shadowPaths: string[];
  /** The app's OpenAPI document (--openapi): its paths for the exposure checks, its examples for object ids. */
  openapi?: OpenApiDocument;
  /** A successful login's request body (--login-body), for the failed-login budget check. */
  loginBody?: string;
  /** A failed login's request body (--login-failure-body; default `{}`). */
  loginFailureBody?: string;
}

const PLACEHOLDER_LABEL = "probe.bulwark.dev/placeholder";

function placeholderPod(namespace: string, name: string, labels: Record<string, string>): PodObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `probe-placeholder-${name}`, namespace, labels, annotations: { [SidecarAnnotation.sidecarPort]: "15006", [SidecarAnnotation.appPort]: "8080" } },
    status: { phase: "Running" },
  };
}

/** Objects that give `p` a workload: a Pod its target selects (and the target Service when the files lack it). */
function placeholdersFor(p: ResolvedPolicy, services: readonly ServiceObject[]): { pods: PodObject[]; services: ServiceObject[] } {
  const spec = p.policy?.spec;
  if (!spec) return { pods: [], services: [] };
  const ref = spec.targetRefs?.[0];
  if (!ref) return { pods: [placeholderPod(p.namespace, p.name, { ...(spec.podSelector?.matchLabels ?? {}) })], services: [] };
  const existing = services.find((s) => s.metadata.name === ref.name && (s.metadata.namespace ?? "default") === p.namespace);
  if (existing?.spec?.selector) return { pods: [placeholderPod(p.namespace, p.name, existing.spec.selector)], services: [] };
  const labels = { [PLACEHOLDER_LABEL]: p.name };
  const service: ServiceObject = { apiVersion: "v1", kind: "Service", metadata: { name: ref.name, namespace: p.namespace }, spec: { selector: labels } };
  return { pods: [placeholderPod(p.namespace, p.name, labels)], services: [service] };
}

export interface PolicyChoice {
  workload: WorkloadIR;
  resolved: ResolvedPolicy;
  resolution: Resolution;
  placeholder: boolean;
}

/**
 * The workload of policy `wanted` (`<ns>/<name>`; the only policy when absent) from objects read
 * from files. A policy without a Pod among them gets a placeholder one, since the routes do not
 * depend on the pods.
 */
export function choosePolicy(input: TranslationInput, wanted: string | undefined): PolicyChoice {
  const first = translate(input).resolution;
  const candidates = first.policies.filter((p) => wanted === undefined || `${p.namespace}/${p.name}` === wanted);
  if (candidates.length === 0) throw new Error(wanted ? `no APISecurityPolicy ${wanted} among the files` : "no APISecurityPolicy among the files");
  if (candidates.length > 1)
    throw new Error(`the files hold ${candidates.length} policies (${candidates.map((p) => `${p.namespace}/${p.name}`).join(", ")}); choose one with --policy NS/NAME`);
  const chosen = candidates[0] as ResolvedPolicy;
  if (chosen.accepted.status !== "True") throw new Error(`policy ${chosen.namespace}/${chosen.name} is not Accepted (${chosen.accepted.reason}): ${chosen.accepted.message}`);
  const placeholder = chosen.governed.length === 0;
  const extra = placeholder ? placeholdersFor(chosen, input.services) : { pods: [], services: [] };
  const { resolution, ir } = translate({ ...input, pods: [...input.pods, ...extra.pods], services: [...input.services, ...extra.services] });
  const resolved = resolution.policies.find((p) => p.namespace === chosen.namespace && p.name === chosen.name);
  const workload = ir.workloads.find((w) => w.policy?.namespace === chosen.namespace && w.policy.name === chosen.name);
  if (!resolved || !workload) throw new Error(`policy ${chosen.namespace}/${chosen.name} governs no sidecar its routes could be built for`);
  return { workload, resolved, resolution, placeholder };
}

/** A test user from a token: its claims as jose decodes them. */
export function testUser(name: string, token: string, dpopKey?: DpopKey): TestUser {
  return { name, token, claims: decodeJwt(token), ...(dpopKey ? { dpopKey } : {}) };
}

/** The version and platform headers of an app that is current (so the minimum-version gate lets the other checks through). */
export function currentAppHeaders(workload: WorkloadIR, platform: string | undefined, version: string | undefined): [string, string][] {
  const gate = workload.minAppVersion;
  if (!gate) return [];
  const p = platform ?? gate.platforms[0]?.platform ?? "ios";
  const minimum = gate.platforms.find((e) => e.platform === p)?.minimum ?? gate.minimum;
  return [
    [gate.header, version ?? minimum],
    [gate.platformHeader, p],
  ];
}

/** The claim value of `user` that owns objects, as a string (numbers too); undefined when absent. */
export function ownerValue(user: TestUser, claim: string): string | undefined {
  const v = user.claims[claim];
  return typeof v === "string" || typeof v === "number" ? String(v) : undefined;
}
