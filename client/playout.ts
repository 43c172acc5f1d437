/**
 * The playout queue: media received from the server waits here until the player takes it, so the
 * socket reader never waits for the player. Pure: no timers, no I/O.
 *
 * How the bounds fit (see docs/design.md): the server sends at most 6 s ahead of its model of
 * the viewer's playback (`leadSeconds`), a whole segment (2 s) at a time, so a player reading in
 * real time leaves at most about 8 s here, plus the player's start-up and clock skew. Above
 * {@linkcode PLAYOUT_DEFAULTS.holdSeconds} (lead 6 s + one segment 2 s + a 2 s margin = 10 s) the
 * player is not keeping up (stopped, paused in its own window, or slower than real time): the
 * client holds the stream with `pause` and resumes below
 * {@linkcode PLAYOUT_DEFAULTS.releaseSeconds} (4 s: two segments, far more than the round trip the
 * resume takes). What is in flight when `pause` goes out (at most 2 unconfirmed segments, 4 s)
 * still arrives, so a queue never holds more than about 14 s; over
 * {@linkcode PLAYOUT_DEFAULTS.maxSeconds} or {@linkcode PLAYOUT_DEFAULTS.maxBytes} the server is
 * ignoring the hold and the stream is refused rather than the memory grown.
 * @module
 */

/** The queue's bounds. */
export interface PlayoutConfig {
  /** Queued media seconds at which the stream is held (`pause`). @default {10} */
  holdSeconds: number;
  /** Queued media seconds under which a held stream resumes. @default {4} */
  releaseSeconds: number;
  /** Queued media seconds beyond which {@linkcode PlayoutQueue.push} refuses. @default {16} */
  maxSeconds: number;
  /** Queued bytes beyond which {@linkcode PlayoutQueue.push} refuses. @default {67108864} */
  maxBytes: number;
}

/** The default bounds (see the module documentation for how they fit the server's lead). */
export const PLAYOUT_DEFAULTS: Readonly<PlayoutConfig> = Object.freeze({
  holdSeconds: 10,
  releaseSeconds: 4,
  maxSeconds: 16,
  maxBytes: 64 * 1024 * 1024,
});

/** A segment as the queue needs it: where its bytes sit in media time. */
export interface QueuedSegment {
  /** Start, seconds from the start of the title. */
  start: number;
  /** Length, seconds. */
  duration: number;
  /** Its size in bytes. */
  bytes: number;
}

/** A piece of media taken for the player, and the media time reached at its last byte. */
export interface PlayoutPiece {
  /** The bytes. */
  data: Uint8Array;
  /** Media time, seconds, at the end of these bytes. */
  mediaEnd: number;
}

interface Chunk {
  data: Uint8Array;
  /** Bytes of `data` already taken. */
  taken: number;
  mediaStart: number;
  mediaEnd: number;
}

/**
 * A FIFO of media chunks with their place in media time. Bytes of a segment are spread evenly
 * over its duration, which is exact at segment boundaries and close enough between them.
 *
 * @example
 * ```ts
 * const queue = new PlayoutQueue(0);
 * queue.segment({ start: 0, duration: 2, bytes: 100 });
 * queue.push(new Uint8Array(100));
 * queue.seconds; // 2
 * queue.take(40)?.mediaEnd; // 0.8
 * ```
 */
export class PlayoutQueue {
  readonly #config: Readonly<PlayoutConfig>;
  #chunks: Chunk[] = [];
  #head = 0;
  #bytes = 0;
  #segment?: QueuedSegment;
  #segmentOffset = 0;
  #pushedEnd: number;
  #takenEnd: number;
  #ended = false;

