import type { z } from "zod";
import { AcceptedReason, ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import { apiSecurityPolicy, type APISecurityPolicy } from "../api/v1alpha1/policy.js";
import { accepted, errorText, notResolved, translationFailed, type ConditionData } from "./conditions.js";
import { UNUSABLE_JWKS, jwksFromSecret } from "./jwks.js";
import { publicCertificateFromSecret, publicCertificateSdsName, type PublicCertificatePem } from "./public-certificate.js";
import { jwksFromDiscovery } from "./oidc-discovery.js";
import { apiKeyClients } from "./api-keys.js";
import { creationTime, namespaceOf, objectKey, sidecarNodeId, type ObjectMeta, type PodObject, type SecretObject, type ServiceObject, type TranslationInput } from "./objects.js";
import { sidecarBypassCondition, sidecarBypasses } from "./bypass.js";
import { selectPods, type SidecarPorts } from "./sidecars.js";
import { podSidecarPorts, SidecarPodIndex } from "./pod-index.js";
import type { ResolveMemo } from "./resolve-memo.js";
import { meshServices, type MeshService } from "./mesh-services.js";

export type { MeshPod, MeshService } from "./mesh-services.js";
import { policyWarnings, warningsCondition } from "./warnings.js";
import { compareStrings, sortedByKey } from "../../common/order.js";
import { nextSunset } from "../ir/deprecations.js";

export interface TargetResolution {
  kind: string;
  name: string;
  /** Sidecars (node ids) of the target that this policy governs. */
  sidecars: string[];
  /** Sidecars of the target governed by an older policy instead. */
  lostTo: { policy: string; sidecars: string[] }[];
}

export interface SidecarGroup {
  ports: SidecarPorts;
  /** Node ids, sorted. */
  sidecars: string[];
}

export interface ResolvedPolicy {
  namespace: string;
  name: string;
  generation: number;
  /** The validated spec with defaults; absent when the policy is invalid. */
  policy?: APISecurityPolicy;
  accepted: ConditionData;
  resolvedRefs: ConditionData;
  /** What the policy says that is enforced but probably unintended (the Warnings condition). */
  warnings: ConditionData;
  targets: TargetResolution[];
  /** Sidecars this policy governs, grouped by ports (one workload each). */
  governed: SidecarGroup[];
  /** Sidecars of an invalid policy: they keep their last good configuration. */
  held: string[];
  /** Resolved JWKS per provider name (`jwt/<name>` or `appAttestation`), inline JSON. */
  inlineJwks: Record<string, string>;
  /** The jwks_uri found by OpenID Connect Discovery per provider name, for jwks.oidcDiscovery (absent when discovery has not succeeded: the provider then has UNUSABLE_JWKS in inlineJwks). */
  discoveredJwksUris?: Record<string, string>;
  /** spec.authentication.apiKeys: the clients of its Secret as digests; empty when the Secret is missing or unusable (every key refused). */
  apiKeyClients?: { name: string; sha256: string }[];
  /** A warning: some Service port reaches the governed pods past their sidecar (bypass.ts). */
  sidecarBypass?: ConditionData;
  /** spec.tls.certificate, read from its Secret: the SDS secret name, and the PEM when the Secret is usable. */
  publicCertificate?: ResolvedPublicCertificate;
}

export interface ResolvedPublicCertificate {
  sdsName: string;
  /** Absent when the Secret is missing or invalid (ResolvedRefs says why): the listener then refuses every connection. */
  pem?: PublicCertificatePem;
}

export interface Resolution {
  /** Sorted by namespace/name. */
  policies: ResolvedPolicy[];
  /** Services with sidecar pods, sorted by namespace/name. */
  meshServices: MeshService[];
  /** Sidecars no policy governs, grouped by namespace and ports: they pass traffic through. */
  passthrough: (SidecarGroup & { namespace: string })[];
  now: string;
  /**
   * The earliest instant after `now` at which the same objects translate differently (a
   * deprecation's sunset): when the controller must translate again. Absent when none is ahead.
   */
  nextChange?: string;
}

interface Candidate {
  meta: ObjectMeta;
  key: string;
  raw: unknown;
  parsed?: APISecurityPolicy;
  issues?: string;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map(
      (issue) =>
        `${
          issue.path.length
            ? issue.path
                .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
                .join("")
                .replace(/^\./, "")
            : "object"
        }: ${issue.message}`,
    )
    .join("; ");
}

/**
 * Validation results by object: the watch cache hands back the same object until it changes,
 * so an unchanged policy is parsed once, however often translation runs. Objects are treated
 * as immutable, as the watch cache treats them; the result is the same with or without it.
 */
const parsedPolicies = new WeakMap<object, ReturnType<typeof apiSecurityPolicy.safeParse>>();

function parse(raw: object): ReturnType<typeof apiSecurityPolicy.safeParse> {
  let result = parsedPolicies.get(raw);
  if (!result) {
    result = apiSecurityPolicy.safeParse(raw);
    parsedPolicies.set(raw, result);
  }
  return result;
}

function candidateOf(raw: unknown): Candidate | undefined {
  const meta = (raw as { metadata?: ObjectMeta } | null)?.metadata;
  if (!meta || typeof meta.name !== "string") return undefined;
  const key = objectKey(meta);
  let result: ReturnType<typeof apiSecurityPolicy.safeParse>;
  try {
    result = parse(raw as object);
  } catch (error) {
    return { meta, key, raw, issues: `validation failed: ${errorText(error)}` };
  }
  return result.success ? { meta, key, raw, parsed: result.data } : { meta, key, raw, issues: formatIssues(result.error) };
}

/** The oldest policy first; ties broken by namespace/name, so the order never depends on input order. */
function byAge(a: Candidate, b: Candidate): number {
  const ta = creationTime(a.meta);
  const tb = creationTime(b.meta);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareStrings(a.key, b.key);
}

function groupByPorts(pods: readonly PodObject[]): SidecarGroup[] {
  const groups = new Map<string, SidecarGroup>();
  for (const pod of pods) {
    const ports = podSidecarPorts(pod);
    if (!ports) continue;
    const id = `${ports.sidecarPort}-${ports.appPort}${ports.outboundPort !== undefined ? `-${ports.outboundPort}` : ""}${ports.egressTo ? ` ${ports.egressTo.join(",")}` : ""}`;
    const group = groups.get(id) ?? { ports, sidecars: [] };
    group.sidecars.push(sidecarNodeId(pod));
    groups.set(id, group);
  }
  return [...groups.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, g]) => ({ ports: g.ports, sidecars: [...g.sidecars].sort() }));
}

