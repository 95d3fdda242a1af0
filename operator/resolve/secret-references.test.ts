import { describe, expect, it } from "vitest";
import { secretNamespaces } from "./secret-references.js";

describe("secretNamespaces", () => {
  it("names the namespaces of policies that name a Secret, and only those", () => {
    const policies: unknown[] = [
      { metadata: { namespace: "shop" }, spec: { authentication: { jwt: { providers: [{ jwks: { remote: { uri: "https://x/" } } }, { jwks: { secretRef: { name: "k" } } }] } } } },
      { metadata: { namespace: "attest" }, spec: { authentication: { appAttestation: { jwks: { secretRef: { name: "a" } } } } } },
      { metadata: { namespace: "partners" }, spec: { authentication: { apiKeys: { secretRef: { name: "partner-keys" } } } } },
      { metadata: { namespace: "remote-only" }, spec: { authentication: { jwt: { providers: [{ jwks: { remote: { uri: "https://x/" } } }] } } } },
      { metadata: { namespace: "no-auth" }, spec: {} },
      { metadata: { namespace: "public-tls" }, spec: { tls: { certificate: { secretRef: { name: "api-example-com-tls" } } } } },
      { metadata: { namespace: "mesh-tls" }, spec: { tls: { mtls: "Strict" } } },
      { metadata: {}, spec: { authentication: { jwt: { providers: [{ jwks: { secretRef: {} } }] } } } },
      { metadata: { namespace: "broken" }, spec: { authentication: { jwt: { providers: "not a list" } } } },
      null,
    ];
    expect([...secretNamespaces(policies)].sort()).toEqual(["attest", "default", "partners", "public-tls", "shop"]);
  });
});
