import { connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { connect as tlsConnect } from "node:tls";
import { STREAM_ACCESS_LOGS_PATH } from "../../contract/wire.js";
import { frameMessage } from "../../services/grpc/framing.js";

/** Opens one StreamAccessLogs call on `session` (with `authorization: Bearer <token>` when given), reading its answer as it comes; stream errors are left to the caller's close and status handling. */
export function openAccessLogCall(session: ClientHttp2Session, token?: string): ClientHttp2Stream {
  const call = session.request({
    ":method": "POST",
    ":path": STREAM_ACCESS_LOGS_PATH,
    "content-type": "application/grpc",
    te: "trailers",
    ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
  });
  call.on("error", () => undefined);
  call.resume();
  return call;
}

/**
 * One AccessLogService/StreamAccessLogs call as a raw gRPC client over node:http2: sends
 * `messages`, ends its side, and resolves with the call's grpc-status and grpc-message. With `tls`
 * the connection is TLS (the receiver's certificate checked against `caPem` for `serverName`);
 * with `token` the call carries `authorization: Bearer <token>`.
 */
export interface TelemetryCallResult {
  status: string | undefined;
  message: string | undefined;
}

export function streamAccessLogs(options: { port: number; messages: Uint8Array[]; token?: string; tls?: { caPem: string; serverName: string } }): Promise<TelemetryCallResult> {
  const tls = options.tls;
  const session = tls
    ? connect(`https://${tls.serverName}:${options.port}`, {
        createConnection: () => tlsConnect({ host: "127.0.0.1", port: options.port, ca: tls.caPem, servername: tls.serverName, ALPNProtocols: ["h2"] }),
      })
    : connect(`http://127.0.0.1:${options.port}`);
  return new Promise((resolve) => {
    let status: string | undefined;
    let message: string | undefined;
    const settle = (): void => {
      session.close();
      resolve({ status, message });
    };
    session.on("error", (error: Error) => {
      message ??= error.message;
      settle();
    });
    const call = openAccessLogCall(session, options.token);
    const read = (h: Record<string, unknown>): void => {
      if (typeof h["grpc-status"] === "string") status = h["grpc-status"];
      if (typeof h["grpc-message"] === "string") message = decodeURIComponent(h["grpc-message"]);
    };
    call.on("response", read);
    call.on("trailers", read);
    call.on("close", settle);
    for (const m of options.messages) call.write(frameMessage(m));
    call.end();
  });
}
