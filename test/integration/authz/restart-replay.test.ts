/**
 * DPoP replays across restarts, through real processes: a real Envoy (rendered from the policy by
 * the same translation as the controller's) in front of a tiny app, calling `bulwark authz` as a
 * process (reading the policy from files) that is killed and started again on the same port, with
 * its in-memory replay cache and with a real redis-server that is restarted empty (no
 * persistence, as the chart's). A proof used before the restart must not pass once more after it,
 * and each outage fails closed (503) while it lasts.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { render } from "../../../operator/translate/render.js";
import { freePort, type ManagedProcess } from "../../env/processes.js";
import { startRedis } from "../../env/redis.js";
import { DpopKey, TestIssuer } from "../../support/authz-client.js";
import { startAuthzProcess, type AuthzProcess } from "../../support/authz-process.js";
import { AUDIENCE, ATTESTER, authzPolicyInput, ISSUER } from "../../support/authz-policy.js";
import { httpRequest, startTinyApp, waitFor, type HttpAnswer, type TinyApp } from "../../support/e2e.js";
import { testEnvironment } from "../../support/environment.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";

const HOST = "shop.test";
const PATH = "/v1/users/alice/orders";

interface Stack {
  dir: string;
  grpcPort: number;
  listener: number;
  file: string;
  envoy: EnvoyProcess;
}

let idp: TestIssuer;
let phone: DpopKey;
let app: TinyApp;
const stacks: Stack[] = [];
const authzs: AuthzProcess[] = [];
const redises: ManagedProcess[] = [];

/** One Envoy whose ext_authz calls 127.0.0.1:grpcPort, and the policy's objects in a file for authz -f. */
async function stack(name: string): Promise<Stack> {
  const attester = await TestIssuer.create(ATTESTER);
  const dir = await mkdtemp(join(tmpdir(), `bulwark-${name}-`));
  const grpcPort = await freePort();
  const listener = await freePort();
  const input = authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks, ports: { sidecar: listener, app: app.port } });
  const file = join(dir, "objects.json");
  await writeFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: [...input.policies, ...input.services, ...input.pods, ...input.secrets] }));
  const settings: TranslationSettings = {
    authz: { host: "127.0.0.1", port: grpcPort, timeoutMs: 1000 },
    ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
    rateLimitDomain: "bulwark",
  };
  const workload = render(input, settings).workloads[0];
  if (!workload) throw new Error("no workload rendered");
  const envoy = await startEnvoy(standaloneBootstrap(workload.resources), `envoy-${name}`);
  const made = { dir, grpcPort, listener, file, envoy };
  stacks.push(made);
  return made;
}

async function authz(s: Stack, redisUrl?: string): Promise<AuthzProcess> {
  const started = await startAuthzProcess({ files: [s.file], grpcPort: s.grpcPort, ...(redisUrl ? { redisUrl } : {}) });
  authzs.push(started);
  return started;
}

/** A DPoP-bound token and a fresh proof for GET PATH. */
async function signed(): Promise<Record<string, string>> {
  const token = await idp.sign({ sub: "alice", cnf: { jkt: phone.jkt } }, { audience: AUDIENCE });
  const proof = await phone.proof({ htm: "GET", htu: `http://${HOST}${PATH}`, accessToken: token });
  return { authorization: `DPoP ${token}`, dpop: proof, "x-app-version": "4.3.0", "x-app-platform": "ios", host: HOST };
}

function send(s: Stack, headers: Record<string, string>): Promise<HttpAnswer> {
  return httpRequest(s.listener, PATH, { headers, timeoutMs: 5000 });
}

const outcome = (a: HttpAnswer): [number, unknown] => [a.status, a.headers["x-bulwark-reason"]];

/** Fresh proofs pass again once the proofs that predate the restart are out of the window (the clock skew, 5 s). */
async function freshProofsPass(s: Stack): Promise<void> {
  await waitFor("a fresh proof accepted", async () => ((await send(s, await signed())).status === 200 ? true : undefined), 20_000, 250);
}

describe("DPoP replays across restarts of authz and of Redis (real Envoy, authz and redis-server processes)", () => {
  beforeAll(async () => {
    idp = await TestIssuer.create(ISSUER);
    phone = await DpopKey.generate("ES256");
    app = await startTinyApp("shop");
  });

  afterAll(async () => {
    for (const a of authzs) await a.stop();
    for (const r of redises) await r.stop();
    for (const s of stacks) await s.envoy.stop();
    await app?.close();
  });

  it("a proof used before authz restarted (in-memory replay cache) is refused after it; 503 while authz is down", async () => {
    const s = await stack("restart-memory");
    const first = await authz(s);
    await freshProofsPass(s);
    const used = await signed();
    expect(outcome(await send(s, used))).toEqual([200, undefined]);
    expect(outcome(await send(s, used))).toEqual([401, "dpop_proof_replayed"]);

    await first.kill();
    const hits = app.requests;
    expect((await send(s, await signed())).status).toBe(503);
    expect((await send(s, used)).status).toBe(503);
    expect(app.requests).toBe(hits);

    await authz(s);
    expect(outcome(await send(s, used))).toEqual([401, "dpop_proof_predates_replay_cache"]);
    await freshProofsPass(s);
    expect(outcome(await send(s, used))).toEqual([401, "dpop_proof_replayed"]);
  });

  it("a proof used before Redis restarted empty is refused after it; 503 while Redis is down", async () => {
    const s = await stack("restart-redis");
    const redisDir = await mkdtemp(join(tmpdir(), "bulwark-redis-restart-"));
    const redisServer = testEnvironment().binaries.redisServer;
    const redis = await startRedis({ dir: redisDir, redisServer, keepAlive: false });
    redises.push(redis.process);
    const redisPort = Number(new URL(redis.url).port);
    await authz(s, redis.url);
    await freshProofsPass(s);
    const used = await signed();
    expect(outcome(await send(s, used))).toEqual([200, undefined]);
    expect(outcome(await send(s, used))).toEqual([401, "dpop_proof_replayed"]);

    await redis.process.stop();
    const hits = app.requests;
    expect(outcome(await send(s, await signed()))).toEqual([503, "replay_store_unavailable"]);
    expect(outcome(await send(s, used))).toEqual([503, "replay_store_unavailable"]);
    expect(app.requests).toBe(hits);

    const again = await startRedis({ dir: redisDir, redisServer, keepAlive: false, port: redisPort });
    redises.push(again.process);
    // authz reconnects by itself: the first answer that is not 503 shows it is back.
    const replayed = await waitFor(
      "authz to answer again",
      async () => {
        const answer = await send(s, used);
        return answer.status === 503 ? undefined : answer;
      },
      20_000,
      100,
    );
    expect(outcome(replayed)).toEqual([401, "dpop_proof_predates_replay_cache"]);
    await freshProofsPass(s);
    expect(outcome(await send(s, used))).toEqual([401, "dpop_proof_replayed"]);
  });
});
