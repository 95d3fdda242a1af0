import type { NamedResource } from "../../envoy/build/resources.js";
import { NAMES } from "../../envoy/build/resources.js";
import type { IssuedCertificate, WorkloadCa } from "./ca.js";
import { needsRenewal, renewalTime, type RotationPolicy } from "./rotation.js";
import { trustBundleSecret, workloadCertificateSecret } from "./sds.js";
import { identityKey, type WorkloadIdentity } from "./spiffe.js";
import { mergeTrustBundles } from "./trust-bundle.js";

/** What the controller asks of the workload CA: the SDS secrets of a sidecar, and when to come back. */
export interface SidecarCertificates {
  /** The secrets named in `names` (`workload-cert`, `trust-bundle`) for a sidecar of `identity`, renewed when due at `now`. */
  secretsFor(identity: WorkloadIdentity, names: ReadonlySet<string>, now: Date): Promise<NamedResource[]>;
  /** The earliest renewal among the certificates in use; undefined when none is. */
  nextRenewal(): Date | undefined;
  /** Forgets the certificates of identities no sidecar has any more. */
  retain(identities: ReadonlySet<string>): void;
}

/** A root that signed certificates still in use: peers keep trusting it until they expire. */
interface RetiredRoots {
  trustBundlePem: string;
  until: Date;
}

export interface WorkloadCertificatesOptions {
  rotation: RotationPolicy;
  /** Called after each issuance (logs, metrics). */
  onIssued?: (issued: IssuedCertificate, renewal: boolean) => void;
}

/**
 * One short-lived certificate per workload identity (namespace and service account), shared by
 * its sidecars, issued on first use and renewed once `rotation.renewAfter` of its lifetime has
 * passed — well before it expires, so a controller outage of up to a third of the lifetime
 * leaves every sidecar with a valid certificate.
 */
export class WorkloadCertificates implements SidecarCertificates {
  private readonly issued = new Map<string, { certificate: IssuedCertificate; secret: NamedResource }>();
  private bundle: NamedResource;
  /** A new CA whose roots peers are learning; it issues nothing until `activate`. */
  private staged: WorkloadCa | undefined;
  private retired: RetiredRoots[] = [];

  constructor(
    private ca: WorkloadCa,
    private readonly options: WorkloadCertificatesOptions,
  ) {
    this.bundle = trustBundleSecret(ca.trustBundlePem);
  }

  /** The CA that issues now. */
  get current(): WorkloadCa {
    return this.ca;
  }

  /** The roots sidecars trust now (PEM). */
  get trustBundlePem(): string {
    const bundle = this.bundle.resource.validation_context as { trusted_ca: { inline_string: string } };
    return bundle.trusted_ca.inline_string;
  }

  /** The trust bundle of these CAs; throws (changing nothing) when a bundle cannot be read. */
  private static bundleOf(ca: WorkloadCa, staged: WorkloadCa | undefined, retired: readonly RetiredRoots[]): NamedResource {
    return trustBundleSecret(mergeTrustBundles(ca.trustBundlePem, ...(staged ? [staged.trustBundlePem] : []), ...retired.map((r) => r.trustBundlePem)));
  }

  private rebuildBundle(): void {
    this.bundle = WorkloadCertificates.bundleOf(this.ca, this.staged, this.retired);
  }

  /**
   * Step one of a CA rotation: peers are to trust the new roots as well as the current ones
   * before any certificate of the new CA exists, so no peer ever sees a certificate it cannot
   * verify. The current CA keeps issuing.
   */
  stage(next: WorkloadCa): void {
    // The bundle first: a root that cannot be read leaves everything as it was.
    const bundle = WorkloadCertificates.bundleOf(this.ca, next, this.retired);
    this.staged = next;
    this.bundle = bundle;
  }

  /** A staged CA withdrawn before it issued (its Secret went back to the CA in use): its roots leave the bundle. */
  unstage(): void {
    if (!this.staged) return;
    this.staged = undefined;
    this.rebuildBundle();
  }

  /** The roots of the staged CA (PEM), while one waits to issue. */
  get stagedTrustBundlePem(): string | undefined {
    return this.staged?.trustBundlePem;
  }

  /** True between `stage` and `activate`. */
  hasStaged(): boolean {
    return this.staged !== undefined;
  }

  /**
   * Step two, once peers have the new roots: the new CA issues every certificate again (on the
   * next `secretsFor`), and the old roots stay trusted until the certificates they signed expire.
   */
  activate(now: Date): void {
    const next = this.staged;
    if (!next) return;
    let until = now;
    for (const { certificate } of this.issued.values()) if (certificate.notAfter > until) until = certificate.notAfter;
    const retired = until > now ? [...this.retired, { trustBundlePem: this.ca.trustBundlePem, until }] : this.retired;
    // The bundle first (stage() has read these roots already): nothing changes unless all of it does.
    const bundle = WorkloadCertificates.bundleOf(next, undefined, retired);
    this.retired = retired;
    this.ca = next;
    this.staged = undefined;
    this.issued.clear();
    this.bundle = bundle;
  }

  /** Drops retired roots whose certificates have all expired. */
  private expireRetired(now: Date): void {
    const kept = this.retired.filter((r) => r.until > now);
    if (kept.length === this.retired.length) return;
    this.retired = kept;
    this.rebuildBundle();
  }

  /** The current certificate of `identity`, issued or renewed when due. */
  async certificateFor(identity: WorkloadIdentity, now: Date): Promise<IssuedCertificate> {
    const key = identityKey(identity);
    const current = this.issued.get(key);
    if (current && !needsRenewal(current.certificate, now, this.options.rotation)) return current.certificate;
    const certificate = await this.ca.issue(identity, now, this.options.rotation);
    this.issued.set(key, { certificate, secret: workloadCertificateSecret(certificate) });
    this.options.onIssued?.(certificate, current !== undefined);
    return certificate;
  }

  async secretsFor(identity: WorkloadIdentity, names: ReadonlySet<string>, now: Date): Promise<NamedResource[]> {
    this.expireRetired(now);
    const out: NamedResource[] = [];
    if (names.has(NAMES.workloadCertificate)) {
      await this.certificateFor(identity, now);
      const entry = this.issued.get(identityKey(identity));
      if (entry) out.push(entry.secret);
    }
    if (names.has(NAMES.trustBundle)) out.push(this.bundle);
    return out;
  }

  nextRenewal(): Date | undefined {
    let next: Date | undefined;
    for (const r of this.retired) if (!next || r.until < next) next = r.until;
    for (const { certificate } of this.issued.values()) {
      const at = renewalTime(certificate.issuedAt, certificate.notAfter, this.options.rotation);
      if (!next || at < next) next = at;
    }
    return next;
  }

  retain(identities: ReadonlySet<string>): void {
    for (const key of this.issued.keys()) if (!identities.has(key)) this.issued.delete(key);
  }
}
