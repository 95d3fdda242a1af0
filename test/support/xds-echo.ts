import { credentials, loadPackageDefinition, Server, ServerCredentials, type Client, type ServiceDefinition, type ServiceError } from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";

/** A tiny gRPC echo service (bulwark.test.Echo), defined with proto-loader, whose answers name the server. */
const ECHO_PROTO: Parameters<typeof fromJSON>[0] = {
  nested: {
    bulwark: {
      nested: {
        test: {
          nested: {
            EchoRequest: { fields: { message: { type: "string", id: 1 } } },
            EchoReply: { fields: { message: { type: "string", id: 1 }, server: { type: "string", id: 2 } } },
            Echo: { methods: { Echo: { requestType: "EchoRequest", responseType: "EchoReply", comment: "Answers the message and the name of the server." } } },
          },
        },
      },
    },
  },
};

export interface EchoReply {
  message: string;
  server: string;
}

type EchoClient = Client & {
  Echo(request: { message: string }, options: { deadline: Date }, callback: (error: ServiceError | null, reply?: EchoReply) => void): void;
};

interface EchoPackage {
  bulwark: { test: { Echo: { service: ServiceDefinition; new (target: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object): EchoClient } } };
}

function echoPackage(): EchoPackage {
  return loadPackageDefinition(fromJSON(ECHO_PROTO, { keepCase: true })) as unknown as EchoPackage;
}

export interface EchoServer {
  name: string;
  port: number;
  calls: number;
  stop(): void;
}

export async function startEchoServer(name: string): Promise<EchoServer> {
  const server = new Server();
  const echo: EchoServer = { name, port: 0, calls: 0, stop: () => server.forceShutdown() };
  server.addService(echoPackage().bulwark.test.Echo.service, {
    Echo: (call: { request: { message: string } }, callback: (error: null, reply: EchoReply) => void): void => {
      echo.calls += 1;
      callback(null, { message: call.request.message, server: name });
    },
  });
  echo.port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
  });
  return echo;
}

export interface EchoCaller {
  echo(message: string, timeoutMs?: number): Promise<EchoReply>;
  close(): void;
}

/** A client of the echo service for `target` (e.g. `xds:///echo.bulwark.test`). */
export function echoClient(target: string): EchoCaller {
  const client = new (echoPackage().bulwark.test.Echo)(target, credentials.createInsecure());
  return {
    echo: (message, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        client.Echo({ message }, { deadline: new Date(Date.now() + timeoutMs) }, (error, reply) => (error || !reply ? reject(error ?? new Error("no reply")) : resolve(reply)));
      }),
    close: () => client.close(),
  };
}
