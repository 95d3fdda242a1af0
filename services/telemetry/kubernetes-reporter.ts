import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";
import { inventoryPlural } from "../../operator/api/v1alpha1/api-inventory.js";
import { group, kind, plural, version, type PolicyStatus } from "../../operator/api/v1alpha1/policy.js";
import type { APIInventoryObject } from "./inventory/inventory-resource.js";
import type { SignalKubernetesEvent } from "./signals/output.js";

/** Who writes status.traffic and APIInventory objects, as `--show-managed-fields` names it. */
export const TELEMETRY_FIELD_MANAGER = "bulwark-telemetry";

export type TrafficStatus = NonNullable<PolicyStatus["traffic"]>;

function code(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "number" ? error.code : undefined;
}

/**
 * bulwark telemetry's writes to the API server: the APIInventory of each policy (created, then
 * its status), the policy's status.traffic (a merge patch of that field alone, which the
 * controller's own status writes leave as it is), Warning Events for signals, and the reads it
 * needs (a policy's uid for the inventory's owner reference, an OpenAPI ConfigMap). Every failure
 * is logged and reported as false or undefined: the next round tries again.
 */
export class KubernetesReporter {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  /** APIInventory objects known to exist: each report patches their status without trying to create them again. */
  private readonly existing = new Set<string>();

  constructor(
    kc: KubeConfig,
    private readonly log: Logger,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** The policy's uid, or undefined when it is gone or cannot be read. */
  async policyUid(namespace: string, name: string): Promise<string | undefined> {
    try {
      const object = (await this.custom.getNamespacedCustomObject({ group, version, plural, namespace, name })) as { metadata?: { uid?: string } };
      return object.metadata?.uid;
    } catch (error) {
      if (code(error) !== 404) this.log.warn({ policy: `${namespace}/${name}`, err: errorMessage(error) }, "cannot read the policy");
      return undefined;
    }
  }

  /** Creates the APIInventory when missing, then writes its status. */
  async writeInventory(object: APIInventoryObject): Promise<boolean> {
    const { namespace, name } = object.metadata;
    const key = `${namespace}/${name}`;
    try {
      if (!this.existing.has(key)) {
        const { status: _status, ...withoutStatus } = object;
        try {
          await this.custom.createNamespacedCustomObject({ group, version, plural: inventoryPlural, namespace, body: withoutStatus, fieldManager: TELEMETRY_FIELD_MANAGER });
        } catch (error) {
          if (code(error) !== 409) throw error;
        }
        this.existing.add(key);
      }
      await this.custom.patchNamespacedCustomObjectStatus(
        { group, version, plural: inventoryPlural, namespace, name, body: { status: object.status }, fieldManager: TELEMETRY_FIELD_MANAGER },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return true;
    } catch (error) {
      // Deleted meanwhile (with its policy, or by hand): created again at the next report.
      if (code(error) === 404) this.existing.delete(key);
      this.log.warn({ inventory: key, err: errorMessage(error) }, "cannot write the API inventory");
      return false;
    }
  }

  /** Replaces the policy's status.traffic (and nothing else of its status). */
  async writeTraffic(namespace: string, name: string, traffic: TrafficStatus): Promise<boolean> {
    try {
      // A merge patch replaces `signals` (a list) whole and null-clears nothing else.
      await this.custom.patchNamespacedCustomObjectStatus(
        { group, version, plural, namespace, name, body: { status: { traffic: { signals: null, ...traffic } } }, fieldManager: TELEMETRY_FIELD_MANAGER },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return true;
    } catch (error) {
      if (code(error) !== 404) this.log.warn({ policy: `${namespace}/${name}`, err: errorMessage(error) }, "cannot write status.traffic");
      return false;
    }
  }

  /** A Warning Event on the policy for a signal. */
  async signalEvent(namespace: string, name: string, uid: string | undefined, event: SignalKubernetesEvent): Promise<void> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: `${group}/${version}`, kind, name, namespace, ...(uid ? { uid } : {}) },
          type: event.type,
          reason: event.reason,
          action: event.action,
          message: event.note,
          source: { component: "bulwark-telemetry" },
          reportingComponent: "bulwark.dev/telemetry",
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (error) {
      this.log.warn({ policy: `${namespace}/${name}`, reason: event.reason, err: errorMessage(error) }, "could not record an event");
    }
  }

  /** One key of a ConfigMap in `namespace`, or why it cannot be read. */
  async configMapKey(namespace: string, name: string, key: string): Promise<{ text: string } | { error: string }> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ namespace, name });
      const text = cm.data?.[key];
      if (text === undefined) return { error: `ConfigMap ${namespace}/${name} has no key ${key}` };
      return { text };
    } catch (error) {
      return { error: code(error) === 404 ? `ConfigMap ${namespace}/${name} does not exist` : `cannot read ConfigMap ${namespace}/${name}: ${errorMessage(error)}` };
    }
  }
}
