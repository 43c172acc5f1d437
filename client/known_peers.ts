/**
 * Trust on first use: the client remembers each peer's key fingerprint and notices when the
 * server hands out a different one.
 * @module
 */

import { nameKeys } from "../protocol/names.ts";

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
  /** Known names under each of their look-alike keys (`nameKeys`). */
  #lookalikes = new Map<string, Set<string>>();

  /** @param storage Where the table lives; in memory only when absent. */
  constructor(storage?: KnownPeersStorage) {
    this.#storage = storage;
    this.#table = storage?.load() ?? new Map();
    for (const name of this.#table.keys()) this.#index(name);
  }

  #index(name: string) {
    for (const key of keysOf(name)) {
      const names = this.#lookalikes.get(key) ?? new Set<string>();
      names.add(name);
      this.#lookalikes.set(key, names);
    }
  }

  /**
   * A known peer whose name looks like `name` (UTS #39 confusables, case folded), so that a new
   * `aIice` can be flagged next to a known `alice`. Trust stays keyed by the exact name.
   *
   * @param name A peer's name.
   * @returns Another known name it looks like, or undefined.
   */
  lookalike(name: string): string | undefined {
    for (const key of keysOf(name)) {
      for (const other of this.#lookalikes.get(key) ?? []) if (other !== name) return other;
    }
    return undefined;
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
      this.#index(name);
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

/** The look-alike keys of a name; none for a string no name could be. */
function keysOf(name: string): string[] {
  try {
    return nameKeys(name);
  } catch {
    return [];
  }
}
