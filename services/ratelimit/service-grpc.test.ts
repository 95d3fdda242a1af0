import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "./memory-store.js";
import { genericRateLimitService, ratelimitServices, type RateLimitRequestMessage, type RateLimitResponseMessage } from "./protocol.js";
import { RateLimitGrpcService } from "./service.js";
import type { CounterStore } from "./store.js";
import { rawGrpcMethod } from "../../test/support/raw-grpc-method.js";

type Call = (request: unknown, metadata: Metadata, callback: (error: ServiceError | null, response?: unknown) => void) => void;
type RlsClient = Client & { ShouldRateLimit(request: RateLimitRequestMessage, callback: (error: ServiceError | null, response?: RateLimitResponseMessage) => void): void };

function ask(client: RlsClient, request: RateLimitRequestMessage): Promise<RateLimitResponseMessage> {
  return new Promise((resolve, reject) => client.ShouldRateLimit(request, (error, response) => (error ? reject(error) : resolve(response as RateLimitResponseMessage))));
}

describe("bulwark ratelimit's gRPC service (grpc-js, the Envoy protos' codec), called by @grpc/grpc-js", () => {
  const failing: CounterStore = { take: () => Promise.reject(new Error("store down")), add: () => Promise.resolve(), close: () => Promise.resolve() };
  let service: RateLimitGrpcService;
  let port: number;
  let client: RlsClient;
  let failingService: RateLimitGrpcService;
  let failingClient: RlsClient;
  const Rls = makeGenericClientConstructor(genericRateLimitService(), "RateLimitService");
  const limits = {
    byName: new Map([
      ["l", { name: "l", key: [{ kind: "header" as const, header: "x-d" }], requests: 2, windowSeconds: 60, shadow: false, failureMode: "Allow" as const, responseHeaders: true }],
    ]),
    countedByRoute: new Map(),
  };

  beforeAll(async () => {
    service = new RateLimitGrpcService({ store: new MemoryStore(), limits: () => limits, domain: "bulwark", log: pino({ level: "silent" }) });
    port = await service.start("127.0.0.1", 0);
    client = new Rls(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as RlsClient;
    failingService = new RateLimitGrpcService({ store: failing, limits: () => limits, domain: "bulwark", log: pino({ level: "silent" }) });
    failingClient = new Rls(`127.0.0.1:${await failingService.start("127.0.0.1", 0)}`, credentials.createInsecure()) as unknown as RlsClient;
  });

  afterAll(async () => {
    client.close();
    failingClient.close();
    await service.stop();
    await failingService.stop();
  });

  it("answers ShouldRateLimit, many calls at once on one connection", async () => {
    const entries = (d: string): { key: string; value: string }[] => [
      { key: "limit", value: "l" },
      { key: "header:x-d", value: d },
    ];
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(client, { domain: "bulwark", descriptors: [{ entries: entries(`d${i % 10}`) }] })));
    expect(answers.filter((a) => a.overall_code === "OK")).toHaveLength(20);
    expect(answers.filter((a) => a.overall_code === "OVER_LIMIT")).toHaveLength(10);
    const refused = answers.find((a) => a.overall_code === "OVER_LIMIT");
    expect(refused?.statuses).toEqual([{ code: "OVER_LIMIT", limit_remaining: 0, duration_until_reset: { seconds: expect.any(Number) as number } }]);
    expect(refused?.response_headers_to_add.map((h) => h.key)).toEqual(["RateLimit-Policy", "RateLimit", "Retry-After"]);
    // The decisions counter has every call by limit and result when /metrics reads it.
    const text = await service.metrics.registry.metrics();
    expect(text).toContain('bulwark_ratelimit_decisions_total{limit="l",result="ok"} 20');
    expect(text).toContain('bulwark_ratelimit_decisions_total{limit="l",result="over_limit"} 10');
    // Unknown limits and other domains are allowed.
    expect((await ask(client, { domain: "other", descriptors: [{ entries: entries("x") }] })).overall_code).toBe("OK");
    expect((await ask(client, { domain: "bulwark", descriptors: [{ entries: [{ key: "limit", value: "nope" }] }] })).overall_code).toBe("OK");
  });

  it("answers thousands of calls in flight at once on one connection", async () => {
    const calls = Array.from({ length: 3000 }, (_, i) =>
      ask(client, {
        domain: "bulwark",
        descriptors: [
          {
            entries: [
              { key: "limit", value: "l" },
              { key: "header:x-d", value: `burst-${i}` },
            ],
          },
        ],
      }),
    );
    const answers = await Promise.all(calls);
    expect(answers.every((a) => a.overall_code === "OK")).toBe(true);
  });

  it("fails a call with UNAVAILABLE when the decision fails, and serves the next one", async () => {
    await expect(ask(failingClient, { domain: "bulwark", descriptors: [{ entries: [{ key: "limit", value: "l" }] }] })).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect((await ask(client, { domain: "bulwark", descriptors: [] })).overall_code).toBe("OK");
  });

  it("answers UNIMPLEMENTED for a method it does not serve, and INTERNAL (grpc-js's answer when a request cannot be deserialized) for bytes that are no request", async () => {
    const other = makeGenericClientConstructor(
      {
        Nope: rawGrpcMethod("/envoy.service.ratelimit.v3.RateLimitService/Nope"),
        Broken: rawGrpcMethod("/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"),
      },
      "Raw",
    );
    const raw = new other(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & { Nope: Call; Broken: Call };
    const call = (method: Call, body: Buffer): Promise<unknown> =>
      new Promise((resolve, reject) => method.call(raw, body, new Metadata(), (error, response) => (error ? reject(error) : resolve(response))));
    await expect(call(raw.Nope, Buffer.alloc(0))).rejects.toMatchObject({ code: status.UNIMPLEMENTED });
    await expect(call(raw.Broken, Buffer.from([0x0a, 0xff]))).rejects.toMatchObject({ code: status.INTERNAL });
    raw.close();
  });

  it("keeps the server's codec for ShouldRateLimit and the generic one for clients", () => {
    const method = ratelimitServices().rateLimit.ShouldRateLimit;
    expect(method?.requestSerialize).toBe(genericRateLimitService().ShouldRateLimit?.requestSerialize);
  });
});
