import { describe, expect, it } from "vitest";
import type { JwksIR } from "../../contract/ir.js";
import { buildRouteTable } from "./config.js";
import { jwksInUse, KeySets } from "./keys.js";
import { translate } from "../../operator/translate/translate.js";
import { authzPolicyInput } from "../../test/support/authz-policy.js";
import { TestIssuer } from "../../test/support/authz-client.js";

const inline = (text: string): JwksIR => ({ kind: "inline", jwks: text });
const remote = (uri: string): JwksIR => ({ kind: "remote", uri, cacheSeconds: 60, cluster: { name: "jwks/h/443", host: "h", port: 443, tls: true } });

describe("KeySets", () => {
  it("keeps the key sets the table in use names, and forgets the rest (rotated inline sets, removed remote ones)", () => {
    const sets = new KeySets();
    const a = sets.keys(inline('{"keys":[]}'));
    sets.keys(inline('{"keys":[{"kty":"oct","k":"AA"}]}'));
    const idp = sets.keys(remote("https://id.example.com/jwks"));
    sets.keys(remote("https://old.example.com/jwks"));
    expect(sets.counts).toEqual({ inline: 2, remote: 2 });
    sets.retain([inline('{"keys":[]}'), remote("https://id.example.com/jwks")]);
    expect(sets.counts).toEqual({ inline: 1, remote: 1 });
    // Kept entries are the same resolvers (a remote cache keeps its last good keys).
    expect(sets.keys(inline('{"keys":[]}'))).toBe(a);
    expect(sets.keys(remote("https://id.example.com/jwks"))).toBe(idp);
    sets.retain([]);
    expect(sets.counts).toEqual({ inline: 0, remote: 0 });
  });

  it("finds the attestation key sets of a route table", async () => {
    const idp = await TestIssuer.create("https://id.example.com/");
    const attester = await TestIssuer.create("https://attest.example.com/");
    const table = buildRouteTable(translate(authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks })).ir);
    const texts = new Set(jwksInUse(table).map((j) => (j.kind === "inline" ? j.jwks : j.uri)));
    expect([...texts]).toEqual([JSON.stringify({ keys: attester.jwks.keys })]);
  });
});
