/**
 * The replay guard: a message id is accepted once, within a time window. What it remembers is
 * bounded, and can be kept in storage so that a replay is caught after a restart too (a file for
 * the terminal; IndexedDB for a browser). Pure: the storage is an interface, the time is given.
 * @module
 */

import { PeerstreamError } from "./errors.ts";

/**
 * What the guard remembers, as JSON-ready data: the ids seen with their send time and the time
 * they count from, and the floor (messages sent at or before it are refused, since some of their
 * ids may have been forgotten to stay within the bound).
 */
export interface ReplayState {
  /** Messages sent at or before this time (ms) are refused; null before any id was forgotten. */
  floor: number | null;
  /** `[id, sentAt, at]`, oldest first: `at` is when the id stops mattering, minus the window. */
  seen: [string, number, number][];
}

/** Loads and saves a {@linkcode ReplayState}; `save` must be atomic. */
export interface ReplayStorage {
  /** Reads the state; undefined when none was saved. */
  load(): ReplayState | undefined;
  /** Writes the state. */
  save(state: ReplayState): void;
}

/** Options for {@linkcode ReplayGuard}. */
export interface ReplayGuardOptions {
  /** How far a message's time may be from now, ms. @default {600000} */
  windowMs?: number;
  /** Most ids remembered; beyond, the oldest is forgotten and the floor raised. @default {4096} */
  maxIds?: number;
  /** Where the state persists, saved before every accepted id counts; in memory when absent. */
  storage?: ReplayStorage;
}

interface Seen {
  sentAt: number;
  at: number;
}

/**
 * Rejects a message id seen before, any message whose time is outside the window, and any message
 * not newer than an id it had to forget (so that memory stays bounded without letting a replay
 * through).
 */
export class ReplayGuard {
  #seen = new Map<string, Seen>();
  #floor = -Infinity;
  readonly #windowMs: number;
  readonly #maxIds: number;
  readonly #storage?: ReplayStorage;

  /** @param options The time window, the bound and the storage. */
  constructor(options: ReplayGuardOptions = {}) {
    this.#windowMs = options.windowMs ?? 600_000;
    this.#maxIds = options.maxIds ?? 4096;
    this.#storage = options.storage;
    const state = options.storage?.load();
    if (state !== undefined) {
      this.#floor = state.floor ?? -Infinity;
      for (const [id, sentAt, at] of state.seen) this.#seen.set(id, { sentAt, at });
    }
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.#seen.size;
  }

  /**
   * Records an id, or throws if it is a replay. With a storage, the id is saved before this
   * returns, so a message shown once is refused after any restart.
   *
   * @param id The message id.
   * @param sentAt The message's time, ms.
   * @param now The current time, ms.
   * @throws {PeerstreamError} `REPLAYED` for a seen id, a time outside the window, or a time not
   * after the floor.
   */
  check(id: string, sentAt: number, now: number): void {
    for (const [seenId, seen] of this.#seen) {
      if (now - seen.at <= this.#windowMs) break;
      this.#seen.delete(seenId);
    }
    // Negated so that NaN is outside the window; a time Date cannot hold is shown as a number.
    if (!(Math.abs(now - sentAt) <= this.#windowMs)) {
      const when = new Date(sentAt);
      throw new PeerstreamError(
        "REPLAYED",
        `Rejected a message sent at ${
          Number.isNaN(when.getTime()) ? sentAt : when.toISOString()
        }: outside the ${this.#windowMs / 1000} s window; check both clocks`,
      );
    }
    if (this.#seen.has(id)) {
      throw new PeerstreamError("REPLAYED", `Rejected message ${id.slice(0, 8)}: already received`);
    }
    if (sentAt <= this.#floor) {
      throw new PeerstreamError(
        "REPLAYED",
        `Rejected message ${
          id.slice(0, 8)
        }: sent before messages this client forgot to stay within ${this.#maxIds} ids; ask for it again`,
      );
    }
    this.#seen.set(id, { sentAt, at: Math.max(sentAt, now) });
    while (this.#seen.size > this.#maxIds) {
      const [oldest, seen] = this.#seen.entries().next().value!;
      this.#seen.delete(oldest);
      this.#floor = Math.max(this.#floor, seen.sentAt);
    }
    this.#storage?.save(this.#state());
  }

  #state(): ReplayState {
    return {
      floor: Number.isFinite(this.#floor) ? this.#floor : null,
      seen: [...this.#seen].map(([id, { sentAt, at }]) => [id, sentAt, at]),
    };
  }
}
