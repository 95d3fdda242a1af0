import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewEverySeconds: number;
}

function isCode(error: unknown, code: number): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === code;
}

/**
 * Lease-based leader election (coordination.k8s.io/v1): the holder renews the Lease; another
 * replica takes it over once it has not been renewed for leaseDurationSeconds. Optimistic
 * concurrency on the Lease's resourceVersion settles races.
 */
export class LeaderElector {
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly api: CoordinationV1Api;
  private readonly listeners = new Set<(leader: boolean) => void>();

  constructor(
    kc: KubeConfig,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Where the Lease is and who this replica is in it. */
  get lease(): { namespace: string; name: string; identity: string } {
    return { namespace: this.options.namespace, name: this.options.name, identity: this.options.identity };
  }

  onChange(listener: (leader: boolean) => void): void {
    this.listeners.add(listener);
  }

  start(): void {
    const tick = (): void => {
      this.tryAcquireOrRenew()
        .catch((error: unknown) => {
          this.log.warn({ err: errorMessage(error) }, "leader election: lease update failed");
          this.setLeader(false);
        })
        .finally(() => {
          this.timer = setTimeout(tick, this.options.renewEverySeconds * 1000);
        });
    };
    tick();
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.log.info({ identity: this.options.identity, lease: `${this.options.namespace}/${this.options.name}` }, leader ? "became leader" : "lost leadership");
    for (const l of this.listeners) l(leader);
  }

  private spec(now: Date, transitions: number, acquired?: Date): V1Lease["spec"] {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.options.leaseDurationSeconds,
      acquireTime: new V1MicroTime((acquired ?? now).getTime()),
      renewTime: new V1MicroTime(now.getTime()),
      leaseTransitions: transitions,
    };
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, name } = this.options;
    const now = new Date();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isCode(error, 404)) throw error;
      await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.spec(now, 0) } });
      this.setLeader(true);
      return;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = now.getTime() - renewed > (spec.leaseDurationSeconds ?? this.options.leaseDurationSeconds) * 1000;
    const mine = spec.holderIdentity === this.options.identity;
    if (!mine && !expired && spec.holderIdentity) {
      this.setLeader(false);
      return;
    }
    const transitions = (spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
    try {
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: { ...lease.metadata, name, namespace }, spec: this.spec(now, transitions, mine && spec.acquireTime ? new Date(spec.acquireTime) : now) },
      });
      this.setLeader(true);
    } catch (error) {
      if (isCode(error, 409)) {
        this.setLeader(false);
        return;
      }
      throw error;
    }
  }

  /** Stops renewing and, when leader, releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (!this.leader) return;
    const { namespace, name } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity === this.options.identity) {
        await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: "", renewTime: new V1MicroTime(0) } } });
      }
    } catch (error) {
      this.log.warn({ err: errorMessage(error) }, "could not release the lease");
    }
    this.setLeader(false);
  }
}
