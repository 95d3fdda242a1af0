import type { MeshIR, MeshSettings } from "../../contract/ir.js";
import { hashHex } from "../../envoy/snapshot/snapshot.js";
import type { TranslationInput } from "../resolve/objects.js";
import { translate, type Translation } from "../translate/translate.js";

/**
 * Runs the pure translation (objects → resolution → IR) and hands the result on. An unchanged
 * mesh keeps its object from one run to the next, so the Envoy resources built and encoded per
 * mesh object are reused.
 */
export class TranslationRunner {
  private lastMesh: { key: string; mesh: MeshIR } | undefined;

  constructor(private readonly mesh?: MeshSettings) {}

  run(input: TranslationInput): Translation {
    const translation = translate(input, this.mesh);
    const mesh = translation.ir.mesh;
    // A hash of the mesh, not its JSON, to tell it unchanged (snapshots depend only on their egress scope's part: mesh-scope.ts).
    const meshKey = mesh ? hashHex(JSON.stringify(mesh)) : "";
    if (mesh && this.lastMesh?.key === meshKey) translation.ir.mesh = this.lastMesh.mesh;
    this.lastMesh = translation.ir.mesh ? { key: meshKey, mesh: translation.ir.mesh } : undefined;
    return translation;
  }
}
