/** Names that trace every generated object back to its source policy. */
export function policyName(namespace: string, name: string): string {
  return `apisecuritypolicy/${namespace}/${name}`;
}

export function ruleName(policy: string, rule: string): string {
  return `${policy}/rule/${rule}`;
}

export function workloadName(options: { policy?: string; namespace: string; sidecarPort: number; appPort: number }): string {
  const owner = options.policy ?? `passthrough/${options.namespace}`;
  return `${owner}/ports/${options.sidecarPort}-${options.appPort}`;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
