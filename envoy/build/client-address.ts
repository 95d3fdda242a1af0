import type { JsonObject } from "../json.js";
import type { ClientAddressIR, TranslationSettings, WorkloadIR } from "../../contract/ir.js";
import { overwriteHeader } from "./common.js";
import { TypeUrl } from "../type-urls.js";

/**
 * The client's address, as the connection manager decides it: the address Envoy's
 * `remote_address` rate-limit action, the access log and RBAC's `remote_ip` all use.
 */

/** The workload's policy's choice, else the installation's, else the TCP peer. */
export function clientAddressOf(workload: WorkloadIR, settings: TranslationSettings): ClientAddressIR {
  return workload.listener.clientAddress ?? settings.clientAddress ?? { from: "peer" };
}

/** Connection-manager fields that make the TCP peer the client (no trusted hops): X-Forwarded-For is not believed. */
export const PEER_ADDRESS: JsonObject = { use_remote_address: true };

/** Connection-manager fields that believe what trusted proxies say. */
export function believedAddress(mode: ClientAddressIR): JsonObject {
  switch (mode.from) {
    case "peer":
      return PEER_ADDRESS;
    case "forwardedFor":
      return { use_remote_address: true, xff_num_trusted_hops: mode.trustedHops };
    case "header":
      // Detection extensions replace use_remote_address; without an address in the header the peer is the client.
      return {
        original_ip_detection_extensions: [
          { name: "envoy.http.original_ip_detection.custom_header", typed_config: { "@type": TypeUrl.customHeaderIpDetection, header_name: mode.header } },
        ],
      };
  }
}

/** Peers whose word is believed, when only some are (filter chains split on them); undefined when any peer is. */
export function trustedPeers(mode: ClientAddressIR): string[] | undefined {
  return mode.from === "peer" ? undefined : mode.trustedCIDRs;
}

export function cidrRange(cidr: string): JsonObject {
  const slash = cidr.lastIndexOf("/");
  return { address_prefix: cidr.slice(0, slash), prefix_len: Number(cidr.slice(slash + 1)) };
}

const DECIDED_ADDRESS = "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%";

/**
 * Request headers the app receives with the address Bulwark decided on, replacing whatever the
 * client wrote there: X-Forwarded-For (Envoy would keep the client's entries and append the
 * peer), X-Envoy-External-Address, and the trusted header.
 */
export function clientAddressRequestHeaders(mode: ClientAddressIR): JsonObject[] {
  const names = ["x-envoy-external-address", "x-forwarded-for", ...(mode.from === "header" ? [mode.header] : [])];
  return [...new Set(names)].sort().map((name) => overwriteHeader(name, DECIDED_ADDRESS));
}
