/**
 * Trust on first use: the client remembers each peer's key fingerprint and notices when the
 * server hands out a different one.
 * @module
 */

/** What the client knows of a peer's key. */
export type KeyTrust =
  /** Seen for the first time now, and remembered. */
  | "new"
  /** The same key as before. */
  | "known"
  /** The same key, and the user compared it out of band. */
  | "verified"
  /** A different key than before: not to be trusted until the user accepts it. */
  | "changed";

/** What the client remembers of one peer. */
export interface KnownPeer {
  /** The key's fingerprint. */
  fingerprint: string;
  /** Whether the user compared it out of band. */
  verified: boolean;
}

/**
 * Loads and saves the known-peers table: a file for the terminal, IndexedDB for a browser. Keyed
 * by the exact name in a `Map`, so that names such as `constructor` or `__proto__` are names like
 * any other, never inherited properties.
 */
export interface KnownPeersStorage {
  /** Reads the table; empty when absent. */
  load(): Map<string, KnownPeer>;
  /** Writes the table. */
  save(table: ReadonlyMap<string, KnownPeer>): void;
}

/** Name to fingerprint, with a verified mark. */
export class KnownPeers {
  #table: Map<string, KnownPeer>;
  #storage?: KnownPeersStorage;
  #pending = new Map<string, string>();

  /** @param storage Where the table lives; in memory only when absent. */
  constructor(storage?: KnownPeersStorage) {
    this.#storage = storage;
    this.#table = storage?.load() ?? new Map();
  }

  /**
   * Checks a key the server handed out, remembering it on first use.
   *
   * @param name The peer.
   * @param fingerprint The key's fingerprint.
   * @returns How far the key can be trusted.
   */
  check(name: string, fingerprint: string): KeyTrust {
    const entry = this.#table.get(name);
    if (entry === undefined) {
      this.#table.set(name, { fingerprint, verified: false });
      this.#storage?.save(this.#table);
      return "new";
    }
    if (entry.fingerprint !== fingerprint) {
      this.#pending.set(name, fingerprint);
      return "changed";
    }
    return entry.verified ? "verified" : "known";
  }

  /**
   * Accepts the changed key last seen for a peer.
   *
   * @param name The peer.
   * @returns False when no changed key is pending for that peer.
   */
  acceptChanged(name: string): boolean {
    const fingerprint = this.#pending.get(name);
    if (fingerprint === undefined) return false;
    this.#pending.delete(name);
    this.#table.set(name, { fingerprint, verified: false });
    this.#storage?.save(this.#table);
    return true;
  }

  /**
   * Marks a peer's remembered key as verified.
   *
   * @param name The peer.
   * @param fingerprint The fingerprint the user compared; when given, it must be the remembered
   * one, so that comparing a changed key never marks the old key verified.
   * @returns False when no key is remembered for that peer, or the fingerprint differs.
   */
  markVerified(name: string, fingerprint?: string): boolean {
    const entry = this.#table.get(name);
    if (entry === undefined) return false;
    if (fingerprint !== undefined && fingerprint !== entry.fingerprint) return false;
    entry.verified = true;
    this.#storage?.save(this.#table);
    return true;
  }

  /** The remembered fingerprint of a peer. */
  fingerprint(name: string): string | undefined {
    return this.#table.get(name)?.fingerprint;
  }
}
