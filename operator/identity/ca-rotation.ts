import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { SecretObject } from "../resolve/objects.js";
import { caFromSecret } from "./ca-secret.js";
import { rootFingerprints } from "./trust-bundle.js";
import type { WorkloadCertificates } from "./workload-certificates.js";
import { errorMessage } from "../../common/errors.js";

export interface CaRotationOptions {
  /** The CA Secret (`tls.crt`, `tls.key`, optional `ca.crt`). */
  namespace: string;
  name: string;
  trustDomain: string;
  log: Logger;
}

export type CaObservation =
  /** The Secret holds the CA in use (or a change already handled). */
  | { kind: "unchanged" }
  /** A new CA was read and staged: its roots join the trust bundle; it issues after `activate`. */
  | { kind: "staged" }
  /** The Secret went back to the CA in use before the staged one issued: the staged roots leave the bundle. */
  | { kind: "unstaged" }
  /** The Secret is missing or unusable: the current CA stays, with this reason (`first`: not reported before). */
  | { kind: "refused"; message: string; first: boolean };

function fingerprint(secret: SecretObject): string {
  const data = secret.data ?? {};
  return createHash("sha256")
    .update(JSON.stringify([data["tls.crt"] ?? "", data["tls.key"] ?? "", data["ca.crt"] ?? ""]))
    .digest("hex");
}

/**
 * Follows the workload CA's Secret (the controller already watches Secrets): when a user or
 * cert-manager replaces the root, the new CA is staged (trust bundle = old and new roots), then,
 * once the sidecars have the bundle, activated (every certificate reissued by the new CA; the old
 * root trusted until its last certificate expires). A Secret that is missing or broken keeps the
 * current CA and is reported once.
 */
export class CaRotation {
  private seen: string | undefined;
  private reported: string | undefined;
  private bundleMemo: { pem: string; roots: string[] } | undefined;

  constructor(
    private readonly certificates: WorkloadCertificates,
    private readonly options: CaRotationOptions,
  ) {}

  async observe(secrets: readonly SecretObject[]): Promise<CaObservation> {
    const where = `${this.options.namespace}/${this.options.name}`;
    const secret = secrets.find((s) => s.metadata.name === this.options.name && (s.metadata.namespace ?? "default") === this.options.namespace);
    if (!secret) return this.refuse("missing", `the workload CA Secret ${where} is gone; the current CA keeps issuing until it is back`);
    const print = fingerprint(secret);
    if (print === this.seen) return { kind: "unchanged" };
    let ca;
    try {
      ca = await caFromSecret(secret as V1Secret, this.options.trustDomain);
    } catch (error) {
      return this.refuse(print, `the workload CA Secret ${where} is not usable, so the current CA keeps issuing: ${errorMessage(error)}`);
    }
    const current = this.certificates.current;
    if (ca.certificatePem === current.certificatePem && ca.privateKeyPem === current.privateKeyPem && ca.trustBundlePem === current.trustBundlePem) {
      this.seen = print;
      this.reported = undefined;
      if (!this.certificates.hasStaged()) return { kind: "unchanged" };
      this.certificates.unstage();
      this.options.log.info({ secret: where }, "the workload CA Secret is back to the CA in use: the staged CA is withdrawn before it issued");
      return { kind: "unstaged" };
    }
    try {
      this.certificates.stage(ca);
    } catch (error) {
      return this.refuse(print, `the workload CA Secret ${where} is not usable, so the current CA keeps issuing: its trust bundle cannot be read (${errorMessage(error)})`);
    }
    this.seen = print;
    this.reported = undefined;
    this.options.log.info(
      { secret: where, notAfter: ca.notAfter.toISOString() },
      "the workload CA changed: its roots join the trust bundle; certificates are reissued once the sidecars have it",
    );
    return { kind: "staged" };
  }

  /** True while a new CA waits for the sidecars to have its roots. */
  pending(): boolean {
    return this.certificates.hasStaged();
  }

  /** Fingerprints of the staged CA's roots (empty when none is staged): what every peer must trust before it issues. */
  stagedRoots(): string[] {
    const pem = this.certificates.stagedTrustBundlePem;
    return pem ? rootFingerprints(pem) : [];
  }

  /** Fingerprints of the roots in the trust bundle served now. */
  bundleRoots(): string[] {
    const pem = this.certificates.trustBundlePem;
    if (this.bundleMemo?.pem !== pem) this.bundleMemo = { pem, roots: rootFingerprints(pem) };
    return this.bundleMemo.roots;
  }

  /** The new CA takes over: every certificate is reissued at the next reconcile. */
  activate(now: Date): void {
    if (!this.certificates.hasStaged()) return;
    this.certificates.activate(now);
    this.options.log.info({ secret: `${this.options.namespace}/${this.options.name}` }, "the new workload CA issues now; the old root stays trusted until its certificates expire");
  }

  private refuse(key: string, message: string): CaObservation {
    const first = this.reported !== key;
    if (first) this.options.log.error({ secret: `${this.options.namespace}/${this.options.name}` }, message);
    this.reported = key;
    return { kind: "refused", message, first };
  }

  /** The Secret, as the Event about it names it. */
  get secret(): { namespace: string; name: string } {
    return { namespace: this.options.namespace, name: this.options.name };
  }
}
