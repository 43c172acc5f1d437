/**
 * One benchmark viewer: PLAY at a fixed quality (or auto), count and time media bytes, send
 * `seg-ack` once each segment's bytes are complete (the server paces on acks), and track whether
 * playback would have stayed real time. It never decodes, unless a sink is attached.
 * @module
 */

import type { Quality, SegmentMessage, ServerMessage } from "../protocol/messages.ts";
import type { LoadClient } from "./_client.ts";

/**
 * A viewer stalls when its playhead (wall time since its first media byte) gets ahead of the media
 * it has completely received (the end, `start + duration`, of the last whole segment) by more than
 * this many seconds.
 */
export const STALL_SECONDS = 1;

/** What one viewer measured. */
export interface ViewerResult {
  /** PLAY sent → `stream-start`, ms. */
  startMs: number;
  /** PLAY sent → first media byte, ms. */
  firstByteMs: number;
  /** Media bytes received. */
  mediaBytes: number;
  /** Seconds from the first media byte to the end of the watch. */
  watchedSeconds: number;
  /** Seconds of media completely received. */
  mediaSeconds: number;
  /** The largest (playhead − received media end), seconds; > {@linkcode STALL_SECONDS} is a stall. */
  maxLagSeconds: number;
  /** When the largest lag was seen: seconds after the first media byte. */
  maxLagAtSeconds: number;
  /** Whether the viewer stayed real time. */
  realTime: boolean;
  /** Segments completed. */
  segments: number;
  /** An error that ended the stream or the connection, if any. */
  error?: string;
}

/**
 * What a load viewer of any server (peerstream, or nginx serving HLS) measures, and how it judges
 * real time: its playhead is the wall time since its first media byte, its lag that playhead minus
 * the end of the media it has completely received, checked as each segment completes (where it
 * peaks) and at the end of the watch.
 */
export class WatchRecord {
  /** When it asked to play (PLAY, or the playlist GET), ms. */
  playSentAt = NaN;
  /** When the stream started (`stream-start`, or the playlist's answer), ms. */
  startAt = NaN;
  /** When its first media byte arrived, ms. */
  firstByteAt = NaN;
  /** Media bytes received. */
  mediaBytes = 0;
  /** The end of the media completely received, seconds. */
  mediaEnd = 0;
  /** The largest lag, seconds. */
  maxLag = -Infinity;
  /** Seconds after the first media byte when the largest lag was seen. */
  maxLagAt = NaN;
  /** Segments completed. */
  segments = 0;
  /** Whether its stream ended (no lag is counted after that). */
  ended = false;
  /** An error that ended the stream or the connection, if any. */
  error: string | undefined;

  /**
   * Records a completed segment: the lag just before it counts (where it peaks), then its media.
   *
   * @param now When its last byte arrived, ms.
   * @param end Its media end (`start + duration`), seconds.
   */
  protected completeSegment(now: number, end: number): void {
    this.lag(now);
    this.mediaEnd = Math.max(this.mediaEnd, end);
    this.segments++;
  }

  /**
   * Records the lag at the end of the watch window and returns the result.
   *
   * @param now The end of the watch, ms.
   * @returns What the viewer measured.
   */
  result(now: number = performance.now()): ViewerResult {
    if (!this.ended) this.lag(now);
    const watched = Number.isNaN(this.firstByteAt) ? 0 : (now - this.firstByteAt) / 1000;
    const stalled = Number.isNaN(this.firstByteAt) || this.maxLag > STALL_SECONDS;
    return {
      startMs: this.startAt - this.playSentAt,
      firstByteMs: this.firstByteAt - this.playSentAt,
      mediaBytes: this.mediaBytes,
      watchedSeconds: watched,
      mediaSeconds: this.mediaEnd,
      maxLagSeconds: this.maxLag,
      maxLagAtSeconds: this.maxLagAt,
      realTime: !stalled && this.error === undefined,
      segments: this.segments,
      ...(this.error === undefined ? {} : { error: this.error }),
    };
  }

  /**
   * Notes the lag at `now`, keeping the largest.
   *
   * @param now The time, ms.
   */
  protected lag(now: number): void {
    if (Number.isNaN(this.firstByteAt)) return;
    const playhead = (now - this.firstByteAt) / 1000;
    if (playhead - this.mediaEnd > this.maxLag) {
      this.maxLag = playhead - this.mediaEnd;
      this.maxLagAt = playhead;
    }
  }
}

/**
 * The fleet workers' answer to `mark`: media bytes so far, and how many viewers have their first.
 *
 * @param viewers The worker's viewers.
 * @returns The mark.
 */
