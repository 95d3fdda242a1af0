/**
 * A sample mobile client library, as an app team would write it: it holds the app's DPoP key,
 * signs in at the token endpoint with a DPoP proof (so the access token is bound to that key),
 * and sends every API request with a fresh proof over its token, the app's version and platform,
 * and an attestation token where the API asks for one. Server nonces (RFC 9449 section 8) are
 * remembered per server; a `use_dpop_nonce` challenge is answered once with a retry.
 */
import { request } from "node:http";
import { DpopKey } from "./authz-client.js";

export interface MobileClientOptions {
  /** Where the API is reached (the sidecar's listener), e.g. http://127.0.0.1:15006. */
  connectTo: string;
  /** The API's origin as the app addresses it (Host header and `htu`), e.g. http://shop.test. */
  apiOrigin: string;
  tokenEndpoint: string;
  appVersion: string;
  platform: string;
  /** Mints an integrity token (an App Check-style attestation) when an API call asks for it. */
  attestation?: () => Promise<string>;
  attestationHeader?: string;
  key?: DpopKey;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = unknown>(): T;
}

/** A request exactly as it went out (to show what a replay does). */
export interface SentRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

function send(url: URL, method: string, path: string, headers: Record<string, string>, body?: string): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: <T>() => JSON.parse(text) as T });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body);
  });
}

/** The OAuth error of a 400 JSON answer (a token endpoint's), if any. */
function oauthError(response: ApiResponse): string | undefined {
  if (response.status !== 400) return undefined;
  try {
    const body = response.json<{ error?: unknown }>();
    return typeof body.error === "string" ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** A server asks for a nonce: `use_dpop_nonce` from a token endpoint (400) or a resource server (401 challenge), with the nonce to use. */
function wantsNonce(response: ApiResponse): boolean {
  const challenge = String(response.headers["www-authenticate"] ?? "");
  return typeof response.headers["dpop-nonce"] === "string" && (oauthError(response) === "use_dpop_nonce" || /error="use_dpop_nonce"/.test(challenge));
}

export class MobileClient {
  private accessToken: string | undefined;
  /** Latest nonce per server origin. */
  private readonly nonces = new Map<string, string>();
  /** Retries made because a server asked for a nonce. */
  nonceRetries = 0;
  lastSent: SentRequest | undefined;

  private constructor(
    readonly key: DpopKey,
    private readonly options: MobileClientOptions,
  ) {}

  static async create(options: MobileClientOptions): Promise<MobileClient> {
    return new MobileClient(options.key ?? (await DpopKey.generate("ES256")), options);
  }

  get token(): string | undefined {
    return this.accessToken;
  }

  /** Signs in: a DPoP-bound access token for this device's key. */
  async signIn(username: string, password: string): Promise<void> {
    const endpoint = new URL(this.options.tokenEndpoint);
    const body = new URLSearchParams({ grant_type: "password", username, password }).toString();
    const attempt = async (): Promise<ApiResponse> => {
      const nonce = this.nonces.get(endpoint.origin);
      const proof = await this.key.proof({ htm: "POST", htu: `${endpoint.origin}${endpoint.pathname}`, ...(nonce !== undefined ? { nonce } : {}) });
      const response = await send(endpoint, "POST", endpoint.pathname, { "content-type": "application/x-www-form-urlencoded", dpop: proof }, body);
      this.remember(endpoint.origin, response);
      return response;
    };
    let response = await attempt();
    if (wantsNonce(response)) {
      this.nonceRetries += 1;
      response = await attempt();
    }
    if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${response.body}`);
    const answer = response.json<{ access_token?: string; token_type?: string }>();
    if (answer.token_type !== "DPoP" || typeof answer.access_token !== "string") throw new Error(`sign-in answered no DPoP token: ${response.body}`);
    this.accessToken = answer.access_token;
  }

  /** Uses another device's token (a stolen one), to show it is useless without its key. */
  useToken(token: string): void {
    this.accessToken = token;
  }

  /** One API call with a fresh proof; retried once when the API asks for a nonce. */
  async call(method: string, path: string, options: { attest?: boolean; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
    const origin = new URL(this.options.apiOrigin);
    const attestation = options.attest && this.options.attestation ? await this.options.attestation() : undefined;
    const attempt = async (): Promise<ApiResponse> => {
      const headers = await this.apiHeaders(method, path, origin);
      if (attestation !== undefined) headers[this.options.attestationHeader ?? "x-app-attestation"] = attestation;
      Object.assign(headers, options.headers);
      this.lastSent = { method, path, headers };
      const response = await send(new URL(this.options.connectTo), method, path, headers);
      this.remember(origin.origin, response);
      return response;
    };
    const response = await attempt();
    if (!wantsNonce(response)) return response;
    this.nonceRetries += 1;
    return attempt();
  }

  /** Sends the last request again, byte for byte (same proof): what an attacker who captured it would do. */
  replayLast(): Promise<ApiResponse> {
    if (!this.lastSent) throw new Error("nothing sent yet");
    return send(new URL(this.options.connectTo), this.lastSent.method, this.lastSent.path, this.lastSent.headers);
  }

  private async apiHeaders(method: string, path: string, origin: URL): Promise<Record<string, string>> {
    const q = path.search(/[?#]/);
    const htu = `${origin.origin}${q === -1 ? path : path.slice(0, q)}`;
    const nonce = this.nonces.get(origin.origin);
    const headers: Record<string, string> = { host: origin.host, "x-app-version": this.options.appVersion, "x-app-platform": this.options.platform };
    if (this.accessToken === undefined) return headers;
    headers.authorization = `DPoP ${this.accessToken}`;
    headers.dpop = await this.key.proof({ htm: method, htu, accessToken: this.accessToken, ...(nonce !== undefined ? { nonce } : {}) });
    return headers;
  }

  private remember(origin: string, response: ApiResponse): void {
    const nonce = response.headers["dpop-nonce"];
    if (typeof nonce === "string") this.nonces.set(origin, nonce);
  }
}
