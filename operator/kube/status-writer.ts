import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiVersion, group, kind, plural, version, type PolicyStatus } from "../api/v1alpha1/policy.js";
import type { ControllerMetrics } from "../controller/metrics.js";
import { sameStatus } from "../controller/policy-status.js";
import { errorMessage } from "../../common/errors.js";

export interface PolicyRef {
  namespace: string;
  name: string;
  uid?: string;
}

function code(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "number" ? error.code : undefined;
}

/** Writes policy status (skipping no-op writes, retrying transient failures) and Events. */
/** Who writes policy status, as `kubectl get -o yaml --show-managed-fields` names it. */
export const STATUS_FIELD_MANAGER = "bulwark-controller";

export class StatusWriter {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly log: Logger,
    private readonly metrics: ControllerMetrics,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Returns true when it wrote. */
  async write(ref: PolicyRef, current: PolicyStatus | undefined, desired: PolicyStatus): Promise<boolean> {
    if (sameStatus(current, desired)) {
      this.metrics.statusWrites.inc({ result: "skipped" });
      return false;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.custom.patchNamespacedCustomObjectStatus(
          { group, version, plural, namespace: ref.namespace, name: ref.name, body: { status: desired }, fieldManager: STATUS_FIELD_MANAGER },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
        this.metrics.statusWrites.inc({ result: "written" });
        return true;
      } catch (error) {
        const status = code(error);
        if (status === 404) return false; // deleted meanwhile
        if (attempt >= 4 || (status !== undefined && status < 500 && status !== 409 && status !== 429)) {
          this.metrics.statusWrites.inc({ result: "failed" });
          this.log.error({ policy: `${ref.namespace}/${ref.name}`, err: errorMessage(error) }, "status write failed");
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  /** An Event about a policy, or about another object named by `involved` (the workload CA's Secret). */
  async event(ref: PolicyRef, type: "Normal" | "Warning", reason: string, message: string, involved?: { apiVersion: string; kind: string }): Promise<void> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: ref.namespace,
        body: {
          metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
          involvedObject: {
            apiVersion: involved?.apiVersion ?? apiVersion,
            kind: involved?.kind ?? kind,
            name: ref.name,
            namespace: ref.namespace,
            ...(ref.uid ? { uid: ref.uid } : {}),
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: "bulwark-controller" },
          reportingComponent: "bulwark.dev/controller",
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (error) {
      this.log.warn({ policy: `${ref.namespace}/${ref.name}`, reason, err: errorMessage(error) }, "could not record an event");
    }
  }
}