export function markOf(
  viewers: readonly WatchRecord[],
): { type: "mark"; mediaBytes: number; firstBytes: number } {
  return {
    type: "mark",
    mediaBytes: viewers.reduce((n, v) => n + v.mediaBytes, 0),
    firstBytes: viewers.filter((v) => !Number.isNaN(v.firstByteAt)).length,
  };
}

/**
 * Starts each of `items` at its share of `spreadMs` (the first at once), as the fleet workers
 * spread their viewers' PLAYs.
 *
 * @param items The viewers.
 * @param spreadMs The spread.
 * @param start Starts one.
 * @returns For each, when its start has finished.
 */
export function staggered<T>(
  items: readonly T[],
  spreadMs: number,
  start: (item: T) => unknown,
): Promise<unknown>[] {
  return items.map((item, i) => {
    const at = (i / items.length) * spreadMs;
    if (at === 0) return Promise.resolve(start(item));
    return new Promise((resolve) => setTimeout(resolve, at)).then(() => start(item));
  });
}

/** Drives one stream on a registered {@linkcode LoadClient}. */
export class Viewer extends WatchRecord {
  readonly client: LoadClient;
  streamId = -1;
  lastMediaAt = NaN;
  endedAt = NaN;
  /** Media bytes of this viewer's streams that arrived after their `stream-end`. */
  bytesAfterEnd = 0;
  #segment: SegmentMessage | null = null;
  #segmentBytes = 0;
  #endedStreams = new Set<number>();
  #waiters: { test: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  /** Called with every segment header. */
  onSegment: (segment: SegmentMessage, now: number) => void = () => {};
  /** Receives the media bytes, e.g. a decoder. */
  onMedia: ((data: Uint8Array, now: number) => void) | null = null;

  /** @param client A registered client; the viewer takes over its `onMessage`. */
  constructor(client: LoadClient) {
    super();
    this.client = client;
    client.onMessage = (message, now) => this.#handle(message, now);
    client.onClose = (error) => {
      if (!this.ended && error !== undefined) this.error ??= String(error);
    };
  }

  /**
   * Sends PLAY.
   *
   * @param title The title.
   * @param quality A height or `auto`.
   */
  play(title: string, quality: Quality): void {
    this.playSentAt = performance.now();
    this.client.send({ type: "play", id: this.client.nextId++, title, quality });
  }

  /**
   * Sends STOP and resolves with the `stream-end` that answers it.
   *
   * @returns When STOP was sent and when its answer came.
   */
  async stop(): Promise<{ sentAt: number; ackAt: number }> {
    const id = this.client.nextId++;
    const answer = this.waitFor((m) =>
      (m.type === "stream-end" && m.re === id) || (m.type === "error" && m.re === id)
    );
    const sentAt = performance.now();
    this.client.send({ type: "stop", id });
    const message = await answer;
    if (message.type === "error") throw new Error(`STOP refused: ${message.code}`);
    return { sentAt, ackAt: this.endedAt };
  }

  /**
   * Resolves with the first later message that passes the test.
   *
   * @param test The predicate.
   * @returns The message.
   */
  waitFor(test: (m: ServerMessage) => boolean): Promise<ServerMessage> {
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  #handle(message: ServerMessage, now: number) {
    switch (message.type) {
      case "media": {
        if (this.#endedStreams.has(message.streamId)) {
          this.bytesAfterEnd += message.data.length;
          return;
        }
        if (message.streamId !== this.streamId) return;
        const n = message.data.length;
        if (Number.isNaN(this.firstByteAt)) this.firstByteAt = now;
        this.lastMediaAt = now;
        this.mediaBytes += n;
        this.onMedia?.(message.data, now);
        const segment = this.#segment;
        if (segment === null) return;
        this.#segmentBytes += n;
        if (this.#segmentBytes >= segment.bytes) {
          this.client.send({
            type: "seg-ack",
            streamId: segment.streamId,
            epoch: segment.epoch,
            index: segment.index,
          });
          this.completeSegment(now, segment.start + segment.duration);
          this.#segment = null;
        }
        break;
      }
      case "segment":
        if (message.streamId !== this.streamId) return;
        this.#segment = message;
        this.#segmentBytes = 0;
        this.onSegment(message, now);
        break;
      case "stream-start":
        this.streamId = message.streamId;
        this.startAt = now;
        break;
      case "stream-end":
        this.#endedStreams.add(message.streamId);
        if (message.streamId === this.streamId) {
          if (!this.ended) this.lag(now);
          this.ended = true;
          this.endedAt = now;
          if (message.reason === "error") this.error ??= message.message ?? "stream error";
        }
        break;
      case "error":
        if (message.code !== "NOT_PLAYING") this.error ??= `${message.code}: ${message.message}`;
        break;
    }
    for (const waiter of [...this.#waiters]) {
      if (waiter.test(message)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  }
}
