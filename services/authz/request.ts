/**
 * What bulwark authz knows about one request: the part of Envoy's CheckRequest the checks read,
 * already normalised (header names lower case, the verified JWT payload as plain JSON).
 */
export interface AuthzRequest {
  /** Route name from the context extension `bulwark.dev/route`; absent when Envoy sent none. */
  route?: string;
  method: string;
  /** `http` or `https`, as Envoy saw it. */
  scheme: string;
  /** The :authority. */
  host: string;
  /** Path with the query string, as received. */
  path: string;
  /** Lower-case names; Envoy joins repeated headers with a comma. */
  headers: Readonly<Record<string, string>>;
  /** Payload of the access token Envoy's jwt_authn verified; absent when there was none. */
  jwtPayload?: Readonly<Record<string, unknown>>;
  /** The client's address without port (the CheckRequest's source address). */
  clientAddress?: string;
  /** Client certificate of the connection, PEM (Envoy sends it URL-encoded; decoded here). */
  peerCertificate?: string;
}

/** Longest header value the checks read (a DPoP proof, a token, an attestation): larger ones are refused. */
export const MAX_CREDENTIAL_HEADER_BYTES = 8192;
