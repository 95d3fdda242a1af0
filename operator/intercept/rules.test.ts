import { describe, expect, it } from "vitest";
import { hasJumps, interceptionProblem, interceptionRules, missingRules } from "./rules.js";

const options = { appPorts: [8080], sidecarPort: 15006, proxyUid: 101 };

describe("interception rules", () => {
  it("redirect inbound and same-pod TCP to the app port to the sidecar, exempting loopback and the sidecar's user", () => {
    expect(interceptionRules(options, "ipv4", { jumps: false }).split("\n")).toEqual([
      "*nat",
      ":BULWARK_INBOUND - [0:0]",
      ":BULWARK_LOCAL - [0:0]",
      "-A PREROUTING -p tcp -j BULWARK_INBOUND",
      "-A OUTPUT -p tcp -j BULWARK_LOCAL",
      "-A BULWARK_INBOUND -p tcp -m multiport --dports 8080 -j REDIRECT --to-ports 15006",
      "-A BULWARK_LOCAL -m owner --uid-owner 101 -j RETURN",
      "-A BULWARK_LOCAL -d 127.0.0.0/8 -j RETURN",
      "-A BULWARK_LOCAL -p tcp -m multiport --dports 8080 -j REDIRECT --to-ports 15006",
      "COMMIT",
      "",
    ]);
  });

  it("exempt ::1 for IPv6, and add no second jump when the chains are already jumped to", () => {
    const v6 = interceptionRules({ ...options, appPorts: [9090, 8080, 8080] }, "ipv6", { jumps: true });
    expect(v6).toContain("-A BULWARK_LOCAL -d ::1/128 -j RETURN");
    expect(v6).toContain("--dports 8080,9090 ");
    expect(v6).not.toContain("-A PREROUTING");
    expect(v6).not.toContain("-A OUTPUT");
  });

  it("refuse what cannot be programmed safely, saying why", () => {
    expect(interceptionProblem({ ...options, appPorts: [] })).toBe("no app port to intercept");
    expect(interceptionProblem({ ...options, appPorts: [70000] })).toBe("app port 70000 is not a port (1-65535)");
    expect(interceptionProblem({ ...options, appPorts: [15006] })).toBe("app port 15006 is the sidecar's inbound port: redirecting it would loop");
    expect(interceptionProblem({ ...options, proxyUid: 0 })).toBe("proxy uid 0 would exempt every root process of the pod from interception");
    expect(() => interceptionRules({ ...options, sidecarPort: 0 }, "ipv4", { jumps: false })).toThrow("sidecar port 0 is not a port (1-65535)");
  });

  it("check the table read back: jumps and a redirect per port and chain", () => {
    const saved = interceptionRules(options, "ipv4", { jumps: false });
    expect(hasJumps(saved)).toBe(true);
    expect(missingRules(saved, options)).toEqual([]);
    expect(missingRules(saved, { ...options, appPorts: [8080, 9090] })).toEqual(["BULWARK_INBOUND: port 9090 redirected to 15006", "BULWARK_LOCAL: port 9090 redirected to 15006"]);
    const noJumps = saved
      .split("\n")
      .filter((l) => !l.startsWith("-A PREROUTING"))
      .join("\n");
    expect(hasJumps(noJumps)).toBe(false);
    expect(missingRules(noJumps, options)).toEqual(["the jumps from PREROUTING and OUTPUT to BULWARK_INBOUND and BULWARK_LOCAL"]);
  });
});
