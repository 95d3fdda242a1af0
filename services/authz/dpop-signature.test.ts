import fc from "fast-check";
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DpopKey, TestIssuer } from "../../test/support/authz-client.js";
import { checkDpop, type DpopConfig } from "./dpop.js";
import { DpopNonces } from "./dpop-nonce.js";
import { MemoryReplayStore } from "./replay-store.js";

/**
 * checkDpop verifies a proof's signature with node:crypto on the key jose imported; this checks
 * that it agrees with jose's own JWS verification (compactVerify) on valid proofs of every
 * algorithm and on proofs with any byte of the header, payload or signature changed, or with
 * the signature of another key or algorithm.
 */
const ALGORITHMS = ["ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256"];
const config: DpopConfig = { required: true, maxProofAgeSeconds: 60, algorithms: ALGORITHMS, requireNonce: false };
const URI = "https://api.example.com/v1/orders";
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

interface Client {
  key: DpopKey;
  token: string;
}

async function joseAccepts(proof: string): Promise<boolean> {
  try {
    const header = decodeProtectedHeader(proof);
    if (typeof header.alg !== "string" || !ALGORITHMS.includes(header.alg)) return false;
    await compactVerify(proof, await importJWK(header.jwk as JWK, header.alg), { algorithms: ALGORITHMS });
    return true;
  } catch {
    return false;
  }
}

describe("DPoP proof signatures: node:crypto on jose's key agrees with jose's compactVerify", () => {
  const clients: Client[] = [];

  beforeAll(async () => {
    const issuer = await TestIssuer.create("https://id.example.com/");
    for (const alg of ALGORITHMS) {
      const key = await DpopKey.generate(alg);
      clients.push({ key, token: await issuer.sign({ sub: "alice", cnf: { jkt: key.jkt } }, { audience: "shop" }) });
    }
  });

  async function oursAccepts(client: Client, proof: string): Promise<boolean> {
    const decision = await checkDpop(
      {
        method: "GET",
        scheme: "https",
        host: "api.example.com",
        path: "/v1/orders",
        headers: { authorization: `DPoP ${client.token}`, dpop: proof },
        jwtPayload: { sub: "alice", cnf: { jkt: client.key.jkt } },
      },
      config,
      { now: Date.now, replay: new MemoryReplayStore(Date.now, { rememberedSince: 0 }), nonces: new DpopNonces({ secret: "0123456789abcdef0123" }) },
    );
    return decision === undefined || decision.allowed;
  }

  it("accepts what jose accepts and refuses what jose refuses", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: ALGORITHMS.length - 1 }),
        fc.oneof(
          fc.constant({ kind: "none" as const }),
          fc.record({ kind: fc.constant("char" as const), segment: fc.nat({ max: 2 }), at: fc.nat(), char: fc.constantFrom(...BASE64URL) }),
          fc.record({ kind: fc.constant("signatureOf" as const), other: fc.nat({ max: ALGORITHMS.length - 1 }) }),
        ),
        async (index, mutation) => {
          const client = clients[index];
          if (!client) throw new Error("no client");
          let proof = await client.key.proof({ htm: "GET", htu: URI, accessToken: client.token });
          const parts = proof.split(".");
          if (mutation.kind === "char") {
            const part = parts[mutation.segment] ?? "";
            const at = mutation.at % part.length;
            parts[mutation.segment] = part.slice(0, at) + mutation.char + part.slice(at + 1);
          } else if (mutation.kind === "signatureOf") {
            const other = clients[mutation.other];
            if (!other) throw new Error("no client");
            const theirs = (await other.key.proof({ htm: "GET", htu: URI, accessToken: other.token })).split(".");
            parts[2] = theirs[2] ?? "";
          }
          proof = parts.join(".");
          const jose = await joseAccepts(proof);
          expect(await oursAccepts(client, proof), `${mutation.kind} ${ALGORITHMS[index] ?? ""}`).toBe(jose);
          if (mutation.kind === "none") expect(jose).toBe(true);
        },
      ),
      { numRuns: 400, seed: 9449 },
    );
  });
});
