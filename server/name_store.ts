/**
 * Persists name to signing-key bindings in a small JSON file, so that a name stays with its key
 * across restarts until the operator releases it.
 * @module
 */

/** Loads and saves bindings. */
export interface NameStore {
  /** Reads the bindings; an absent file gives none. */
  load(): Map<string, string>;
  /** Writes the bindings. */
  save(bindings: ReadonlyMap<string, string>): void;
}

/**
 * A {@linkcode NameStore} backed by a JSON file, written atomically with mode 0600.
 *
 * @param path The file, e.g. `~/.local/share/peerstream/names.json`.
 * @returns The store.
 * @throws {SyntaxError} On load, when the file is not a JSON object of strings.
 */
export function fileNameStore(path: string): NameStore {
  return {
    load() {
      let text: string;
      try {
        text = Deno.readTextFileSync(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return new Map();
        throw error;
      }
      const value: unknown = JSON.parse(text);
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new SyntaxError(`Cannot read "${path}": expected a JSON object; fix or delete it`);
      }
      const out = new Map<string, string>();
      for (const [name, key] of Object.entries(value)) {
        if (typeof key === "string") out.set(name, key);
      }
      return out;
    },
    save(bindings) {
      const dir = path.slice(0, path.lastIndexOf("/"));
      if (dir) Deno.mkdirSync(dir, { recursive: true });
      const tmp = `${path}.${crypto.randomUUID()}.tmp`;
      Deno.writeTextFileSync(tmp, JSON.stringify(Object.fromEntries(bindings), null, 1) + "\n", {
        mode: 0o600,
      });
      Deno.renameSync(tmp, path);
    },
  };
}
