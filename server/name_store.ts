/**
 * Persists name to signing-key bindings in a small JSON file, so that a name stays with its key
 * across restarts until the operator releases it.
 * @module
 */

import { readJsonObjectSync, writeFileAtomic } from "../cli/state_file.ts";

/** Loads and saves bindings. */
export interface NameStore {
  /** Reads the bindings; an absent file gives none. */
  load(): Map<string, string>;
  /**
   * Writes the bindings. They are read before `save` returns, so the caller may change the map
   * while the write is under way.
   *
   * @param bindings Name to signing key.
   * @returns A promise that resolves once the bindings are stored.
   */
  save(bindings: ReadonlyMap<string, string>): Promise<void>;
}

/** Options for {@linkcode NameSaver}. */
export interface NameSaverOptions {
  /** Told of a save that failed; the next request writes every binding again. */
  onError: (error: unknown) => void;
}

/**
 * Saves a live bindings map in the background, coalescing requests: at most one save is in
 * flight, and every request made meanwhile folds into one more save of the latest bindings. A join
 * storm of N new names thus costs a few writes, not N writes of a growing file.
 *
 * Durability: a binding is on disk only once a save that started after it completes. If the
 * process dies first, the newest bindings are lost and those names are free again on the next run;
 * call {@linkcode NameSaver.flush} before exiting.
 *
 * @example
 * ```ts
 * const saver = new NameSaver(fileNameStore(path), bindings, { onError: console.error });
 * bindings.set("alice", signKey);
 * saver.request();
 * await saver.flush();
 * ```
 */
export class NameSaver {
  readonly #store: NameStore;
  readonly #bindings: ReadonlyMap<string, string>;
  readonly #onError: (error: unknown) => void;
  #dirty = false;
  #saving: Promise<void> | undefined;

  /**
   * @param store Where the bindings go.
   * @param bindings The live map; each save writes it as it is when that save starts.
   * @param options Where failures are reported.
   */
  constructor(
    store: NameStore,
    bindings: ReadonlyMap<string, string>,
    options: NameSaverOptions,
  ) {
    this.#store = store;
    this.#bindings = bindings;
    this.#onError = options.onError;
  }

  /** Marks the bindings changed and starts a save unless one is in flight. */
  request(): void {
    this.#dirty = true;
    this.#saving ??= this.#run();
  }

  /**
   * Waits until every requested save is done.
   *
   * @returns A promise that resolves once the bindings as of the last request are stored (or
   * their save failed and was reported).
   */
  flush(): Promise<void> {
    return this.#saving ?? Promise.resolve();
  }

  async #run(): Promise<void> {
    try {
      while (this.#dirty) {
        this.#dirty = false;
        try {
          await this.#store.save(this.#bindings);
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#saving = undefined;
    }
  }
}

/**
 * A {@linkcode NameStore} backed by a JSON file, written atomically (a temporary file renamed over
 * it) with mode 0600. Saves run off the event loop; pair it with {@linkcode NameSaver} so that
 * concurrent saves do not race.
 *
 * @param path The file, e.g. `~/.local/share/peerstream/names.json`.
 * @returns The store.
 * @throws {SyntaxError} On load, when the file is not a JSON object of strings.
 */
export function fileNameStore(path: string): NameStore {
  return {
    load() {
      const value = readJsonObjectSync(path);
      if (value === undefined) return new Map();
      const out = new Map<string, string>();
      for (const [name, key] of Object.entries(value)) {
        // A skipped entry would silently free a bound name, so refuse the file instead.
        if (typeof key !== "string") {
          throw new SyntaxError(
            `Cannot read "${path}": the key of "${name}" is not a string; fix or delete it`,
          );
        }
        out.set(name, key);
      }
      return out;
    },
    async save(bindings) {
      // Serialize first: the caller's map may change while the write is under way.
      await writeFileAtomic(path, JSON.stringify(Object.fromEntries(bindings), null, 1) + "\n");
    },
  };
}
