/**
 * A room's checked chain, kept in order: each entry parsed, its signature verified with the
 * author's key as the checker knows it (a client's known peers, the server's directory), then
 * applied by {@linkcode applyEntry}. It answers the state at any seq, which a room envelope names.
 * Pure apart from WebCrypto.
 * @module
 */

import type { PublicKeysText } from "./e2e.ts";
import { PeerstreamError } from "./errors.ts";
import {
  applyEntry,
  type HashedEntry,
  type KeyPins,
  keyPins,
  readEntry,
  type RoomLimits,
  type RoomState,
  verifyEntry,
} from "./room_chain.ts";

/** An author's signing key as the checker knows it, and the pins of both their keys. */
export interface RoomKeys {
  /** The Ed25519 public key that verifies their entries and messages. */
  sign: CryptoKey;
  /** The fingerprints of both their keys. */
  pins: KeyPins;
}

/** Finds a person's keys as the checker knows them; undefined when it has none. */
export type RoomKeyLookup = (name: string) => Promise<RoomKeys | undefined>;

/**
 * Imports a person's signing key and pins both keys.
 *
 * @param keys Both public keys, SPKI, base64.
 * @returns What {@linkcode RoomKeyLookup} answers.
 * @throws {PeerstreamError} `KEY_INVALID` when a key cannot be imported.
 */
export async function roomKeys(keys: PublicKeysText): Promise<RoomKeys> {
  const pins = await keyPins(keys);
  try {
    const sign = await crypto.subtle.importKey(
      "spki",
      Uint8Array.fromBase64(keys.signKey),
      { name: "Ed25519" },
      true,
      ["verify"],
    );
    return { sign, pins };
  } catch (error) {
    throw new PeerstreamError("KEY_INVALID", "Cannot import a signing key: it is not Ed25519", {
      cause: error,
    });
  }
}

/** Options for {@linkcode RoomHistory}. */
export interface RoomHistoryOptions extends RoomLimits {
  /** How many recent states are kept; older ones are replayed from the start. @default {256} */
  recentStates?: number;
}

interface Checked {
  hashed: HashedEntry;
  signedBy: string;
}

/** A room's chain as far as it has been checked. */
export class RoomHistory {
  #entries: Checked[] = [];
  #states: (RoomState | undefined)[] = [];
  readonly #limits: RoomLimits;
  readonly #recent: number;

  /** @param options The limits the chain must keep, and how many states to keep. */
  constructor(options: RoomHistoryOptions = {}) {
    this.#limits = { maxMembers: options.maxMembers, maxEntries: options.maxEntries };
    this.#recent = options.recentStates ?? 256;
  }

  /** The state after the last checked entry; undefined before `create`. */
  get state(): RoomState | undefined {
    return this.#states.at(-1);
  }

  /** The last checked seq; -1 when empty. */
  get seq(): number {
    return this.#entries.length - 1;
  }

  /** The checked entries, in order. */
  get entries(): readonly HashedEntry[] {
    return this.#entries.map((c) => c.hashed);
  }

  /**
   * The state right after entry `seq`.
   *
   * @param seq A seq of this chain.
   * @returns The state, or undefined when `seq` is not checked (yet).
   */
  stateAt(seq: number): RoomState | undefined {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.#entries.length) return undefined;
    const kept = this.#states[seq];
    if (kept !== undefined) return kept;
    let state: RoomState | undefined;
    for (let i = 0; i <= seq; i++) {
      const { hashed, signedBy } = this.#entries[i];
      state = applyEntry(state, hashed, { ...this.#limits, signedBy });
    }
    return state;
  }

  /**
   * Checks and appends entries in order: all of them, or none when one is refused.
   *
   * @param inputs Signed entries, base64 or bytes, continuing this chain.
   * @param lookup The authors' keys as the checker knows them.
   * @returns The entries appended.
   * @throws {PeerstreamError} `CHAIN_INVALID` (malformed, or not continuing the chain),
   * `UNKNOWN_PEER` (an author whose key is unknown), `BAD_SIGNATURE`, `NOT_A_MEMBER`,
   * `NOT_ALLOWED` or `ROOM_LIMIT`.
   */
  async extend(
    inputs: readonly (string | Uint8Array)[],
    lookup: RoomKeyLookup,
  ): Promise<HashedEntry[]> {
    let state = this.state;
    const added: Checked[] = [];
    const states: RoomState[] = [];
    for (const input of inputs) {
      const hashed = await readEntry(input);
      const { entry } = hashed;
      const keys = await lookup(entry.author);
      if (keys === undefined) {
        throw new PeerstreamError(
          "UNKNOWN_PEER",
          `Cannot check room entry ${entry.seq}: the key of "${entry.author}" is unknown`,
        );
      }
      if (!await verifyEntry(hashed, keys.sign)) {
        throw new PeerstreamError(
          "BAD_SIGNATURE",
          `Rejected room entry ${entry.seq} (${entry.op}): it is not signed by "${entry.author}"'s key`,
        );
      }
      state = applyEntry(state, hashed, { ...this.#limits, signedBy: keys.pins.sign });
      added.push({ hashed, signedBy: keys.pins.sign });
      states.push(state);
    }
    for (let i = 0; i < added.length; i++) {
      this.#entries.push(added[i]);
      this.#states.push(states[i]);
    }
    const forget = this.#states.length - 1 - this.#recent;
    for (let i = Math.max(0, forget - added.length); i < forget; i++) this.#states[i] = undefined;
    return added.map((c) => c.hashed);
  }
}
