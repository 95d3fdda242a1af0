import { readBounded } from "../../common/bounded-body.js";
import { errorMessage } from "../../common/errors.js";

/** Bounds of one fetch of an OpenAPI document (spec.apiInventory.openAPI.url). */
export const OPENAPI_FETCH_LIMITS = { timeoutMs: 5000, maxBytes: 4 * 1024 * 1024 };

/**
 * GETs a policy's OpenAPI document: no redirects (the URL the policy names is the one read; the
 * API allows only https, or http to an in-cluster Service), bounded in time and size. The text,
 * or why there is none.
 */
export async function fetchOpenApi(url: string, limits = OPENAPI_FETCH_LIMITS): Promise<{ text: string } | { error: string }> {
  try {
    const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(limits.timeoutMs), headers: { accept: "application/json, application/yaml" } });
    if (response.status !== 200) {
      await response.body?.cancel();
      const redirect = response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : "";
      return { error: `GET ${url} answered ${response.status}${redirect}` };
    }
    return { text: await readBounded(response, limits.maxBytes) };
  } catch (error) {
    const cause = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${limits.timeoutMs} ms` : errorMessage(error);
    return { error: `GET ${url} failed: ${cause}` };
  }
}
