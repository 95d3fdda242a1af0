/** When a workload certificate is renewed: a fraction of its lifetime after issuance (2/3 by default). */
export interface RotationPolicy {
  /** Lifetime of a workload certificate, in milliseconds. */
  lifetimeMs: number;
  /** Fraction of the lifetime after which it is renewed, in (0, 1). */
  renewAfter: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { lifetimeMs: 24 * 3600 * 1000, renewAfter: 2 / 3 };

/** How far notBefore is set back for peers whose clock is behind: a tenth of the lifetime, at most a minute. */
export function backdateMs(lifetimeMs: number): number {
  return Math.min(60_000, Math.floor(lifetimeMs / 10));
}

/** The validity of a certificate issued at `issuedAt`. */
export function validity(issuedAt: Date, policy: RotationPolicy): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(issuedAt.getTime() - backdateMs(policy.lifetimeMs)), notAfter: new Date(issuedAt.getTime() + policy.lifetimeMs) };
}

/** When a certificate issued at `issuedAt` and valid until `notAfter` is to be replaced. */
export function renewalTime(issuedAt: Date, notAfter: Date, policy: RotationPolicy): Date {
  return new Date(issuedAt.getTime() + Math.floor((notAfter.getTime() - issuedAt.getTime()) * policy.renewAfter));
}

/** True when the certificate is due for renewal (or expired) at `now`. */
export function needsRenewal(certificate: { issuedAt: Date; notAfter: Date }, now: Date, policy: RotationPolicy): boolean {
  return now.getTime() >= renewalTime(certificate.issuedAt, certificate.notAfter, policy).getTime();
}

/** Parses a lifetime such as `24h`, `90m`, `30s`; undefined when malformed or not positive. */
export function parseDuration(value: string): number | undefined {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(value);
  if (!m?.[1] || !m[2]) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return n > 0 ? n * unit : undefined;
}
