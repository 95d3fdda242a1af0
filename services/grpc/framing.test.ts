import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { frameMessage, MessageReader } from "./framing.js";
import { GrpcStatus } from "./status.js";

/** Cuts `bytes` at the given offsets. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  return out;
}

function readAll(reader: MessageReader, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) reader.push(c, out);
  return out;
}

describe("gRPC message framing", () => {
  it("reads back every message framed, however the stream is cut into chunks", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.map((m) => frameMessage(m)));
        const reader = new MessageReader(1000);
        const read = readAll(reader, chunked(wire, cuts));
        expect(read.map((m) => [...m])).toEqual(messages.map((m) => [...m]));
        expect(reader.atBoundary).toBe(true);
        expect(reader.pending).toBe(0);
      }),
    );
  });

  it("writes the 5-byte header: flag 0, big-endian length", () => {
    expect([...frameMessage(Uint8Array.from([7, 8, 9]))]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
    expect([...frameMessage(new Uint8Array())]).toEqual([0, 0, 0, 0, 0]);
  });

  it("knows when the stream stopped inside a message", () => {
    const reader = new MessageReader(100);
    const out: Buffer[] = [];
    reader.push(frameMessage(Uint8Array.from([1, 2, 3])).subarray(0, 6), out);
    expect(out).toEqual([]);
    expect(reader.atBoundary).toBe(false);
    reader.push(Buffer.from([0, 0]), out);
    expect(reader.atBoundary).toBe(true);
    expect(reader.pending).toBe(0);
  });

  it("refuses a message longer than the limit from its header, before holding its body", () => {
    const reader = new MessageReader(1024);
    const header = Buffer.from([0, 0xff, 0xff, 0xff, 0xff]);
    expect(() => reader.push(header, [])).toThrow(expect.objectContaining({ code: GrpcStatus.RESOURCE_EXHAUSTED }) as Error);
    const exact = new MessageReader(4);
    const out: Buffer[] = [];
    exact.push(frameMessage(Uint8Array.from([1, 2, 3, 4])), out);
    expect(out).toHaveLength(1);
    expect(() => exact.push(Buffer.from([0, 0, 0, 0, 5]), [])).toThrow(expect.objectContaining({ code: GrpcStatus.RESOURCE_EXHAUSTED }) as Error);
  });

  it("refuses compressed messages (no encoding is ever negotiated) and unknown flags", () => {
    expect(() => new MessageReader(100).push(Buffer.from([1, 0, 0, 0, 1, 9]), [])).toThrow(expect.objectContaining({ code: GrpcStatus.INTERNAL }) as Error);
    expect(() => new MessageReader(100).push(Buffer.from([0x80, 0, 0, 0, 0]), [])).toThrow(expect.objectContaining({ code: GrpcStatus.INTERNAL }) as Error);
  });

  it("never throws anything but a gRPC status on arbitrary bytes, and holds at most one message", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const reader = new MessageReader(16);
        try {
          for (const c of chunks) {
            reader.push(Buffer.from(c), []);
            expect(reader.pending).toBeLessThanOrEqual(16 + 5 + 64);
          }
        } catch (error) {
          expect([GrpcStatus.INTERNAL, GrpcStatus.RESOURCE_EXHAUSTED]).toContain((error as { code?: number }).code);
        }
      }),
    );
  });
});
