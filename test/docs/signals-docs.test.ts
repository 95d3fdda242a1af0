import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abuseSignals } from "../../operator/api/v1alpha1/abuse-signals.js";
import { DEFAULT_SIGNAL_TUNABLES } from "../../services/telemetry/signals/config.js";
import { signalOverrides } from "../../services/telemetry/signals/policy-config.js";

/** The `| \`block.field\` | \`default\` | … |` rows of docs/signals.md. */
function documentedDefaults(doc: string): { block: string; field: string; shown: string }[] {
  return [...doc.matchAll(/^\| `([A-Za-z]+)\.([A-Za-z]+)` \| `([^`]*)` \|/gm)].map((m) => ({ block: m[1] ?? "", field: m[2] ?? "", shown: m[3] ?? "" }));
}

describe("docs/signals.md", () => {
  const rows = documentedDefaults(readFileSync(join(import.meta.dirname, "..", "..", "docs", "signals.md"), "utf8"));

  it("documents every field of spec.abuseSignals except enabled", () => {
    const fields = Object.entries(abuseSignals.shape).flatMap(([block, schema]) =>
      Object.keys((schema.unwrap() as unknown as { shape: Record<string, unknown> }).shape)
        .filter((f) => f !== "enabled")
        .map((f) => `${block}.${f}`),
    );
    expect(rows.map((r) => `${r.block}.${r.field}`).sort()).toEqual(fields.sort());
  });

  it("shows the defaults the detectors use", () => {
    for (const { block, field, shown } of rows) {
      const value: unknown = /^[0-9]+$/.test(shown) ? Number(shown) : shown === "[]" ? [] : shown;
      const override = Object.values(signalOverrides(abuseSignals.parse({ [block]: { [field]: value } })))[0] as Record<string, unknown>;
      const kind = Object.keys(signalOverrides(abuseSignals.parse({ [block]: {} })))[0] as keyof typeof DEFAULT_SIGNAL_TUNABLES;
      const [name, converted] = Object.entries(override)[0]!;
      expect(converted, `${block}.${field}`).toEqual((DEFAULT_SIGNAL_TUNABLES[kind] as unknown as Record<string, unknown>)[name]);
    }
  });
});
