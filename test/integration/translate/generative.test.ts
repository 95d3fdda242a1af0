/**
 * Whatever the API server accepts, translation turns into configuration the real Envoy accepts.
 * Policies with values at the boundaries of the schema (longest names, scopes, paths and URLs,
 * the most list entries, the extreme numbers and durations, every character a pattern allows)
 * go through a server-side dry run with the CRD installed, then through render, then through
 * `envoy --mode validate`. A failure is shrunk by fast-check to the smallest policy that shows it.
 */
import fc from "fast-check";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { apiSecurityPolicy } from "../../../operator/api/v1alpha1/index.js";
import { render } from "../../../operator/translate/render.js";
import { inputFor } from "../../../operator/testdata/random-policies.js";
import { installCrds } from "../../support/crds.js";
import { uniqueName } from "../../support/environment.js";
import { validateSidecarResources } from "../../support/envoy-validate.js";
import { kubectl } from "../../support/kubectl.js";
import { errorMessage } from "../../../common/errors.js";

const SEED = 20261202;
const lower = "abcdefghijklmnopqrstuvwxyz";
const alnum = `${lower}ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789`;
/** Printable ASCII without space: issuers, audiences, claim values (and % for Envoy's formatter). */
const visible = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join("");

/** A string of `length` characters drawn from `chars`, with the first and last given (patterns often fix them). */
function text(chars: string, length: number, edges = alnum): fc.Arbitrary<string> {
  if (length <= 2) return fc.string({ unit: fc.constantFrom(...edges), minLength: length, maxLength: length });
  return fc
    .tuple(fc.constantFrom(...edges), fc.string({ unit: fc.constantFrom(...chars), minLength: length - 2, maxLength: length - 2 }), fc.constantFrom(...edges))
    .map(([a, middle, b]) => `${a}${middle}${b}`);
}

/** Either end of a range. */
const edge = <T>(min: T, max: T): fc.Arbitrary<T> => fc.constantFrom(min, max);

