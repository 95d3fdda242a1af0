import type { NamedResource } from "../../envoy/translate/resources.js";
import { NAMES } from "../../envoy/translate/resources.js";
import type { IssuedCertificate, WorkloadCa } from "./ca.js";
import { needsRenewal, renewalTime, type RotationPolicy } from "./rotation.js";
import { trustBundleSecret, workloadCertificateSecret } from "./sds.js";
import { identityKey, type WorkloadIdentity } from "./spiffe.js";

/** What the controller asks of the workload CA: the SDS secrets of a sidecar, and when to come back. */
export interface SidecarCertificates {
  /** The secrets named in `names` (`workload-cert`, `trust-bundle`) for a sidecar of `identity`, renewed when due at `now`. */
  secretsFor(identity: WorkloadIdentity, names: ReadonlySet<string>, now: Date): Promise<NamedResource[]>;
  /** The earliest renewal among the certificates in use; undefined when none is. */
  nextRenewal(): Date | undefined;
  /** Forgets the certificates of identities no sidecar has any more. */
  retain(identities: ReadonlySet<string>): void;
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
  private readonly bundle: NamedResource;

  constructor(
    private readonly ca: WorkloadCa,
    private readonly options: WorkloadCertificatesOptions,
  ) {
    this.bundle = trustBundleSecret(ca.trustBundlePem);
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
