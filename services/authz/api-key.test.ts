import { describe, expect, it } from "vitest";
import type { ApiKeysIR } from "../../contract/ir.js";
import { apiKeyClients, apiKeyDigest } from "../../operator/resolve/api-keys.js";
import { checkApiKey } from "./api-key.js";

const config: ApiKeysIR = {
  header: "x-api-key",
  clientHeader: "x-api-client",
  clients: [
    { name: "acme-logistics", sha256: apiKeyDigest("acme-0123456789abcdef") },
    { name: "globex", sha256: apiKeyDigest("globex-0123456789abcdef") },
  ],
};

describe("checkApiKey", () => {
  it("names the client whose key the request carries, sets it for the backend and removes the key", () => {
    expect(checkApiKey({ "x-api-key": "globex-0123456789abcdef" }, config)).toEqual({
      client: "globex",
      setHeaders: [{ name: "x-api-client", value: "globex" }],
      removeHeaders: ["x-api-key"],
    });
  });

  it("refuses a missing, unknown, oversized or doubled key with 401 and a reason, never echoing the key", () => {
    const cases: [Record<string, string>, string][] = [
      [{}, "api_key_missing"],
      [{ "x-api-key": "" }, "api_key_missing"],
      [{ "x-api-key": "acme-0123456789abcdeX" }, "api_key_invalid"],
      [{ "x-api-key": "x".repeat(10_000) }, "api_key_invalid"],
      // The header sent twice arrives joined by a comma: it is no one's key.
      [{ "x-api-key": "acme-0123456789abcdef,globex-0123456789abcdef" }, "api_key_invalid"],
      // Another header carrying a key does not count.
      [{ authorization: "acme-0123456789abcdef" }, "api_key_missing"],
    ];
    for (const [headers, reason] of cases) {
      const decision = checkApiKey(headers, config);
      expect(decision).toMatchObject({ allowed: false, status: 401, reason });
      expect(JSON.stringify(decision)).not.toContain("0123456789abcdef");
    }
  });

  it("refuses every key when the Secret gave no clients, and fails closed without configuration", () => {
    expect(checkApiKey({ "x-api-key": "acme-0123456789abcdef" }, { ...config, clients: [] })).toMatchObject({ status: 401, reason: "api_key_invalid" });
    expect(checkApiKey({ "x-api-key": "acme-0123456789abcdef" }, undefined)).toMatchObject({ status: 503, reason: "config_not_loaded" });
  });
});

describe("apiKeyClients (the Secret, read during translation)", () => {
  const secret = (data: Record<string, string>): { metadata: { name: string; namespace: string }; stringData: Record<string, string> } => ({
    metadata: { name: "partner-keys", namespace: "shop" },
    stringData: data,
  });
  const read = (data: Record<string, string> | undefined): ReturnType<typeof apiKeyClients> =>
    apiKeyClients({ secrets: data ? [secret(data)] : [], namespace: "shop", name: "partner-keys" });

  it("keeps each client's name and the SHA-256 of its key, sorted, and never the key", () => {
    const result = read({ globex: "globex-0123456789abcdef", "acme-logistics": "acme-0123456789abcdef" });
    expect(result).toEqual({ ok: true, clients: [config.clients[0], config.clients[1]] });
    expect(JSON.stringify(result)).not.toContain("0123456789abcdef");
  });

  it("reports a missing Secret, an empty one, a short or comma key and two clients with one key, naming clients only", () => {
    expect(read(undefined)).toMatchObject({ ok: false, reason: "SecretNotFound" });
    expect(read({})).toMatchObject({ ok: false, reason: "InvalidSecret", message: expect.stringContaining("no entries") as unknown });
    for (const bad of ["short", "has,a,comma-0123456789", "has a space-0123456789"]) {
      const result = read({ acme: bad });
      expect(result).toMatchObject({ ok: false, reason: "InvalidSecret", message: expect.stringContaining("client acme") as unknown });
      expect(JSON.stringify(result)).not.toContain(bad);
    }
    expect(read({ a: "same-0123456789abcdef", b: "same-0123456789abcdef" })).toMatchObject({
      ok: false,
      message: expect.stringContaining("clients a and b have the same key") as unknown,
    });
  });
});