const dnsLabel = fc.oneof(text(lower, 1, lower), text(`${lower}0123456789-`, 63, lower));
const headerName = fc.oneof(text(`${alnum}-`, 1), text(`${alnum}-`, 64), fc.constantFrom("host", "authorization", "content-length", "x-forwarded-for"));
const claimName = fc.oneof(text(`${alnum}_:/.-`, 128, `${alnum.slice(0, 52)}_`), fc.constantFrom("sub", "_", "https://example.com/claims/role"));
const scope = fc.oneof(text(visible.replace(/["\\]/g, ""), 128, visible.replace(/["\\]/g, "")), fc.constantFrom("a", "orders:read", "%REQ(x)%"));
/** A normalised path segment: unreserved and sub-delimiter characters, and a %XX that Envoy keeps encoded. */
const segment = fc.oneof(text(`${alnum}-_~!$&'()*+,;=:@`, 12), fc.constantFrom("%20", "a%25b", ".well-known", "~x"));
const path = fc.array(segment, { minLength: 1, maxLength: 12 }).map((s) => `/${s.join("/")}`.slice(0, 256).replace(/%[0-9A-Fa-f]?$/, ""));
const template = fc
  .tuple(fc.array(text(alnum, 16, lower), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([vars, slash]) => `/v1/${[...new Set(vars.map((v, i) => `${v.slice(0, 14)}${i}`))].map((v) => `{${v}}`).join("/")}${slash ? "/" : ""}`);
const port = fc.oneof(fc.constant(""), edge(":1", ":65535"));
const jwksUri = fc
  .tuple(
    fc.constantFrom("https", "http"),
    fc.constantFrom("id.example.com", "ID.Example.COM.", "10.0.0.1", `${"a".repeat(63)}.example.com`),
    port,
    fc.constantFrom("", "/jwks", "/a%2Fb?x=1&y=%20", `/${"k".repeat(1800)}`),
  )
  .map(([scheme, host, p, rest]) => `${scheme}://${host}${p}${rest}`);
const duration = (min: string, max: string): fc.Arbitrary<string> => edge(min, max);

const rateLimits = (name: string, vars: string[], authenticated: boolean): fc.Arbitrary<Record<string, unknown>[]> =>
  fc
    .record({
      keys: fc.subarray(["clientIP", "header", "claim", "pathParam"], { minLength: 1, maxLength: 4 }),
      header: headerName,
      claim: claimName,
      requests: edge(1, 1_000_000_000),
      per: duration("1s", "168h"),
      counts: fc.option(fc.subarray([100, 200, 401, 403, 404, 429, 500, 502, 503, 599, 418, 451, 300, 301, 302, 304], { minLength: 1, maxLength: 16 }), { nil: undefined }),
      local: fc.boolean(),
      mode: fc.constantFrom("Enforce", "Shadow"),
      headers: fc.constantFrom("Standard", "None"),
    })
    .map((r) => {
      const key = r.keys
        .map((k) => (k === "header" ? `header:${r.header}` : k === "claim" ? `claim:${r.claim}` : k === "pathParam" ? (vars[0] ? `pathParam:${vars[0]}` : "clientIP") : k))
        .filter((k) => authenticated || !k.startsWith("claim:"))
        // The client-address helper refuses rate-limit keys on address headers in favour of clientIP.
        .filter((k) => !/^header:(x-forwarded-for|host)$/i.test(k));
      const global = {
        name: `${name}-g`.slice(-63).replace(/^-/, "g"),
        key: [...new Set(key.length ? key : ["clientIP"])],
        limit: { requests: r.requests, per: r.per },
        mode: r.mode,
        responseHeaders: r.headers,
        ...(r.counts ? { counts: { responseCodes: r.counts } } : {}),
      };
      return r.local ? [global, { name: "l", scope: "Local", limit: { requests: r.requests, per: r.per }, responseHeaders: r.headers }] : [global];
    });

const rule = (index: number): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      name: dnsLabel,
      kind: fc.constantFrom("path", "pathPrefix", "pathTemplate"),
      path,
      template,
      methods: fc.option(fc.subarray(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], { minLength: 1 }), { nil: undefined }),
      authentication: fc.constantFrom("Required", "Optional", "None"),
      scopes: fc.option(fc.uniqueArray(scope, { minLength: 1, maxLength: 16 }), { nil: undefined }),
      claims: fc.option(
        fc.dictionary(claimName, fc.uniqueArray(fc.oneof(text(visible, 256, visible), fc.constantFrom("true", "-1.5", "42")), { minLength: 1, maxLength: 16 }), {
          minKeys: 1,
          maxKeys: 8,
        }),
        { nil: undefined },
      ),
      ownership: fc.boolean(),
      maxRequestBytes: fc.option(edge(1, 67_108_864), { nil: undefined }),
      authzTimeoutMs: fc.option(edge(10, 10_000), { nil: undefined }),
      limits: fc.boolean(),
      rl: fc.constant(null),
    })
    .chain((r) => {
      const vars = r.kind === "pathTemplate" ? [...r.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? "") : [];
      const authenticated = r.authentication !== "None";
      return (r.limits ? rateLimits(r.name, vars, authenticated) : fc.constant(undefined)).map((limits) => {
        const match: Record<string, unknown> = r.kind === "path" ? { path: r.path } : r.kind === "pathPrefix" ? { pathPrefix: r.path } : { pathTemplate: r.template };
        if (r.methods) match.methods = r.methods;
        return {
          name: `${r.name.slice(0, 60)}${index}`.replace(/-(\d+)$/, "x$1"),
          match,
          authentication: r.authentication,
          ...(authenticated && (r.scopes || r.claims) ? { require: { ...(r.scopes ? { scopes: r.scopes } : {}), ...(r.claims ? { claims: r.claims } : {}) } } : {}),
          ...(r.ownership && r.authentication === "Required" && vars[0] ? { ownership: { pathParam: vars[0] } } : {}),
          ...(r.maxRequestBytes !== undefined ? { maxRequestBytes: r.maxRequestBytes } : {}),
          // authz checks every rule of these policies (minAppVersion is always set), so a timeout is allowed.
          ...(r.authzTimeoutMs !== undefined ? { authzTimeoutMs: r.authzTimeoutMs } : {}),
          ...(limits ? { rateLimits: limits } : {}),
        };
      });
    });

