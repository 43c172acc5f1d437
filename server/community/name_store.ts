/**
 * Persists name to signing-key bindings in a small JSON file, so that a name stays with its key
 * across restarts until the operator releases it.
 * @module
 */

import { readJsonObjectSync, writeFileAtomic, writeFileAtomicSync } from "../../cli/state_file.ts";

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
  /**
   * A token that changes whenever the stored bindings change, or null when nothing is stored.
   * Without it, changes made by others (`serve --release`) go unnoticed.
   */
  version?(): string | null;
  /**
   * Records that a running server (this process) has read the bindings as of `version` (null:
   * none stored); `serve --release` waits for it.
   */
  acknowledge?(version: string | null): void;
  /** Says that the acknowledging server still runs; called every second or so. */
  heartbeat?(): void;
  /** Removes the acknowledgement: the server stops. */
  withdraw?(): void;
  /**
   * What a running server last acknowledged: its process id and the version it read; undefined
   * when none did, or its heartbeat stopped (it crashed).
   */
  acknowledged?(): { pid: number; version: string | null } | undefined;
}

/** Options for {@linkcode NameSaver}. */
export interface NameSaverOptions {
  /** Told of a save that failed; the next request writes every binding again. */
  onError: (error: unknown) => void;
  /**
   * Told of names someone else released in the store (`serve --release` while the server runs);
   * the caller drops them from the live map, so that the next save does not bring them back.
   */
  onReleased?: (names: string[]) => void;
  /**
   * Told of bindings someone else added to the store (`serve --rename OLD NEW` while the server
   * runs: OLD is released, NEW bound to its key); the caller adds them to the live map, so that
   * the next save keeps them. Only names the live map lacks are reported.
   */
  onBound?: (bindings: [name: string, key: string][]) => void;
  /**
   * Acknowledge in the store every version read (at start and on each refresh), until
   * {@linkcode NameSaver.close}, so that `serve --release` can tell when the release applied.
   * @default {false}
   */
  acknowledge?: boolean;
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
 * Releases and renames by the operator: {@linkcode NameSaver.refresh} (called periodically, and
 * before every save) notices that the store changed under it and reports the names that vanished
 * from it since the last save, and the bindings that appeared, so a running server honours
 * `serve --release` and `serve --rename` within a tick.
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
  readonly #onReleased: (names: string[]) => void;
  readonly #onBound: (bindings: [string, string][]) => void;
  #dirty = false;
  #saving: Promise<void> | undefined;
  /** The store's version as last read or written here. */
  #known: string | null;
  /** The names stored as of that version. */
  #stored: Set<string>;
  readonly #acknowledge: boolean;

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
    this.#onReleased = options.onReleased ?? (() => {});
    this.#onBound = options.onBound ?? (() => {});
    this.#known = store.version?.() ?? null;
    this.#stored = new Set(bindings.keys());
    this.#acknowledge = options.acknowledge ?? false;
    if (this.#acknowledge) this.#acknowledgeRead(this.#known);
  }

  #acknowledgeRead(version: string | null) {
    try {
      this.#store.acknowledge?.(version);
    } catch (error) {
      this.#onError(error);
    }
  }

  /** Says in the store that this server no longer runs (for `serve --release`). */
  close(): void {
    if (!this.#acknowledge) return;
    try {
      this.#store.withdraw?.();
    } catch (error) {
      this.#onError(error);
    }
  }

  /**
   * Picks up names released in the store by someone else since it was last read or written here.
   *
   * @returns The released names (also given to `onReleased`).
   */
  refresh(): string[] {
    if (this.#acknowledge) {
      try {
        this.#store.heartbeat?.();
      } catch (error) {
        this.#onError(error);
      }
    }
    const version = this.#store.version?.();
    if (version === undefined || version === this.#known) return [];
    let stored: Map<string, string>;
    try {
      stored = this.#store.load();
    } catch (error) {
      this.#onError(error);
      return [];
    }
    this.#known = version;
    const released = [...this.#stored].filter((name) => !stored.has(name));
    const bound = [...stored].filter(([name]) =>
      !this.#stored.has(name) && !this.#bindings.has(name)
    );
    this.#stored = new Set(stored.keys());
    if (released.length > 0) this.#onReleased(released);
    if (bound.length > 0) this.#onBound(bound);
    if (this.#acknowledge) this.#acknowledgeRead(version);
    return released;
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
        // A release made since the last save must not be written back.
        this.refresh();
        const names = new Set(this.#bindings.keys());
        try {
          await this.#store.save(this.#bindings);
          this.#stored = names;
          this.#known = this.#store.version?.() ?? null;
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#saving = undefined;
    }
  }
}

/** How long a server's acknowledgement counts without a heartbeat, ms (it beats every second). */
const ACKNOWLEDGED_FOR_MS = 3000;

/**
 * A {@linkcode NameStore} backed by a JSON file, written atomically (a temporary file renamed over
 * it) with mode 0600. Saves run off the event loop; pair it with {@linkcode NameSaver} so that
 * concurrent saves do not race. A running server's acknowledgement goes in `NAME.applied.json`
 * beside it.
 *
 * @param path The file, e.g. `~/.local/share/peerstream/names.json`.
 * @returns The store.
 * @throws {SyntaxError} On load, when the file is not a JSON object of strings.
 */
export function fileNameStore(path: string): NameStore {
  // Beside the bindings: which version of them the server running on this folder has read.
  const appliedPath = `${path.replace(/\.json$/, "")}.applied.json`;
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
    acknowledge(version) {
      writeFileAtomicSync(appliedPath, JSON.stringify({ pid: Deno.pid, version }));
    },
    heartbeat() {
      const now = new Date();
      try {
        Deno.utimeSync(appliedPath, now, now);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
    withdraw() {
      try {
        Deno.removeSync(appliedPath);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
    acknowledged() {
      let modified: number;
      try {
        modified = Deno.statSync(appliedPath).mtime?.getTime() ?? 0;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
      // A server that crashed left its file behind, but its heartbeat stopped.
      if (Date.now() - modified > ACKNOWLEDGED_FOR_MS) return undefined;
      const value = readJsonObjectSync(appliedPath);
      if (value === undefined || typeof value.pid !== "number") return undefined;
      return { pid: value.pid, version: typeof value.version === "string" ? value.version : null };
    },
    version() {
      try {
        // Every save renames a new file into place, so the inode changes even when two writes
        // fall within the file system's coarse timestamp tick.
        const info = Deno.statSync(path);
        return `${info.ino}:${info.mtime?.getTime()}:${info.size}`;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
  };
}