interface TargetPods {
  kind: string;
  name: string;
  pods: PodObject[];
  missing?: string;
}

function targetPods(policy: APISecurityPolicy, podIndex: SidecarPodIndex, services: ReadonlyMap<string, ServiceObject>): TargetPods[] {
  const namespace = namespaceOf(policy.metadata);
  if (policy.spec.podSelector) {
    const labels = Object.entries(policy.spec.podSelector.matchLabels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(",");
    return [{ kind: "PodSelector", name: labels, pods: podIndex.select(namespace, policy.spec.podSelector.matchLabels) }];
  }
  return (policy.spec.targetRefs ?? []).map((ref) => {
    const service = services.get(`${namespace}/${ref.name}`);
    if (!service) return { kind: ref.kind, name: ref.name, pods: [], missing: `Service ${namespace}/${ref.name} not found` };
    return { kind: ref.kind, name: ref.name, pods: podIndex.select(namespace, service.spec?.selector ?? {}) };
  });
}

function resolveJwks(
  policy: APISecurityPolicy,
  input: TranslationInput,
): { inline: Record<string, string>; discovered: Record<string, string>; problems: { reason: string; message: string }[] } {
  const namespace = namespaceOf(policy.metadata);
  const inline: Record<string, string> = {};
  const discovered: Record<string, string> = {};
  const problems: { reason: string; message: string }[] = [];
  type Jwks = NonNullable<NonNullable<APISecurityPolicy["spec"]["authentication"]>["appAttestation"]>["jwks"];
  const sources: { id: string; usedBy: string; issuer: string; jwks: Jwks }[] = (policy.spec.authentication?.jwt?.providers ?? []).map((p) => ({
    id: `jwt/${p.name}`,
    usedBy: `JWT provider ${p.name}`,
    issuer: p.issuer,
    jwks: p.jwks,
  }));
  const attestation = policy.spec.authentication?.appAttestation;
  if (attestation) sources.push({ id: "appAttestation", usedBy: "app attestation", issuer: attestation.issuer, jwks: attestation.jwks });
  for (const source of sources) {
    const { secretRef: ref, oidcDiscovery } = source.jwks;
    if (oidcDiscovery) {
      const result = jwksFromDiscovery({ discovery: input.oidcDiscovery, issuer: source.issuer, usedBy: source.usedBy });
      if (result.ok) {
        discovered[source.id] = result.uri;
      } else {
        inline[source.id] = UNUSABLE_JWKS;
        problems.push({ reason: result.reason, message: result.message });
      }
      continue;
    }
    if (!ref) continue;
    const result = jwksFromSecret({ secrets: input.secrets, namespace, name: ref.name, key: ref.key, usedBy: source.usedBy });
    if (result.ok) {
      inline[source.id] = result.jwks;
    } else {
      inline[source.id] = UNUSABLE_JWKS;
      problems.push({ reason: result.reason, message: result.message });
    }
  }
  return { inline, discovered, problems };
}

/** A valid policy and what every stage of its resolution reads. */
interface PolicyContext {
  namespace: string;
  name: string;
  generation: number;
  candidate: Candidate;
  parsed: APISecurityPolicy;
  /** Sidecar node id → the key of the policy that governs it (older policies first). */
  owner: Map<string, string>;
  input: TranslationInput;
}

interface CandidateContext extends PolicyContext {
  /** The pods its targets select. */
  targets: TargetPods[];
  /** The Services of its namespace (for SidecarBypass). */
  namespaceServices: readonly ServiceObject[];
}

/** One valid policy: the sidecars it wins, its references, and its conditions. */
function resolveCandidate(options: CandidateContext): ResolvedPolicy {
  const { candidate, owner, targets: selected, namespaceServices, input, parsed: policy, ...base } = options;
  const problems: { reason: string; message: string }[] = [];
  const targets: TargetResolution[] = [];
  const mine: PodObject[] = [];
  for (const target of selected) {
    if (target.missing) problems.push({ reason: ResolvedRefsReason.TargetNotFound, message: target.missing });
    const lost = new Map<string, string[]>();
    const sidecars: string[] = [];
    for (const pod of target.pods) {
      const id = sidecarNodeId(pod);
      const current = owner.get(id);
      if (current === undefined || current === candidate.key) {
        owner.set(id, candidate.key);
        sidecars.push(id);
        if (!mine.includes(pod)) mine.push(pod);
      } else {
        lost.set(current, [...(lost.get(current) ?? []), id]);
      }
    }
    targets.push({
      kind: target.kind,
      name: target.name,
      sidecars,
      lostTo: [...lost.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([p, s]) => ({ policy: p, sidecars: s })),
    });
  }
  const jwks = resolveJwks(policy, input);
  problems.push(...jwks.problems);
  const publicCertificate = resolvePublicCertificate(policy, input, problems);
  const apiKeysRef = policy.spec.authentication?.apiKeys?.secretRef;
  const apiKeys = apiKeysRef ? apiKeyClients({ secrets: input.secrets, namespace: base.namespace, name: apiKeysRef.name }) : undefined;
  if (apiKeys && !apiKeys.ok) problems.push({ reason: apiKeys.reason, message: apiKeys.message });
  const conflicts = targets.flatMap((t) => t.lostTo.map((l) => `${l.sidecars.length} sidecar(s) of ${t.kind} ${t.name} are governed by the older policy ${l.policy}`));
  return {
    ...base,
    policy,
    accepted: conflicts.length
      ? { status: "False", reason: AcceptedReason.Conflicted, message: `${conflicts.join("; ")}; this policy governs ${mine.length} other sidecar(s).` }
      : accepted(),
    resolvedRefs: notResolved(problems),
    warnings: warningsCondition(policyWarnings(policy.spec)),
    targets,
    governed: groupByPorts(mine),
    held: [],
    inlineJwks: jwks.inline,
    ...(Object.keys(jwks.discovered).length > 0 ? { discoveredJwksUris: jwks.discovered } : {}),
    ...(apiKeys ? { apiKeyClients: apiKeys.ok ? apiKeys.clients : [] } : {}),
    ...bypassOf(mine, namespaceServices),
    ...(publicCertificate ? { publicCertificate } : {}),
  };
}

/** spec.tls.certificate from its Secret; a missing or broken Secret is a problem of ResolvedRefs and leaves the PEM out. */
function resolvePublicCertificate(policy: APISecurityPolicy, input: TranslationInput, problems: { reason: string; message: string }[]): ResolvedPublicCertificate | undefined {
  const ref = policy.spec.tls?.certificate?.secretRef;
  if (!ref) return undefined;
  const namespace = namespaceOf(policy.metadata);
  const sdsName = publicCertificateSdsName(namespace, ref.name);
  const result = publicCertificateFromSecret({ secrets: input.secrets, namespace, name: ref.name });
  if (result.ok) return { sdsName, pem: result.pem };
  problems.push({ reason: result.reason, message: result.message });
  return { sdsName };
}

/** The SidecarBypass warning of a policy whose pods a Service reaches past their sidecar. */
function bypassOf(pods: readonly PodObject[], namespaceServices: readonly ServiceObject[]): Pick<ResolvedPolicy, "sidecarBypass"> {
  if (pods.length === 0) return {};
  const condition = sidecarBypassCondition(sidecarBypasses(pods, namespaceServices));
  return condition ? { sidecarBypass: condition } : {};
}

/** What every policy's resolution looks up, indexed once per translation. */
interface Lookups {
  podIndex: SidecarPodIndex;
  servicesByKey: ReadonlyMap<string, ServiceObject>;
  /** Per namespace, its Services in input order. */
  servicesByNamespace: ReadonlyMap<string, ServiceObject[]>;
  /** The first Secret of each namespace/name, as a search of the list finds it. */
  secretsByKey: ReadonlyMap<string, SecretObject>;
}

function lookupsOf(input: TranslationInput, memo: ResolveMemo | undefined): Lookups {
  const byNamespace = new Map<string, ServiceObject[]>();
  for (const service of input.services) {
    const namespace = namespaceOf(service.metadata);
    const list = byNamespace.get(namespace);
    if (list) list.push(service);
    else byNamespace.set(namespace, [service]);
  }
  const secretsByKey = new Map<string, SecretObject>();
  for (const secret of input.secrets) if (!secretsByKey.has(objectKey(secret.metadata))) secretsByKey.set(objectKey(secret.metadata), secret);
  return {
    podIndex: memo ? memo.podIndex(input.pods) : new SidecarPodIndex(input.pods),
    servicesByKey: new Map(input.services.map((s) => [objectKey(s.metadata), s])),
    servicesByNamespace: memo ? memo.servicesByNamespace(byNamespace) : byNamespace,
    secretsByKey,
  };
}

interface ValidContext extends PolicyContext {
  lookups: Lookups;
  memo: ResolveMemo | undefined;
}

/** A valid policy's resolution; with a memo, its earlier one when nothing it reads has changed (resolve-memo.ts). */
function resolveValid(options: ValidContext): ResolvedPolicy {
  const { lookups, memo, ...rest } = options;
  const targets = targetPods(options.parsed, lookups.podIndex, lookups.servicesByKey);
  const namespaceServices = lookups.servicesByNamespace.get(options.namespace) ?? [];
  const context: CandidateContext = { ...rest, targets, namespaceServices };
  if (!memo) return resolveCandidate(context);
  const resolved = memo.policy(options.candidate.key, policyDependencies(options, targets, namespaceServices), () => resolveCandidate(context));
  // The sidecars it governs, as resolveCandidate claims them: every later policy sees them taken.
  for (const target of resolved.targets) for (const id of target.sidecars) options.owner.set(id, options.candidate.key);
  return resolved;
}

/** Everything resolveCandidate reads, for the memo to compare: objects by identity, the rest as values. */
function policyDependencies(options: ValidContext, targets: readonly TargetPods[], namespaceServices: readonly ServiceObject[]): unknown[] {
  const { parsed, namespace, lookups, owner, input } = options;
  const authentication = parsed.spec.authentication;
  // Built with push: it runs for every policy on every translation.
  const dependencies: unknown[] = [options.candidate.raw, namespaceServices];
  for (const ref of parsed.spec.targetRefs ?? []) dependencies.push(lookups.servicesByKey.get(`${namespace}/${ref.name}`));
  let pods = 0;
  for (const target of targets) pods += target.pods.length;
  dependencies.push(pods);
  for (const target of targets) for (const pod of target.pods) dependencies.push(pod);
  for (const target of targets) for (const pod of target.pods) dependencies.push(owner.get(sidecarNodeId(pod)));
  const secret = (name: string | undefined): void => {
    dependencies.push(name === undefined ? undefined : lookups.secretsByKey.get(`${namespace}/${name}`));
  };
  for (const provider of authentication?.jwt?.providers ?? []) secret(provider.jwks.secretRef?.name);
  secret(authentication?.appAttestation?.jwks.secretRef?.name);
  secret(authentication?.apiKeys?.secretRef.name);
  secret(parsed.spec.tls?.certificate?.secretRef.name);
  const discovered = [...(authentication?.jwt?.providers ?? []), ...(authentication?.appAttestation ? [authentication.appAttestation] : [])]
    .filter((p) => p.jwks.oidcDiscovery)
    .map((p) => input.oidcDiscovery?.[p.issuer] ?? null);
  dependencies.push(discovered.length === 0 ? "" : JSON.stringify(discovered));
  return dependencies;
}

/**
 * Decides which policy governs which sidecar — the oldest policy wins a pod that several
 * policies select — checks every reference, and produces each policy's Accepted and
 * ResolvedRefs conditions as data. Pure: the same input gives the same output.
 */
export function resolvePolicies(input: TranslationInput, memo?: ResolveMemo): Resolution {
  memo?.begin();
  const candidates = input.policies.map((raw) => (memo ? memo.candidate(raw, candidateOf) : candidateOf(raw))).filter((c): c is Candidate => c !== undefined);
  const ordered = [...candidates].sort(byAge);
  const owner = new Map<string, string>(); // sidecar node id → policy key
  const lookups = lookupsOf(input, memo);
  const results: ResolvedPolicy[] = [];

  for (const candidate of ordered) {
    const namespace = namespaceOf(candidate.meta);
    const base = { namespace, name: candidate.meta.name, generation: candidate.meta.generation ?? 0 };
    if (!candidate.parsed) {
      results.push({
        ...base,
        accepted: { status: "False", reason: AcceptedReason.Invalid, message: `The policy is invalid: ${candidate.issues ?? "unknown error"}` },
        resolvedRefs: { status: "False", reason: AcceptedReason.Invalid, message: "References are not resolved for an invalid policy." },
        warnings: warningsCondition([]),
        targets: [],
        governed: [],
        held: [],
        inlineJwks: {},
      });
      continue;
    }
    try {
      results.push(resolveValid({ ...base, candidate, parsed: candidate.parsed, owner, lookups, input, memo }));
    } catch (error) {
      // One policy's failure stays in its status: its pods are released (they keep their last
      // good configuration, as an invalid policy's do) and the others are resolved as usual.
      for (const [id, key] of owner) if (key === candidate.key) owner.delete(id);
      results.push({
        ...base,
        accepted: translationFailed("resolving its targets and references", error, 0),
        resolvedRefs: { status: "False", reason: AcceptedReason.TranslationFailed, message: "References are not resolved for a policy whose translation failed." },
        warnings: warningsCondition([]),
        targets: [],
        governed: [],
        held: [],
        inlineJwks: {},
      });
    }
  }
  memo?.end();

  holdPodsOfInvalidPolicies({ results, candidates, input, owner });

  const passthroughPods = input.pods.filter((p) => podSidecarPorts(p) && !owner.has(sidecarNodeId(p)));
  const byNamespace = new Map<string, PodObject[]>();
  for (const pod of passthroughPods) {
    const list = byNamespace.get(namespaceOf(pod.metadata));
    if (list) list.push(pod);
    else byNamespace.set(namespaceOf(pod.metadata), [pod]);
  }
  const passthrough = [...byNamespace.entries()].sort(([a], [b]) => compareStrings(a, b)).flatMap(([namespace, pods]) => groupByPorts(pods).map((g) => ({ namespace, ...g })));

  return {
    policies: sortedByKey(results),
    passthrough,
    meshServices: meshServices(input.services, lookups.podIndex, memo),
    now: input.now,
    ...nextTimeDrivenChange(results, input.now),
  };
}

/** Pods selected only by invalid policies keep their last good configuration. */
function holdPodsOfInvalidPolicies(options: { results: ResolvedPolicy[]; candidates: readonly Candidate[]; input: TranslationInput; owner: Map<string, string> }): void {
  const { results, candidates, input, owner } = options;
  for (const result of results) {
    if (result.policy) continue;
    const candidate = candidates.find((c) => c.key === `${result.namespace}/${result.name}`);
    const raw = candidate?.raw as { spec?: { targetRefs?: { name?: string }[]; podSelector?: { matchLabels?: Record<string, string> } } } | undefined;
    const selectors: Record<string, string>[] = [];
    for (const ref of raw?.spec?.targetRefs ?? []) {
      const service = input.services.find((s) => s.metadata.name === ref.name && namespaceOf(s.metadata) === result.namespace);
      if (service?.spec?.selector) selectors.push(service.spec.selector);
    }
    if (raw?.spec?.podSelector?.matchLabels) selectors.push(raw.spec.podSelector.matchLabels);
    const held = new Set<string>();
    for (const selector of selectors) {
      for (const pod of selectPods(input.pods, result.namespace, selector)) {
        const id = sidecarNodeId(pod);
        if (podSidecarPorts(pod) && !owner.has(id)) held.add(id);
      }
    }
    result.held = [...held].sort();
    for (const id of held) owner.set(id, `${result.namespace}/${result.name}`);
    if (held.size > 0) result.accepted.message += ` ${held.size} sidecar(s) keep their last good configuration.`;
  }
}

/** The earliest sunset after `now` among the valid policies (an invalid one's output does not change with time). */
function nextTimeDrivenChange(results: readonly ResolvedPolicy[], now: string): Pick<Resolution, "nextChange"> {
  const nextChange = results
    .map((result) => nextSunset(result.policy?.spec.mobile?.deprecations, now))
    .filter((t): t is string => t !== undefined)
    .sort(compareStrings)[0];
  return nextChange ? { nextChange } : {};
}
