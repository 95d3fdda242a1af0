import { PolicyFilesError, readObjectFiles, type ReadFiles } from "../operator/standalone/policy-files.js";
import { UsageError } from "./usage.js";

/** The objects of `-f` paths; a path that does not exist is a usage error (one line, exit 2). */
export async function readObjectFlags(paths: readonly string[]): Promise<ReadFiles> {
  try {
    return await readObjectFiles(paths);
  } catch (error) {
    throw error instanceof PolicyFilesError ? new UsageError(error.message) : error;
  }
}