const provider = (i: number): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      issuer: fc.oneof(text(visible, 512, visible), fc.constant(`https://id${i}.example.com/`)),
      audiences: fc.uniqueArray(fc.oneof(text(visible, 256, visible), fc.constant("api")), { minLength: 1, maxLength: 16 }),
      uri: jwksUri,
      cache: duration("30s", "24h"),
      maxTokenAge: fc.option(duration("1m", "24h"), { nil: undefined }),
      clockSkew: duration("1s", "5m"),
      claimsToHeaders: fc.array(fc.record({ claim: claimName, header: headerName }), { maxLength: 16 }),
    })
    .map((p) => ({
      name: `idp${i}`,
      issuer: `${p.issuer.slice(0, 505)}/${i}`,
      audiences: p.audiences,
      jwks: { remote: { uri: p.uri, cacheDuration: p.cache } },
      ...(p.maxTokenAge ? { maxTokenAge: p.maxTokenAge } : {}),
      clockSkew: p.clockSkew,
      // Distinct headers: two claims in one header are refused by jwt_authn's own rules of use, not checked here.
      ...(p.claimsToHeaders.length ? { claimsToHeaders: [...new Map(p.claimsToHeaders.map((c) => [c.header.toLowerCase(), c])).values()] } : {}),
    }));

/** A policy spec (without targets) with values at the schema's boundaries; the API server decides whether it is valid. */
const boundarySpec: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    providers: fc.integer({ min: 1, max: 8 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => provider(i)))),
    sender: fc.constantFrom("none", "dpop", "mtls"),
    dpopAge: duration("1s", "5m"),
    rules: fc.integer({ min: 0, max: 32 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => rule(i)))),
    tls: fc.option(fc.record({ minVersion: fc.constantFrom("TLSv1.2", "TLSv1.3"), mtls: fc.constantFrom("Disabled", "Permissive", "Strict") }), { nil: undefined }),
    attestation: fc.boolean(),
    version: edge("0.0.0", "999999.999999.999999"),
    platforms: fc.dictionary(text(`${lower}0123456789-`, 32, lower), edge("0.0.0", "999999.999999.999999"), { maxKeys: 8 }),
    minBytes: edge(0, 10_485_760),
    deprecations: fc.uniqueArray(
      fc.record({
        prefix: path,
        link: fc.option(fc.constantFrom("https://dev.example.com/100%25?q=%REQ(x)%", `https://d.example.com/${"l".repeat(2000)}`, 'http://x/"quoted"'), { nil: undefined }),
      }),
      { maxLength: 16, selector: (d) => d.prefix },
    ),
    defaultAction: fc.constantFrom("Deny", "Allow"),
  })
  .map((p) => {
    const tls = p.sender === "mtls" ? { minVersion: p.tls?.minVersion ?? "TLSv1.3", mtls: p.tls?.mtls === "Permissive" ? "Permissive" : "Strict" } : p.tls;
    return {
      authentication: {
        jwt: {
          providers: p.providers,
          ...(p.sender === "dpop"
            ? { senderConstraint: { dpop: { maxProofAge: p.dpopAge, algorithms: ["ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256"] } } }
            : {}),
          ...(p.sender === "mtls" ? { senderConstraint: { mtls: { required: true } } } : {}),
        },
        ...(p.attestation
          ? {
              appAttestation: {
                issuer: "https://attest.example.com/",
                jwks: { remote: { uri: "https://attest.example.com:65535/jwks" } },
                audiences: ["projects/1"],
                appIds: ["app"],
                maxTokenAge: "24h",
              },
            }
          : {}),
      },
      rules: p.rules.map((r) => (r.requireAppAttestation === undefined && p.attestation ? { ...r, requireAppAttestation: true } : r)),
      defaultAction: p.defaultAction,
      ...(tls ? { tls } : {}),
      mobile: {
        minAppVersion: { minimum: p.version, header: "x-app-version", ...(Object.keys(p.platforms).length ? { platforms: p.platforms } : {}) },
        compression: { algorithms: ["gzip", "brotli"], minBytes: p.minBytes },
        ...(p.deprecations.length
          ? {
              deprecations: p.deprecations.map((d, i) => ({
                pathPrefix: d.prefix,
                deprecatedAt: "2026-01-01",
                sunsetAt: i % 2 ? "2026-06-01" : "2099-12-31",
                ...(d.link ? { link: d.link } : {}),
              })),
            }
          : {}),
      },
    };
  });

