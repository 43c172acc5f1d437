/**
 * The directory of peers: who is online, their public keys, and which key owns which name.
 * Pure: it returns what to announce and leaves sending to the caller.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import { nameKeys } from "../../protocol/names.ts";

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
  /** Name to signing key bindings from earlier runs; kept up to date. @default {new Map()} */
  bindings?: Map<string, string>;
  /** Names one signing key may hold (`NAME_LIMIT`). @default {Infinity} */
  maxNamesPerKey?: number;
  /** Names held in all (`NAME_LIMIT`). @default {Infinity} */
  maxNames?: number;
}

/** Options for {@linkcode Directory.register}. */
export interface RegisterOptions<C> {
  /** Public keys as sent in `hello`. */
  keys: PublicKeysText;
  /** The caller's handle for the connection. */
  conn: C;
  /** Hold the name only while this connection lasts; never bind it for good. @default {false} */
  ephemeral?: boolean;
  /**
   * Asked before a new binding is made (e.g. a per-address budget); false refuses it with
   * `NAME_LIMIT`. Not asked for a name already bound to the key, nor an ephemeral one.
   */
  canBind?: () => boolean;
}

/**
 * Names online and the keys that own names.
 *
 * A name is bound to the signing key that first registered it; another key cannot take it, even
 * after its owner leaves, until the operator releases it. An ephemeral key holds a name only while
 * online: it is never bound, so it is free again once its holder leaves.
 *
 * Names that look alike (`alice`, `Alice`, `aIice`: they share a key of `nameKeys`, UTS #39
 * confusables with case folded) are one name for uniqueness: a new name that looks like a name
 * bound to, or online with, another key is refused with `NAME_CONFUSABLE`. Bindings made before
 * keep working for their own keys.
 */
export class Directory<C> {
  #online = new Map<string, PeerEntry<C>>();
  #bindings: Map<string, string>;
  /** How many names each signing key holds. */
  #perKey = new Map<string, number>();
  #offlineKeys = new Map<string, PublicKeysText>();
  /** Bound and online names under each of their look-alike keys. */
  #lookalikes = new Map<string, Set<string>>();
  readonly #maxPerKey: number;
  readonly #maxNames: number;

  /** @param options Bindings from an earlier run and the limits on new ones. */
  constructor(options: DirectoryOptions = {}) {
    this.#bindings = options.bindings ?? new Map();
    this.#maxPerKey = options.maxNamesPerKey ?? Infinity;
    this.#maxNames = options.maxNames ?? Infinity;
    for (const [name, key] of this.#bindings) {
      this.#perKey.set(key, this.#countOf(key) + 1);
      this.#index(name);
    }
  }

  /** The look-alike keys of a name; none for a string no name could be (over 256 units). */
  #keysOf(name: string): string[] {
    try {
      return nameKeys(name);
    } catch {
      return [];
    }
  }

  #index(name: string) {
    for (const key of this.#keysOf(name)) {
      const names = this.#lookalikes.get(key) ?? new Set<string>();
      names.add(name);
      this.#lookalikes.set(key, names);
    }
  }

  /** Drops a name from the look-alike index once it is neither bound nor online. */
  #unindex(name: string) {
    if (this.#bindings.has(name) || this.#online.has(name)) return;
    for (const key of this.#keysOf(name)) {
      const names = this.#lookalikes.get(key);
      names?.delete(name);
      if (names?.size === 0) this.#lookalikes.delete(key);
    }
  }

  /** A bound or online name of another key that `name` looks like, if any. */
  #lookalikeOf(name: string, signKey: string): string | undefined {
    for (const key of this.#keysOf(name)) {
      for (const other of this.#lookalikes.get(key) ?? []) {
        const owner = this.#bindings.get(other) ?? this.#online.get(other)?.keys.signKey;
        if (other !== name && owner !== signKey) return other;
      }
    }
    return undefined;
  }

  #countOf(signKey: string): number {
    return this.#perKey.get(signKey) ?? 0;
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
   * @param options The keys, the connection handle, whether the keys are ephemeral, and a check
   * on new bindings.
   * @returns The names of the other peers online (to send in `welcome`) and whether the binding
   * is new (to persist).
   * @throws {PeerstreamError} `NAME_TAKEN` when the name is online or bound to another key;
   * `NAME_LIMIT` when a new binding would pass a limit.
   */
  register(name: string, options: RegisterOptions<C>): { others: string[]; newBinding: boolean } {
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
    const signKey = options.keys.signKey;
    if (bound === undefined) {
      const lookalike = this.#lookalikeOf(name, signKey);
      if (lookalike !== undefined) {
        throw new PeerstreamError(
          "NAME_CONFUSABLE",
          `Cannot register "${name}": it looks like "${lookalike}", a name of another key; choose a name that looks different`,
        );
      }
    }
    const newBinding = bound === undefined && options.ephemeral !== true;
    if (newBinding) this.#checkNewBinding(name, signKey, options.canBind);
    const others = [...this.#online.keys()];
    this.#online.set(name, { name, keys: options.keys, conn: options.conn });
    this.#offlineKeys.delete(name);
    if (newBinding) {
      this.#bindings.set(name, signKey);
      this.#perKey.set(signKey, this.#countOf(signKey) + 1);
    }
    this.#index(name);
    return { others, newBinding };
  }

  #checkNewBinding(name: string, signKey: string, canBind?: () => boolean) {
    const refuse = (why: string) =>
      new PeerstreamError("NAME_LIMIT", `Cannot register "${name}": ${why}`);
    if (this.#countOf(signKey) >= this.#maxPerKey) {
      throw refuse(
        `your key already holds ${this.#maxPerKey} names; use one of them, or ask the operator to release one`,
      );
    }
    if (this.#bindings.size >= this.#maxNames) {
      throw refuse(
        `the server holds ${this.#maxNames} names, its limit; ask the operator to release some`,
      );
    }
    if (canBind !== undefined && !canBind()) {
      throw refuse("too many new names were registered from your address today; try tomorrow");
    }
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
    this.#unindex(name);
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
    const key = this.#bindings.get(name);
    if (key === undefined) return false;
    this.#bindings.delete(name);
    this.#unindex(name);
    const count = this.#countOf(key) - 1;
    if (count > 0) this.#perKey.set(key, count);
    else this.#perKey.delete(key);
    return true;
  }

  /**
   * Adds a binding made elsewhere (the operator's `serve --rename`), as if its key had registered
   * the name: it counts towards the key's names and is indexed for look-alikes.
   *
   * @param name The name, normalized.
   * @param signKey The signing key that owns it.
   * @returns False when the name was bound already (nothing changes).
   */
  bind(name: string, signKey: string): boolean {
    if (this.#bindings.has(name)) return false;
    this.#bindings.set(name, signKey);
    this.#perKey.set(signKey, this.#countOf(signKey) + 1);
    this.#index(name);
    return true;
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
