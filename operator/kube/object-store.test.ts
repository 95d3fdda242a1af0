import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ObjectStore, relevantContent } from "./object-store.js";
import { recordName } from "../controller/sidecar-reports.js";

describe("relevantContent", () => {
  const policy = { metadata: { name: "shop", namespace: "a", uid: "u1", generation: 3, resourceVersion: "10" }, spec: { defaultAction: "Deny" } };

  it("ignores what the controller writes itself: a policy's status", () => {
    const withStatus = { ...policy, metadata: { ...policy.metadata, resourceVersion: "11" }, status: { observedGeneration: 3 } };
    expect(relevantContent("policies", withStatus)).toBe(relevantContent("policies", policy));
    expect(relevantContent("policies", { ...policy, metadata: { ...policy.metadata, generation: 4 } })).not.toBe(relevantContent("policies", policy));
    expect(relevantContent("policies", { ...policy, metadata: { ...policy.metadata, deletionTimestamp: new Date() } })).not.toBe(relevantContent("policies", policy));
  });

  it("sees what translation reads of a pod, and only that", () => {
    const pod = {
      metadata: { name: "p", namespace: "a", uid: "u2", labels: { app: "shop" }, annotations: { "bulwark.dev/sidecar-port": "15001" } },
      status: { phase: "Running", podIP: "10.0.0.1" },
    };
    expect(relevantContent("pods", { ...pod, status: { ...pod.status, conditions: [{ type: "PodScheduled", status: "True" }] } })).toBe(relevantContent("pods", pod));
    // Readiness: only ready pods are mesh endpoints.
    expect(relevantContent("pods", { ...pod, status: { ...pod.status, conditions: [{ type: "Ready", status: "False" }] } })).not.toBe(relevantContent("pods", pod));
    // The IP is a mesh endpoint, the service account its identity.
    expect(relevantContent("pods", { ...pod, status: { phase: "Running", podIP: "10.0.0.2" } })).not.toBe(relevantContent("pods", pod));
    expect(relevantContent("pods", { ...pod, spec: { serviceAccountName: "orders" } })).not.toBe(relevantContent("pods", pod));
    expect(relevantContent("pods", { ...pod, status: { phase: "Succeeded" } })).not.toBe(relevantContent("pods", pod));
    expect(relevantContent("pods", { ...pod, metadata: { ...pod.metadata, labels: { app: "cart" } } })).not.toBe(relevantContent("pods", pod));
  });

  it("treats every change of a Secret as relevant", () => {
    const secret = { metadata: { name: "jwks", namespace: "a", uid: "u3", resourceVersion: "5" }, data: { k: "e30=" } };
    expect(relevantContent("secrets", { ...secret, metadata: { ...secret.metadata, resourceVersion: "6" } })).not.toBe(relevantContent("secrets", secret));
  });
});

describe("ObjectStore", () => {
  it("is neither listed nor synced while the API server cannot be reached (no translation of an empty world)", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "down", server: "https://127.0.0.1:1", skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "down", cluster: "down", user: "u" }],
      currentContext: "down",
    });
    const store = new ObjectStore(kc, () => undefined, pino({ level: "silent" }));
    await store.start();
    try {
      expect([store.isListed(), store.isSynced()]).toEqual([false, false]);
    } finally {
      await store.stop();
    }
  });
});

describe("recordName", () => {
  it("makes a valid object name of any identity", () => {
    expect(recordName("bulwark-controller", "Node_7:1234")).toBe("bulwark-controller-sidecars-node-7-1234");
    expect(recordName("bulwark-controller", "---")).toBe("bulwark-controller-sidecars-replica");
    expect(recordName("l", "x".repeat(400))).toHaveLength(253);
  });
});
