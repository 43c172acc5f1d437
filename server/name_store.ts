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
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new SyntaxError(`Cannot read "${path}": it is not valid JSON; fix or delete it`, {
          cause: error,
        });
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new SyntaxError(`Cannot read "${path}": expected a JSON object; fix or delete it`);
      }
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
    save(bindings) {
      // A bare file name has no folder to create (slice(0, -1) would name a bogus one).
      const slash = path.lastIndexOf("/");
      if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
      const tmp = `${path}.${crypto.randomUUID()}.tmp`;
      Deno.writeTextFileSync(tmp, JSON.stringify(Object.fromEntries(bindings), null, 1) + "\n", {
        mode: 0o600,
      });
      Deno.renameSync(tmp, path);
    },
  };
}
