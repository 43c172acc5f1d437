/**
 * A single server's name bindings on disk: saved in the background (coalesced, so a join storm
 * does not write the file per join), and changed under it by the operator: `serve --release`
 * frees a name, `serve --rename` moves a binding. Not used in a cluster, where Redis holds them.
 * @module
 */

import type { ServerLog } from "../ops/server_log.ts";
import { NameSaver, type NameStore } from "./name_store.ts";

/** Options for {@linkcode savedNames}. */
export interface SavedNamesOptions {
  /** The live bindings, as the directory holds them. */
  bindings: ReadonlyMap<string, string>;
  /** Takes the operator's renamed bindings. */
  directory: { bind(name: string, signKey: string): unknown };
  /** Frees the operator's released names (the community of the moment). */
  community: () => { release(name: string): unknown };
  /** Where saves that fail and the operator's changes go. */
  log: ServerLog;
}

/**
 * Saves a server's name bindings and applies the operator's changes to them.
 *
 * @param store The bindings file.
 * @param options The live bindings, the directory, the community and the log.
 * @returns The saver; the server asks it to save, refresh, flush and close.
 */
export function savedNames(store: NameStore, options: SavedNamesOptions): NameSaver {
  const { log, directory } = options;
  return new NameSaver(store, options.bindings, {
    // `serve --release` waits until this server has read its change.
    acknowledge: true,
    onError: (error) =>
      log.limited(
        "names",
        `Cannot save name bindings: ${(error as Error).message}; check the data folder`,
        { event: "names-save-failed", level: "error" },
      ),
    onReleased: (names) => {
      for (const name of names) {
        options.community().release(name);
        log.line(`release ${log.name(name)}: any key may register it now`, { event: "release" });
      }
    },
    // `serve --rename`: the old name was released above, the new one is bound here.
    onBound: (added) => {
      for (const [name, key] of added) {
        directory.bind(name, key);
        log.line(`bind ${log.name(name)}: renamed by the operator`, { event: "bind" });
      }
    },
  });
}
