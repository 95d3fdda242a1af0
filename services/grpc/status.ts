/**
 * gRPC status codes (the numbers of grpc/status/code.proto, which every gRPC implementation
 * shares) and the error a handler or the framing throws to end a call with one of them.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** Ends a call with `code` and `message` (sent percent-encoded in grpc-message). */
export class GrpcError extends Error {
  constructor(
    readonly code: GrpcStatusCode,
    message: string,
  ) {
    super(message);
    this.name = "GrpcError";
  }
}

/**
 * grpc-message's encoding (the gRPC HTTP/2 protocol): the UTF-8 bytes of the message, with each
 * byte outside printable ASCII (0x20–0x7E) and `%` written as `%XX`.
 */
export function percentEncode(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8"))
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

/** grpc-timeout (`<up to 8 digits><H|M|S|m|u|n>`) in milliseconds; undefined when absent or malformed. */
export function timeoutMs(header: string | string[] | undefined): number | undefined {
  if (typeof header !== "string") return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(header);
  if (!m) return undefined;
  const amount = Number(m[1]);
  const perUnit: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return amount * (perUnit[m[2] as string] as number);
}
