/**
 * Who goes first when the server has more media to write than its sockets take: a viewer about to
 * run dry (or just starting) before one whose lead is merely being filled. Every stream reports
 * the media it hands to its connection and when that is written; while more than a bound is
 * waiting for sockets, segments that only fill a lead wait, and are woken oldest first as writes
 * end (a few per write, so that a thousand waiting streams do not all rush at once).
 * @module
 */

import { DEFAULT_LIMITS, STREAM_DEFAULTS } from "../limits.ts";

/** Options for {@linkcode LeadGate}. */
export interface LeadGateOptions {
  /** A segment needed within this many seconds of playback always goes. @default {STREAM_DEFAULTS.urgentSeconds} */
  urgentSeconds?: number;
  /** Bytes waiting for sockets above which lead-filling segments wait. @default {DEFAULT_LIMITS.leadBacklogBytes} */
  maxBacklogBytes?: number;
  /** Waiters woken per write that ends with the backlog under the bound. @default {4} */
  wakePerWrite?: number;
}

/**
 * The shared write backlog of every stream, and the queue of streams waiting to fill their lead.
 *
 * @example
 * ```ts
 * const gate = new LeadGate();
 * if (gate.mayGo(aheadSeconds)) {
 *   const written = gate.writing(bytes);
 *   try { await conn.sendMediaFrames(id, frames); } finally { written(); }
 * } else {
 *   gate.wait(wakeMe); // then sleep; wakeMe is called when it is this stream's turn
 * }
 * ```
 */
export class LeadGate {
  readonly #urgentSeconds: number;
  readonly #maxBacklogBytes: number;
  readonly #wakePerWrite: number;
  #backlogBytes = 0;
  /** Waiting streams' wake functions, oldest first. */
  #waiting = new Set<() => void>();
  /** Streams woken for their turn that have not taken it yet. */
  #turns = new Set<() => void>();

  /** @param options The urgency horizon, the backlog bound, and how many to wake at a time. */
  constructor(options: LeadGateOptions = {}) {
    this.#urgentSeconds = options.urgentSeconds ?? STREAM_DEFAULTS.urgentSeconds;
    this.#maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_LIMITS.leadBacklogBytes;
    this.#wakePerWrite = options.wakePerWrite ?? 4;
  }

  /** How close to playback a segment must be to go whatever the backlog, seconds. */
  get urgentSeconds(): number {
    return this.#urgentSeconds;
  }

  /** Media bytes handed to connections and not written yet. */
  get backlogBytes(): number {
    return this.#backlogBytes;
  }

  /** How many streams wait to fill their lead. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Whether a segment may go now: an urgent one always; one that fills a lead when the backlog is
   * under the bound, or when the stream was woken for its turn.
   *
   * @param aheadSeconds How far the segment starts ahead of the viewer's playback.
   * @param wake The asking stream's wake function: a stream woken for its turn may go.
   * @returns True when it may go.
   */
  mayGo(aheadSeconds: number, wake?: () => void): boolean {
    if (aheadSeconds <= this.#urgentSeconds) return true;
    if (wake !== undefined && this.#turns.delete(wake)) return true;
    return this.#backlogBytes <= this.#maxBacklogBytes;
  }

  /**
   * Queues a stream for its turn to fill its lead (at the back; once).
   *
   * @param wake Called when it is the stream's turn.
   */
  wait(wake: () => void): void {
    this.#waiting.add(wake);
  }

  /**
   * Takes a stream out of the queue (it ended, or went for another reason).
   *
   * @param wake The function it queued with.
   */
  cancel(wake: () => void): void {
    this.#waiting.delete(wake);
    this.#turns.delete(wake);
  }

  /**
   * Counts media handed to a connection until it is written, dropped, or no longer counted
   * because its socket stopped taking it.
   *
   * @param bytes Its size.
   * @returns Uncounts it (once; later calls do nothing), waking the oldest waiting streams when
   * there is room.
   */
  writing(bytes: number): () => void {
    this.#backlogBytes += bytes;
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      this.#written(bytes);
    };
  }

  #written(bytes: number): void {
    this.#backlogBytes = Math.max(0, this.#backlogBytes - bytes);
    if (this.#backlogBytes > this.#maxBacklogBytes) return;
    let woken = 0;
    for (const wake of this.#waiting) {
      if (woken++ >= this.#wakePerWrite) break;
      this.#waiting.delete(wake);
      this.#turns.add(wake);
      wake();
    }
  }
}
