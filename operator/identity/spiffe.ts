/** A workload's identity in the mesh: its namespace and Kubernetes service account. */
export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
}

/** `spiffe://<trust-domain>/ns/<namespace>/sa/<service account>`: the URI SAN of its certificate. */
export function spiffeId(trustDomain: string, identity: WorkloadIdentity): string {
  return `spiffe://${trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}

/** A trust domain is a lowercase DNS-like name (SPIFFE: letters, digits, dots, dashes, underscores). */
export function isTrustDomain(value: string): boolean {
  return /^[a-z0-9._-]{1,255}$/.test(value);
}

/** The identity of a pod: its namespace and `spec.serviceAccountName` (Kubernetes' default is `default`). */
export function identityOfPod(pod: { metadata: { namespace?: string }; spec?: { serviceAccountName?: string } }): WorkloadIdentity {
  return { namespace: pod.metadata.namespace ?? "default", serviceAccount: pod.spec?.serviceAccountName || "default" };
}

export function identityKey(identity: WorkloadIdentity): string {
  return `${identity.namespace}/${identity.serviceAccount}`;
}
