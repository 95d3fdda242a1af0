import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Server-issued DPoP nonces (RFC 9449 section 8) without shared state: a nonce is a time slot and
 * its HMAC, valid in its slot and the next one. Replicas that share the secret accept each
 * other's nonces.
 */
export class DpopNonces {
  private readonly secret: Buffer;

  constructor(options: { secret?: string | Buffer; slotSeconds?: number; now?: () => number } = {}) {
    this.secret = options.secret === undefined ? randomBytes(32) : Buffer.from(options.secret);
    if (this.secret.length < 16) throw new Error("the DPoP nonce secret must have at least 16 bytes");
    this.slotMs = (options.slotSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
  }

  private readonly slotMs: number;
  private readonly now: () => number;

  private mac(slot: number): string {
    return createHmac("sha256", this.secret).update(`dpop-nonce:${slot}`).digest("base64url");
  }

  current(): string {
    const slot = Math.floor(this.now() / this.slotMs);
    return `${slot.toString(36)}.${this.mac(slot)}`;
  }

  isValid(nonce: string): boolean {
    const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(nonce);
    if (!m?.[1] || !m[2]) return false;
    const slot = Number.parseInt(m[1], 36);
    const current = Math.floor(this.now() / this.slotMs);
    if (slot !== current && slot !== current - 1) return false;
    const expected = Buffer.from(this.mac(slot));
    const given = Buffer.from(m[2]);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
