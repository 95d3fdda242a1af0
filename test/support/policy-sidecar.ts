import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { standaloneBootstrap } from "../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../operator/testdata/objects.js";
import { render, type Rendered } from "../../operator/translate/render.js";
import { freePort } from "../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "./envoy-process.js";

/** The issuer of the policies these sidecars verify: `https://id.example.com/`, one ES256 key, its JWKS in Secret `idp-jwks`. */
export const TEST_ISSUER = "https://id.example.com/";
export const TEST_JWKS_SECRET = "idp-jwks";

export interface TestIssuer {
  jwks: { keys: Record<string, unknown>[] };
  /** A token for `audience`, valid for ten minutes. */
  sign(claims: JWTPayload, audience: string): Promise<string>;
}

export async function testIssuer(): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  return {
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] },
    sign: (claims, audience) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(TEST_ISSUER)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
    },
  };
}

/** `spec.authentication` of a policy whose tokens come from the test issuer for `audience`. */
export function testAuthentication(audience: string): Record<string, unknown> {
  return { jwt: { providers: [{ name: "idp", issuer: TEST_ISSUER, audiences: [audience], jwks: { secretRef: { name: TEST_JWKS_SECRET } } }] } };
}

export interface PolicySidecar {
  /** The sidecar's inbound port. */
  port: number;
  rendered: Rendered;
  /** Requests that reached the app. */
  hits(): number;
  /** Envoy's output (its standard output and error): where the sidecar's stdout access log goes. */
  logFile: string;
  stop(): Promise<void>;
}

/**
 * One APISecurityPolicy for Service `name` in namespace shop, rendered by the whole offline
 * pipeline and run by a real Envoy in front of an app on loopback (`app` answers; default: "ok").
 * The test issuer's JWKS is in the Secret the policy may name.
 */
export async function startPolicySidecar(options: {
  name: string;
  spec: Record<string, unknown>;
  issuer?: TestIssuer;
  /** OpenID Connect Discovery results, as the controller's DiscoveryBook hands them to translation. */
  oidcDiscovery?: TranslationInput["oidcDiscovery"];
  app?: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<PolicySidecar> {
  let hits = 0;
  const app: Server = createServer((req, res) => {
    hits++;
    if (options.app) options.app(req, res);
    else res.end("ok");
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const address = app.address();
  if (!address || typeof address !== "object") throw new Error("the app has no port");
  const port = await freePort();
  const input: TranslationInput = {
    policies: [policy({ name: options.name, created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: options.name }], ...options.spec } })],
    services: [service("shop", options.name, { app: options.name })],
    pods: [sidecarPod("shop", `${options.name}-0`, { app: options.name }, { sidecar: port, app: address.port })],
    secrets: options.issuer ? [jwksSecret("shop", TEST_JWKS_SECRET, options.issuer.jwks)] : [],
    ...(options.oidcDiscovery ? { oidcDiscovery: options.oidcDiscovery } : {}),
    now: new Date().toISOString(),
  };
  const rendered = render(input);
  const accepted = rendered.resolution.policies[0]?.accepted;
  const workload = rendered.workloads[0];
  if (accepted?.status !== "True" || !workload) throw new Error(`the policy was not rendered: ${JSON.stringify(accepted)}`);
  let envoy: EnvoyProcess;
  try {
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), `envoy-${options.name}`);
  } catch (error) {
    app.close();
    throw error;
  }
  return {
    port,
    rendered,
    hits: () => hits,
    logFile: envoy.process.logFile,
    stop: async () => {
      await envoy.stop();
      await new Promise((resolve) => app.close(resolve));
    },
  };
}
