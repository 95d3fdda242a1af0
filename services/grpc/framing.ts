import { GrpcError, GrpcStatus } from "./status.js";

/**
 * gRPC's length-prefixed messages on an HTTP/2 stream: each message is a 1-byte flag (0: as is,
 * 1: compressed with the stream's grpc-encoding), a 4-byte big-endian length, then that many
 * bytes (protobuf, read and written by protobufjs elsewhere: this file never looks inside).
 */
export const FRAME_HEADER_BYTES = 5;

/** One message framed for the wire, uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Splits the bytes of a request stream into messages, whatever the chunking. A message longer
 * than `maxMessageBytes` is refused from its header (RESOURCE_EXHAUSTED) before any of its body
 * is held; a compressed message (flag 1) is refused (INTERNAL: this server never advertises an
 * encoding, so a client may not compress), as is any other flag. Holds at most one partial
 * message (≤ maxMessageBytes + 5 bytes).
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private held = 0;
  /** Length of the message whose header was read; -1 while reading a header. */
  private need = -1;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held of a message not complete yet. */
  get pending(): number {
    return this.held;
  }

  /** True between messages: the stream may end here. */
  get atBoundary(): boolean {
    return this.held === 0 && this.need < 0;
  }

  /** Appends `chunk`; pushes every message it completes (payloads, in order) to `out`. */
  push(chunk: Buffer, out: Buffer[]): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.held += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.held < FRAME_HEADER_BYTES) return;
        const header = this.take(FRAME_HEADER_BYTES);
        const flag = header[0];
        const length = header.readUInt32BE(1);
        if (flag === 1) throw new GrpcError(GrpcStatus.INTERNAL, "compressed message, but no message encoding was negotiated");
        if (flag !== 0) throw new GrpcError(GrpcStatus.INTERNAL, `invalid message flag ${flag}`);
        if (length > this.maxMessageBytes) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes is larger than the limit of ${this.maxMessageBytes}`);
        this.need = length;
      }
      if (this.held < this.need) return;
      out.push(this.take(this.need));
      this.need = -1;
    }
  }

  /** The next n held bytes (n ≤ held), without copying when one chunk has them all. */
  private take(n: number): Buffer {
    this.held -= n;
    const first = this.chunks[0] as Buffer;
    if (n === 0) return Buffer.alloc(0);
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0] as Buffer;
      const part = Math.min(c.length, n - at);
      c.copy(out, at, 0, part);
      at += part;
      if (part === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part);
    }
    return out;
  }
}
