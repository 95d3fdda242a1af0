import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sidecarSnapshot } from "./sidecar-snapshot.js";
import { goldenCases, goldenDir, goldenNow, goldenSettings } from "../../operator/translate/golden-cases.js";
import { readObjects } from "../../operator/translate/read-objects.js";
import { render } from "../../operator/translate/render.js";
import { makeSnapshot } from "./snapshot.js";
import { XdsType } from "../type-urls.js";
import { encodeResource } from "../proto/encode.js";
import { trustBundleSecret } from "../../operator/identity/sds.js";
import { withSecrets } from "./secrets.js";
import { sharedEncodingSnapshot } from "./shared-encoding.js";

describe("snapshots from shared encodings", () => {
  it.each(goldenCases())("equal the plain encoding for %s: same resources, references and versions", (name) => {
    const path = join(goldenDir, `${name}.in.yaml`);
    const rendered = render({ ...readObjects([{ path, text: readFileSync(path, "utf8") }]).input, now: goldenNow }, goldenSettings(name));
    for (const w of rendered.workloads) {
      const shared = sharedEncodingSnapshot(w.resources);
      const plain = sidecarSnapshot(w.resources);
      expect(shared.version).toBe(plain.version);
      expect(shared.typeVersions).toEqual(plain.typeVersions);
      expect(shared.resources).toEqual(plain.resources);
      // Adding SDS secrets: as if the whole snapshot were built again with them.
      const secret = trustBundleSecret("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
      const secured = withSecrets(shared, [secret]);
      const inputs = [...plain.resources].flatMap(([typeUrl, byName]) => [...byName.values()].map((r) => ({ typeUrl, name: r.name, body: r.body, references: r.references })));
      const rebuilt = makeSnapshot([...inputs, { typeUrl: XdsType.Secret, name: secret.name, body: encodeResource(secret.resource) }]);
      expect(secured.version).toBe(rebuilt.version);
      expect(secured.typeVersions).toEqual(rebuilt.typeVersions);
    }
  });
});
