import { clientAddress } from "../operator/api/v1alpha1/client-address.js";
import { buildClientAddress } from "../operator/ir/build-client-address.js";
import type { ClientAddressIR } from "../contract/ir.js";
import { UsageError } from "./usage.js";

export const clientAddressHelp = `  --client-address-trusted-hops N   proxies in front of the pods that append to X-Forwarded-For, 0 to 10; 0: the
                             TCP peer is the client [BULWARK_CLIENT_ADDRESS_TRUSTED_HOPS] (default 0)
  --client-address-header NAME  a header trusted proxies set to the client's IP (e.g. X-Real-IP), instead of
                             trusted hops; needs trusted CIDRs [BULWARK_CLIENT_ADDRESS_HEADER]
  --client-address-trusted-cidrs CIDR,...  networks of the proxies believed; any other peer is judged by its
                             TCP address [BULWARK_CLIENT_ADDRESS_TRUSTED_CIDRS]
                             Policies override these with spec.clientAddress.
`;

/** The flags' values as given (flag or environment variable); empty means unset. */
export interface ClientAddressFlags {
  trustedHops: string;
  header: string;
  trustedCidrs: string;
}

/**
 * The installation's client address, checked by the same schema as a policy's
 * spec.clientAddress; a mistake is a UsageError naming the flag.
 */
export function parseClientAddressFlags(flags: ClientAddressFlags): ClientAddressIR {
  const hops = flags.trustedHops.trim();
  if (hops !== "" && !/^[0-9]{1,2}$/.test(hops)) throw new UsageError(`--client-address-trusted-hops ${hops} is not a whole number from 0 to 10`);
  const cidrs = flags.trustedCidrs
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  const header = flags.header.trim();
  const spec = {
    ...(header !== "" ? { header } : { trustedHops: hops === "" ? 0 : Number(hops) }),
    ...(cidrs.length > 0 ? { trustedCIDRs: cidrs } : {}),
  };
  if (header !== "" && hops !== "") throw new UsageError("--client-address-header and --client-address-trusted-hops exclude each other: set one");
  const parsed = clientAddress.safeParse(spec);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? "");
      const name =
        field === "trustedCIDRs"
          ? "--client-address-trusted-cidrs"
          : field === "header"
            ? "--client-address-header"
            : field === "trustedHops"
              ? "--client-address-trusted-hops"
              : "--client-address-*";
      const at = issue.path.length > 1 ? ` (${String(issue.path[1] !== undefined ? cidrs[Number(issue.path[1])] : "")})` : "";
      return `${name}${at}: ${issue.message}`;
    });
    throw new UsageError(problems.join("; "));
  }
  return buildClientAddress(parsed.data);
}
