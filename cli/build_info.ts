/**
 * What a build stamps into the program. `deno task dist` (tools/dist.ts) bundles a copy of this
 * module with the commit filled in (an import map points this file's URL at the copy), so that
 * `--version` can say which commit a file someone was handed came from.
 * @module
 */

/**
 * The git commit the program was built from, with `-dirty` appended when the working tree had
 * changes; empty when it runs from source.
 */
export const BUILD_COMMIT: string = "";

/**
 * The line `--version` prints.
 *
 * @param version The program's version (deno.json).
 * @param options The stamped commit (empty: run from source) and the Deno version it runs on.
 * @returns For example `peerstream 0.1.0 (commit 977b675…, Deno 2.9.6)`.
 */
export function versionLine(version: string, options: { commit: string; deno: string }): string {
  const from = options.commit === "" ? "from source" : `commit ${options.commit}`;
  return `peerstream ${version} (${from}, Deno ${options.deno})`;
}
