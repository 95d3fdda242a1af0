import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { certificateThumbprint, checkCertificateBinding } from "./certificate-binding.js";

function selfSigned(dir: string, name: string): string {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      join(dir, `${name}.crt`),
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
    ],
    { stdio: "ignore" },
  );
  return readFileSync(join(dir, `${name}.crt`), "utf8");
}

function outcome(d: ReturnType<typeof checkCertificateBinding>): string {
  return d === undefined ? "allowed" : d.allowed ? "allowed" : `${d.status} ${d.reason}`;
}

describe("certificate-bound tokens (RFC 8705)", () => {
  let mine: string;
  let theirs: string;
  let x5t: string;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-authz-certs-"));
    mine = selfSigned(dir, "mine");
    theirs = selfSigned(dir, "theirs");
    x5t = createHash("sha256").update(new X509Certificate(mine).raw).digest("base64url");
  });

  it("thumbprints the DER certificate", () => {
    expect(certificateThumbprint(mine)).toBe(x5t);
    expect(certificateThumbprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")).toBeUndefined();
  });

  it("allows the token with the connection's certificate", () => {
    expect(outcome(checkCertificateBinding({ payload: { cnf: { "x5t#S256": x5t } }, peerCertificate: mine, required: true }))).toBe("allowed");
  });

  it.each([
    ["another certificate", () => ({ payload: { cnf: { "x5t#S256": x5t } }, peerCertificate: theirs, required: true }), "401 certificate_mismatch"],
    ["no certificate", () => ({ payload: { cnf: { "x5t#S256": x5t } }, peerCertificate: undefined, required: true }), "401 certificate_missing"],
    ["a broken certificate", () => ({ payload: { cnf: { "x5t#S256": x5t } }, peerCertificate: "garbage", required: true }), "401 certificate_malformed"],
    ["an unbound token", () => ({ payload: { sub: "a" }, peerCertificate: mine, required: true }), "401 certificate_token_not_bound"],
    ["a jkt-bound token", () => ({ payload: { cnf: { jkt: "abc" } }, peerCertificate: mine, required: true }), "401 certificate_token_not_bound"],
    ["no token", () => ({ payload: undefined, peerCertificate: mine, required: true }), "401 token_missing"],
    [
      "a bound token with another certificate where binding is optional",
      () => ({ payload: { cnf: { "x5t#S256": x5t } }, peerCertificate: theirs, required: false }),
      "401 certificate_mismatch",
    ],
  ])("refuses %s", (_name, make, expected) => {
    expect(outcome(checkCertificateBinding(make()))).toBe(expected);
  });

  it("lets an unbound token through where binding is optional", () => {
    expect(outcome(checkCertificateBinding({ payload: { sub: "a" }, peerCertificate: undefined, required: false }))).toBe("allowed");
  });
});
