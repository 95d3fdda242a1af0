/** Names that trace every generated object back to its source policy. */
export function policyName(namespace: string, name: string): string {
  return `apisecuritypolicy/${namespace}/${name}`;
}

export function ruleName(policy: string, rule: string): string {
  return `${policy}/rule/${rule}`;
}

export function workloadName(options: { policy?: string; namespace: string; sidecarPort: number; appPort: number; outboundPort?: number; egressTo?: readonly string[] }): string {
  const owner = options.policy ?? `passthrough/${options.namespace}`;
  const outbound = options.outboundPort !== undefined ? `-${options.outboundPort}` : "";
  const egress = options.egressTo ? `/egress/${options.egressTo.join("+")}` : "";
  return `${owner}/ports/${options.sidecarPort}-${options.appPort}${outbound}${egress}`;
}