let namespace = "";
let dir = "";

interface DryRun {
  accepted: Map<number, Record<string, unknown>>;
  refused: number;
}

/** Server-side dry runs (dryRun=All) of every spec as policy p-<i>; returns the specs the server accepted, as it would store them. */
async function dryRun(specs: readonly Record<string, unknown>[]): Promise<DryRun> {
  const accepted = new Map<number, Record<string, unknown>>();
  await eachLimited([...specs.entries()], 4, async ([i, spec]) => {
    const manifest = {
      apiVersion: "bulwark.dev/v1alpha1",
      kind: "APISecurityPolicy",
      metadata: { name: `p-${i}`, namespace },
      spec: { targetRefs: [{ kind: "Service", name: `svc-${i}` }], ...spec },
    };
    const file = join(dir, `p-${i}-${Math.random().toString(16).slice(2)}.json`);
    await writeFile(file, JSON.stringify(manifest));
    try {
      const { stdout } = await kubectl(["create", "--dry-run=server", "--namespace", namespace, "--filename", file, "--output=json"]);
      accepted.set(i, (JSON.parse(stdout) as { spec: Record<string, unknown> }).spec);
    } catch (error) {
      const message = errorMessage(error);
      // A refusal of the spec is the API server's word; anything else is a broken test environment.
      if (!/is invalid|Invalid value|Unsupported value|Too many|Required value|Duplicate value|should be|must have/.test(message)) throw error;
    }
  });
  return { accepted, refused: specs.length - accepted.size };
}

/** Runs `work` over `items`, `limit` at a time (Envoy validations: two cores). */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

let acceptedTotal = 0;
let checkedTotal = 0;

/** The property: every spec the API server accepts is valid to zod, translates, and Envoy accepts its configuration. */
async function serverAcceptedMeansEnvoyAccepts(specs: Record<string, unknown>[]): Promise<void> {
  const { accepted } = await dryRun(specs);
  checkedTotal += specs.length;
  acceptedTotal += accepted.size;
  const problems: string[] = [];
  await eachLimited([...accepted.entries()], 2, async ([i, stored]) => {
    const input = inputFor(stored, i);
    const parsed = apiSecurityPolicy.safeParse(input.policies[0]);
    if (!parsed.success) {
      problems.push(`policy ${i}: the API server accepted it, the operator's schema refuses it: ${parsed.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`);
      return;
    }
    let rendered: ReturnType<typeof render>;
    try {
      rendered = render(input);
    } catch (error) {
      problems.push(`policy ${i}: translation threw: ${errorMessage(error)}`);
      return;
    }
    const resolved = rendered.resolution.policies[0];
    if (resolved?.accepted.status !== "True") {
      problems.push(`policy ${i}: translation did not accept it: ${resolved?.accepted.reason}: ${resolved?.accepted.message}`);
      return;
    }
    for (const w of rendered.workloads) {
      const verdict = await validateSidecarResources(w.resources);
      if (!verdict.accepted) problems.push(`policy ${i}: Envoy refused workload ${w.workload}: ${verdict.error.slice(0, 2000)}`);
    }
  });
  if (problems.length > 0)
    throw new Error(
      `${problems.join("\n")}\nspecs: ${JSON.stringify([...accepted.keys()].filter((i) => problems.some((p) => p.startsWith(`policy ${i}:`))).map((i) => specs[i]))}`,
    );
}

beforeAll(async () => {
  await installCrds();
  namespace = uniqueName("generative");
  await kubectl(["create", "namespace", namespace]);
  dir = await mkdtemp(join(tmpdir(), "bulwark-generative-"));
});

describe("policies at the boundaries of the schema", () => {
  it("whatever the API server accepts translates without error into configuration the real Envoy accepts", async () => {
    await fc.assert(fc.asyncProperty(fc.array(boundarySpec, { minLength: 10, maxLength: 10 }), serverAcceptedMeansEnvoyAccepts), { seed: SEED, numRuns: 3 });
    // The generator aims at valid boundaries: most of what it makes must reach Envoy, or the test proves little.
    expect(acceptedTotal, `${acceptedTotal}/${checkedTotal} accepted by the API server`).toBeGreaterThanOrEqual(checkedTotal / 2);
  }, 300_000);
});
