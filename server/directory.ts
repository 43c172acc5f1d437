/**
 * The directory of peers: who is online, their public keys, and which key owns which name.
 * Pure: it returns what to announce and leaves sending to the caller.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { PublicKeysText } from "../protocol/e2e.ts";

/** A registered peer. */
export interface PeerEntry<C> {
  /** The normalized name. */
  name: string;
  /** Public keys as registered. */
  keys: PublicKeysText;
  /** The caller's handle for the peer's connection. */
  conn: C;
}

/** Options for {@linkcode Directory}. */
export interface DirectoryOptions {
  /** Name to signing key bindings from earlier runs. @default {new Map()} */
  bindings?: Map<string, string>;
}

/**
 * Names online and the keys that own names.
 *
 * A name is bound to the signing key that first registered it; another key cannot take it, even
 * after its owner leaves, until the operator releases it.
 */
export class Directory<C> {
  #online = new Map<string, PeerEntry<C>>();
  #bindings: Map<string, string>;
  #offlineKeys = new Map<string, PublicKeysText>();

  /** @param options Bindings from an earlier run. */
  constructor(options: DirectoryOptions = {}) {
    this.#bindings = options.bindings ?? new Map();
  }

  /** How many peers are online. */
  get size(): number {
    return this.#online.size;
  }

  /** Name to signing key bindings, to persist. */
  get bindings(): ReadonlyMap<string, string> {
    return this.#bindings;
  }

  /**
   * Registers a peer.
   *
   * @param name The normalized name.
   * @param options The keys and the connection handle.
   * @returns The names of the other peers online (to send in `welcome`) and whether the binding
   * is new (to persist).
   * @throws {PeerstreamError} `NAME_TAKEN` when the name is online or bound to another key.
   */
  register(
    name: string,
    options: { keys: PublicKeysText; conn: C },
  ): { others: string[]; newBinding: boolean } {
    if (this.#online.has(name)) {
      throw new PeerstreamError(
        "NAME_TAKEN",
        `Cannot register "${name}": the name is in use; choose another name`,
      );
    }
    const bound = this.#bindings.get(name);
    if (bound !== undefined && bound !== options.keys.signKey) {
      throw new PeerstreamError(
        "NAME_TAKEN",
        `Cannot register "${name}": the name belongs to another key; choose another name or ask the operator to release it`,
      );
    }
    const others = [...this.#online.keys()];
    this.#online.set(name, { name, keys: options.keys, conn: options.conn });
    this.#offlineKeys.delete(name);
    if (bound === undefined) this.#bindings.set(name, options.keys.signKey);
    return { others, newBinding: bound === undefined };
  }

  /**
   * Removes a peer that left. Its keys stay available to `lookup` so that messages it sent just
   * before leaving can still be verified.
   *
   * @param name The name.
   * @returns The connections to tell about the leave.
   */
  unregister(name: string): C[] {
    const entry = this.#online.get(name);
    if (entry === undefined) return [];
    this.#online.delete(name);
    this.#offlineKeys.set(name, entry.keys);
    if (this.#offlineKeys.size > 10_000) {
      const oldest = this.#offlineKeys.keys().next().value;
      if (oldest !== undefined) this.#offlineKeys.delete(oldest);
    }
    return [...this.#online.values()].map((e) => e.conn);
  }

  /**
   * Releases a name's binding so that another key may take it.
   *
   * @param name The name.
   * @returns Whether a binding existed.
   */
  release(name: string): boolean {
    this.#offlineKeys.delete(name);
    return this.#bindings.delete(name);
  }

  /** The online peer with this name, if any. */
  get(name: string): PeerEntry<C> | undefined {
    return this.#online.get(name);
  }

  /**
   * A peer's keys, online or recently left.
   *
   * @param name The name.
   * @returns The keys and whether the peer is online, or undefined for an unknown name.
   */
  lookup(name: string): { keys: PublicKeysText; online: boolean } | undefined {
    const entry = this.#online.get(name);
    if (entry !== undefined) return { keys: entry.keys, online: true };
    const keys = this.#offlineKeys.get(name);
    return keys === undefined ? undefined : { keys, online: false };
  }

  /** Every online peer's connection except one. */
  othersThan(name: string): C[] {
    const out: C[] = [];
    for (const entry of this.#online.values()) if (entry.name !== name) out.push(entry.conn);
    return out;
  }
}
