/**
 * The endpoint table as the service stores it (in Redis): JSON text in, a checked
 * EndpointTableJSON out. Stored state is input like any other — another version or a damaged
 * value must not crash the service or grow it past its caps (EndpointTable.fromJSON applies
 * the caps; this checks the shape).
 */
import { z } from "zod";
import { errorMessage } from "../../../common/errors.js";
import type { EndpointTableJSON } from "./endpoint-table.js";
import type { LearnerNodeJSON } from "./path-learner.js";

const count = z.number().int().min(0);
const pairs = z.array(z.tuple([z.string().max(1024), count]));
const learnerNode: z.ZodType<LearnerNodeJSON> = z.lazy(() => z.object({ c: z.record(z.string().max(1024), learnerNode).optional(), x: z.literal(1).optional() }));

const storedTable = z.object({
  version: z.literal(1),
  droppedEntries: count,
  workloads: z.array(
    z.object({
      workload: z.string().max(512),
      observed: count,
      dropped: count,
      learner: learnerNode,
      endpoints: z.array(
        z.object({
          method: z.string().max(16),
          path: z.string().max(2048),
          declared: z.boolean(),
          count,
          statuses: pairs,
          authenticated: count,
          appVersions: pairs,
          routes: pairs,
          firstSeenMs: z.number(),
          lastSeenMs: z.number(),
        }),
      ),
    }),
  ),
});

/** The stored table, or why it cannot be used (the service then starts empty and says so). */
export function parseStoredTable(text: string): { table: EndpointTableJSON } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { error: `the stored inventory is not JSON: ${errorMessage(err)}` };
  }
  const parsed = storedTable.safeParse(json);
  if (!parsed.success)
    return { error: `the stored inventory has another shape: ${parsed.error.issues[0]?.message ?? "invalid"} at ${parsed.error.issues[0]?.path.join(".") ?? ""}` };
  return { table: parsed.data };
}
