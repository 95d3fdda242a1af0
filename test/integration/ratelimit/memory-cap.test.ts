/**
 * The memory-only counters of `bulwark ratelimit` (the process, no Redis) under a flood of new
 * keys: they stay within --memory-counters, evictions are counted, and a client's spent budget
 * survives the flood (the flood's own counters, each spent once, are evicted first).
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genericRateLimitService, type RateLimitRequestMessage, type RateLimitResponseMessage } from "../../../services/ratelimit/protocol.js";
import { policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { freePort } from "../../env/processes.js";
import { startBulwark, type BulwarkProcess } from "../../support/e2e.js";

const CAP = 500;
const FLOOD = 5000;
const LIMIT = "apisecuritypolicy/shop/shop-api/rule/images/ratelimit/per-device";

type RlsClient = Client & { ShouldRateLimit(request: RateLimitRequestMessage, callback: (error: ServiceError | null, response?: RateLimitResponseMessage) => void): void };

let dir: string;
let ratelimit: BulwarkProcess;
let client: RlsClient;

function spend(device: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.ShouldRateLimit(
      {
        domain: "bulwark",
        descriptors: [
          {
            entries: [
              { key: "limit", value: LIMIT },
              { key: "header:x-device-id", value: device },
            ],
          },
        ],
      },
      (error, response) => (error ? reject(error) : resolve(response?.overall_code ?? "none")),
    ),
  );
}

describe("bulwark ratelimit's memory counters are capped (the process, --memory-counters)", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-ratelimit-cap-"));
    const objects = [
      policy({
        name: "shop-api",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          rules: [
            {
              name: "images",
              authentication: "None",
              match: { pathPrefix: "/v1/images/" },
              rateLimits: [{ name: "per-device", key: ["header:X-Device-Id"], limit: { requests: 4, per: "1h" } }],
            },
          ],
        },
      }),
      service("shop", "shop-api", { app: "shop" }),
      sidecarPod("shop", "shop-0", { app: "shop" }),
    ];
    await writeFile(join(dir, "objects.json"), JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    const grpcPort = await freePort();
    ratelimit = await startBulwark({
      command: "ratelimit",
      name: "ratelimit memory-cap",
      args: ["-f", join(dir, "objects.json"), "--grpc-address", `127.0.0.1:${grpcPort}`, "--memory-counters", String(CAP)],
    });
    const Rls = makeGenericClientConstructor(genericRateLimitService(), "RateLimitService");
    client = new Rls(`127.0.0.1:${grpcPort}`, credentials.createInsecure()) as unknown as RlsClient;
  });

  afterAll(async () => {
    client?.close();
    await ratelimit?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keeps a spent budget spent through a flood of new keys, holds at most the cap, and counts evictions", async () => {
    for (let i = 0; i < 4; i++) expect(await spend("victim")).toBe("OK");
    expect(await spend("victim")).toBe("OVER_LIMIT");
    for (let i = 0; i < FLOOD; i += 250) await Promise.all(Array.from({ length: 250 }, (_, j) => spend(`flood-${i + j}`)));
    expect(await ratelimit.metric("bulwark_ratelimit_memory_counters")).toBeLessThanOrEqual(CAP);
    expect(await ratelimit.metric("bulwark_ratelimit_memory_evictions_total")).toBeGreaterThanOrEqual(FLOOD - CAP);
    expect(await spend("victim")).toBe("OVER_LIMIT");
  });
});
