import { once } from "node:events";
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ReplyDeadline, ReplyTimeoutError } from "./reply-deadline.js";

/** Keeps the event loop busy (a long garbage collection, a descheduled process). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** A connected pair of sockets in this process. */
async function socketPair(): Promise<{ server: Server; near: Socket; far: Socket }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("no port");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const near = connect(address.port, "127.0.0.1");
  await once(near, "connect");
  const [far] = await accepted;
  return { server, near, far };
}

describe("the deadline of a store's replies", () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it("uses a reply that arrived while the event loop was busy past the deadline (a per-command timer alone fails it)", async () => {
    const { server, near, far } = await socketPair();
    cleanup.push(() => (near.destroy(), far.destroy(), server.close()));
    const deadline = new ReplyDeadline(20);
    cleanup.push(() => deadline.close());

    const reply = once(near, "data").then(([b]) => String(b as Buffer));
    const guarded = deadline.within(reply);
    // What a timer per command does: the timer's phase runs before the loop reads the socket.
    let timerFired = false;
    let replyRead = false;
    void reply.then(() => (replyRead = true));
    setTimeout(() => (timerFired = !replyRead), 20);
    far.write("pong"); // in the socket at once
    busy(80);
    await expect(guarded).resolves.toBe("pong");
    expect(timerFired).toBe(true);
  });

  it("fails a command without a reply after the timeout, in order, and ignores a reply that comes later", async () => {
    const deadline = new ReplyDeadline(30);
    cleanup.push(() => deadline.close());
    let answer: (v: string) => void = () => undefined;
    const late = new Promise<string>((r) => (answer = r));
    const started = performance.now();
    const first = deadline.within(late);
    await new Promise((r) => setTimeout(r, 10));
    const second = deadline.within(new Promise<string>(() => undefined));
    const quick = deadline.within(Promise.resolve("quick"));
    await expect(quick).resolves.toBe("quick");
    await expect(first).rejects.toBeInstanceOf(ReplyTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    answer("too late");
    await expect(second).rejects.toThrow(/within 30 ms/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
    expect(deadline.waiting).toBe(0);
  });

  it("passes a store's own failure through", async () => {
    const deadline = new ReplyDeadline(1000);
    cleanup.push(() => deadline.close());
    await expect(deadline.within(Promise.reject(new Error("READONLY")))).rejects.toThrow("READONLY");
  });
});
