export * from "./conditions.js";
export * from "./policy.js";
export { durationSeconds } from "./common.js";
export { templateVariables } from "./rule.js";
export { rateLimitKeyPattern } from "./rate-limit.js";