  /**
   * @param origin Media time where this queue's bytes start (the epoch's first segment).
   * @param config The bounds.
   */
  constructor(origin: number, config: Readonly<PlayoutConfig> = PLAYOUT_DEFAULTS) {
    this.#config = config;
    this.#pushedEnd = origin;
    this.#takenEnd = origin;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Media seconds waiting: from what the player took last to what arrived last. */
  get seconds(): number {
    return Math.max(0, this.#pushedEnd - this.#takenEnd);
  }

  /** Media time at the end of what the player took. */
  get takenEnd(): number {
    return this.#takenEnd;
  }

  /** Whether {@linkcode PlayoutQueue.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Whether it was ended and everything was taken. */
  get drained(): boolean {
    return this.#ended && this.#bytes === 0;
  }

  /**
   * Starts a segment: the bytes pushed next belong to it.
   *
   * @param segment Its start, duration and size.
   */
  segment(segment: QueuedSegment): void {
    this.#segment = segment;
    this.#segmentOffset = 0;
  }

  /**
   * Queues bytes of the current segment.
   *
   * @param data The bytes (kept, not copied).
   * @returns False, queueing nothing, when they would pass `maxSeconds` or `maxBytes`.
   */
  push(data: Uint8Array): boolean {
    if (data.length === 0) return true;
    const segment = this.#segment;
    const mediaStart = this.#pushedEnd;
    let mediaEnd = mediaStart;
    if (segment !== undefined && segment.bytes > 0) {
      const offset = Math.min(segment.bytes, this.#segmentOffset + data.length);
      mediaEnd = segment.start + (segment.duration * offset) / segment.bytes;
    }
    const seconds = mediaEnd - this.#takenEnd;
    if (this.#bytes + data.length > this.#config.maxBytes || seconds > this.#config.maxSeconds) {
      return false;
    }
    this.#segmentOffset += data.length;
    this.#chunks.push({ data, taken: 0, mediaStart, mediaEnd });
    this.#bytes += data.length;
    this.#pushedEnd = Math.max(this.#pushedEnd, mediaEnd);
    return true;
  }

  /**
   * Takes up to `max` bytes from the front.
   *
   * @param max The most bytes to take.
   * @returns The piece, or undefined when nothing waits.
   */
  take(max: number): PlayoutPiece | undefined {
    const chunk = this.#chunks[this.#head];
    if (chunk === undefined || max <= 0) return undefined;
    const end = Math.min(chunk.data.length, chunk.taken + max);
    const data = chunk.data.subarray(chunk.taken, end);
    chunk.taken = end;
    const share = end / chunk.data.length;
    const mediaEnd = chunk.mediaStart + (chunk.mediaEnd - chunk.mediaStart) * share;
    this.#bytes -= data.length;
    this.#takenEnd = Math.max(this.#takenEnd, mediaEnd);
    if (end === chunk.data.length) {
      this.#chunks[this.#head] = undefined as unknown as Chunk;
      this.#head++;
      // Compact now and then, so that taking stays O(1) amortized.
      if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
    }
    return { data, mediaEnd };
  }

  /** No more bytes will come (the stream finished): the player may play out what waits. */
  end(): void {
    this.#ended = true;
  }

  /** Drops everything waiting. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#takenEnd = this.#pushedEnd;
  }
}

/** What decides whether the stream is held on the server. */
export interface HoldInput {
  /** Media seconds waiting in the queue. */
  queuedSeconds: number;
  /** Whether the stream is held now. */
  held: boolean;
  /** Whether the user paused (PAUSE). */
  userPaused: boolean;
}

/**
 * Whether the stream should be held: always while the user paused; otherwise from
 * `holdSeconds` queued until the queue drains under `releaseSeconds` (hysteresis, so that a
 * player slower than real time alternates between long runs instead of chattering).
 *
 * @param input The queue and the pause state.
 * @param config The bounds.
 * @returns True to hold (`pause`), false to let it run (`resume`).
 */
export function shouldHold(
  input: HoldInput,
  config: Readonly<PlayoutConfig> = PLAYOUT_DEFAULTS,
): boolean {
  if (input.userPaused) return true;
  if (input.held) return input.queuedSeconds >= config.releaseSeconds;
  return input.queuedSeconds >= config.holdSeconds;
}
