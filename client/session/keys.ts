/**
 * The key cache: peers' keys from the server, checked against the known-peers table (trust on
 * first use, by the exact name; look-alike names flagged), bounded, with one lookup per name at a
 * time.
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { importPeerKeys, type PeerKeys } from "../../protocol/e2e.ts";
import type { KeyInfoMessage } from "../../protocol/messages.ts";
import { showName } from "../../protocol/shown_name.ts";
import { escapeName } from "../../protocol/text.ts";
import type { KeyTrust, KnownPeers } from "../known_peers.ts";

/** A peer's keys with how far they are trusted. */
export type TrustedKeys = PeerKeys & {
  /** Trust in the key (trust on first use, by the exact name). */
  trust: KeyTrust;
  /** A known peer whose name this one looks like, if any. */
  lookalike?: string;
};

/** Options for {@linkcode KeyCache}. */
export interface KeyCacheOptions {
  /** The trust-on-first-use table. */
  known: KnownPeers;
  /** Peers' keys cached, most recent kept. */
  maxKeys: number;
  /** Asks the server for a peer's keys (a `key` request). */
  lookUp(name: string): Promise<KeyInfoMessage>;
  /** Says that a new peer's name looks like a known one's. */
  warning?(text: string, code: ErrorCode): void;
}

/** Peers' keys, looked up once and cached. */
export class KeyCache {
  readonly #options: KeyCacheOptions;
  readonly #keys = new Map<string, TrustedKeys>();
  readonly #lookups = new Map<string, Promise<TrustedKeys>>();

  /** @param options The table, the bound and how to look a key up. */
  constructor(options: KeyCacheOptions) {
    this.#options = options;
  }

  /** How many keys are cached. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * A peer's keys: cached, or looked up (lookups of one name at the same time share one request)
   * and checked against the known-peers table. A changed key is never cached.
   *
   * @param name The peer.
   * @returns The keys and how far they are trusted.
   * @throws {PeerstreamError} `BAD_MESSAGE` when the server answers for another name.
   */
  get(name: string): Promise<TrustedKeys> {
    const cached = this.#keys.get(name);
    if (cached !== undefined) return Promise.resolve(cached);
    let lookup = this.#lookups.get(name);
    if (lookup === undefined) {
      lookup = this.#lookUp(name).finally(() => this.#lookups.delete(name));
      this.#lookups.set(name, lookup);
    }
    return lookup;
  }

  /**
   * Forgets a peer's cached keys (it left, or its trust changed).
   *
   * @param name The peer.
   */
  forget(name: string): void {
    this.#keys.delete(name);
  }

  /**
   * Whether the known-peers table remembers a key for a peer.
   *
   * @param name The peer.
   */
  knows(name: string): boolean {
    return this.#options.known.fingerprint(name) !== undefined;
  }

  /**
   * Accepts a peer's changed key.
   *
   * @param name The peer.
   * @returns False when no changed key was pending.
   */
  accept(name: string): boolean {
    this.#keys.delete(name);
    return this.#options.known.acceptChanged(name);
  }

  /**
   * Marks a peer's remembered key as verified out of band.
   *
   * @param name The peer.
   * @param fingerprint The fingerprint compared; it must be the remembered one.
   * @returns False when no key, or another key, is remembered.
   */
  verify(name: string, fingerprint: string): boolean {
    this.#keys.delete(name);
    return this.#options.known.markVerified(name, fingerprint);
  }

  /**
   * A peer met before came online: looks its key up once and calls `changed` if it changed.
   *
   * @param name The peer.
   * @param changed Told when the key changed since last talked.
   */
  recheck(name: string, changed: (name: string) => void): void {
    if (!this.knows(name)) return;
    this.get(name).then(
      (keys) => {
        if (keys.trust === "changed") changed(name);
      },
      () => {
        // It left meanwhile, or the connection closed: nothing to announce.
      },
    );
  }

  async #lookUp(name: string): Promise<TrustedKeys> {
    const info = await this.#options.lookUp(name);
    if (info.name !== name.normalize("NFC")) {
      throw new PeerstreamError(
        "BAD_MESSAGE",
        `The server answered "key" for ${
          JSON.stringify(info.name)
        }, not "${name}"; it may be misbehaving`,
      );
    }
    const keys = await importPeerKeys(info);
    const { known } = this.#options;
    const trust = known.check(name, keys.fingerprint);
    const lookalike = known.lookalike(name);
    const entry: TrustedKeys = lookalike === undefined
      ? { ...keys, trust }
      : { ...keys, trust, lookalike };
    if (trust === "new" && lookalike !== undefined) {
      this.#options.warning?.(
        `"${showName(name)}" is new to you and looks like "${
          showName(lookalike)
        }", a peer you know; compare fingerprints with VERIFY ${
          escapeName(name)
        } before trusting it`,
        "NAME_CONFUSABLE",
      );
    }
    if (trust !== "changed") {
      this.#keys.set(name, entry);
      if (this.#keys.size > this.#options.maxKeys) {
        this.#keys.delete(this.#keys.keys().next().value!);
      }
    }
    return entry;
  }
}
