/**
 * One viewer's stream: sends prepared segments paced to real time with a small lead, picks the
 * rendition at each segment boundary (fixed, or adaptive from the viewer's receipts), and stops at
 * once on STOP.
 * @module
 */

import type { Quality, StreamEndReason } from "../protocol/messages.ts";
import { ABR_DEFAULTS, chooseRendition, EwmaEstimator } from "../video/abr.ts";
import type { PreparedTitle } from "../video/segmenter.ts";
import type { SegmentStore } from "../video/segment_store.ts";
import { ContinuityFixer } from "../video/ts_packet.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import type { Connection } from "./connection.ts";

/** Pacing tunables. */
export const STREAM_DEFAULTS = {
  /** Media chunk size: a control message waits behind at most one chunk. */
  chunkBytes: 64 * 1024,
  /** How far ahead of the viewer's playback the server may send, seconds. */
  leadSeconds: 6,
  /** Longest sleep of the pacing loop, ms, so that stalls are noticed promptly. */
  maxSleepMs: 500,
  /**
   * Segments sent but not yet confirmed. Bytes written cannot be recalled from the socket, so each
   * one commits a rendition ahead of time: two keep the link busy while a slow link is noticed
   * within about a segment.
   */
  maxSegmentsInFlight: 2,
} as const;

/** Options for {@linkcode StreamSession}. */
export interface StreamSessionOptions {
  /** The id put in every message of this stream. */
  streamId: number;
  /** The PLAY request id, answered by `stream-start`. */
  requestId: number;
  /** The title. */
  prepared: PreparedTitle;
  /** Shared segment cache. */
  store: SegmentStore;
  /** A fixed height, or `auto`. */
  quality: Quality;
  /** Media bytes sent but unconfirmed before sending waits. */
  maxUnackedBytes: number;
  /** A full window this long moves the viewer to the lowest rendition, ms. @default {3000} */
  stallStepDownMs?: number;
  /** A full window, or no confirmation, this long stops the stream, ms. @default {15000} */
  stallStopMs?: number;
  /** Called once when the stream ends, with a detail for the log. */
  onEnd: (reason: StreamEndReason, detail?: string) => void;
}

interface Sent {
  bytes: number;
  startedAt: number;
  mediaEnd: number;
}

/** Streams one title to one viewer. */
export class StreamSession {
  readonly streamId: number;
  readonly #conn: Connection;
  readonly #options: StreamSessionOptions;
  readonly #abort = new AbortController();
  readonly #estimator = new EwmaEstimator();
  readonly #fixer = new ContinuityFixer();
  /** The ladder as ABR sees it: bit rates made non-decreasing with height. */
  readonly #ladder: { height: number; bitrate: number }[];
  #lastThroughput: number | undefined;
  #quality: Quality;
  #current = 0;
  #sent = new Map<number, Sent>();
  #unackedBytes = 0;
  #ackedMediaEnd = 0;
  #lastAckAt = 0;
  #playStart: number | null = null;
  #wake: (() => void) | null = null;
  #ended = false;

  /**
   * @param conn The viewer's connection.
   * @param options The title, quality and callbacks.
   */
  constructor(conn: Connection, options: StreamSessionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.streamId = options.streamId;
    this.#quality = options.quality;
    const renditions = options.prepared.renditions;
    let floor = 0;
    this.#ladder = renditions.map((r) => {
      floor = Math.max(floor, r.bitrate);
      return { height: r.height, bitrate: floor };
    });
    this.#current = options.quality === "auto"
      ? chooseRendition(this.#ladder, renditions.length - 1, {
        estimate: ABR_DEFAULTS.defaultEstimate,
        bufferSeconds: Infinity,
      })
      : renditions.findIndex((r) => r.height === options.quality);
  }

  /** Announces the stream and starts sending. */
  start(): void {
    const p = this.#options.prepared;
    this.#conn.send({
      type: "stream-start",
      re: this.#options.requestId,
      streamId: this.streamId,
      title: p.name,
      duration: p.duration,
      codec: p.codec,
      container: p.container,
      fps: p.fps,
      hasAudio: p.hasAudio,
      renditions: p.renditions.map((r) => ({
        height: r.height,
        width: r.width,
        bitrate: r.bitrate,
      })),
      quality: this.#quality,
      position: 0,
      epoch: 0,
    });
    this.#run().catch((error) => {
      // The detail (paths, causes) goes to the server log only.
      const message = error instanceof PeerstreamError && error.code === "VIDEO_FAILED"
        ? `Cannot continue "${p.name}": its prepared files cannot be read; try PLAY again later`
        : `Cannot continue "${p.name}": the server failed; see the server log`;
      this.#end("error", { message, detail: (error as Error).message });
    });
  }

  /**
   * Changes the quality from the next segment on.
   *
   * @param quality A height the title has, or `auto`.
   * @throws {PeerstreamError} `RENDITION_NOT_FOUND` for a height the title lacks.
   */
  setQuality(quality: Quality): void {
    const renditions = this.#options.prepared.renditions;
    if (quality !== "auto") {
      const index = renditions.findIndex((r) => r.height === quality);
      if (index < 0) {
        throw new PeerstreamError(
          "RENDITION_NOT_FOUND",
          `Cannot switch to ${quality}p; available: ${
            renditions.map((r) => `${r.height}p`).join(", ")
          } or auto`,
        );
      }
      this.#current = index;
    }
    this.#quality = quality;
  }

  /**
   * Records the viewer's receipt of a whole segment: a throughput sample and a buffer update.
   *
   * @param index The segment index.
   */
  ack(index: number): void {
    const sent = this.#sent.get(index);
    if (sent === undefined) return;
    this.#sent.delete(index);
    const now = performance.now();
    const began = Math.max(sent.startedAt, this.#lastAckAt);
    this.#estimator.sample(now - began, sent.bytes);
    this.#lastThroughput = (sent.bytes * 8) /
      (Math.max(now - began, ABR_DEFAULTS.minSampleMs) / 1000);
    this.#lastAckAt = now;
    this.#unackedBytes -= sent.bytes;
    this.#ackedMediaEnd = Math.max(this.#ackedMediaEnd, sent.mediaEnd);
    this.#playStart ??= now;
    // The player cannot play what it does not have: a stall shifts the playback clock.
    const playhead = (now - this.#playStart) / 1000;
    if (playhead > this.#ackedMediaEnd) this.#playStart += (playhead - this.#ackedMediaEnd) * 1000;
    this.#wakeUp();
  }

  /**
   * Stops at once: drops queued media and confirms with `stream-end`; no media follows it.
   *
   * @param requestId The STOP request id.
   */
  stop(requestId: number): void {
    this.#end("stopped", { re: requestId });
  }

  /** Ends because a new PLAY replaces this stream: `stream-end` `stopped` without `re`. */
  replace(): void {
    this.#end("stopped", {});
  }

  /** Ends without telling the viewer (it left). */
  abort(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#abort.abort();
    this.#wakeUp();
  }

  #end(reason: StreamEndReason, options: { re?: number; message?: string; detail?: string }) {
    if (this.#ended) return;
    this.#ended = true;
    this.#abort.abort();
    this.#wakeUp();
    this.#conn.dropMedia(this.streamId);
    this.#conn.send({
      type: "stream-end",
      streamId: this.streamId,
      reason,
      ...(options.re === undefined ? {} : { re: options.re }),
      ...(options.message === undefined ? {} : { message: options.message }),
    });
    this.#options.onEnd(reason, options.detail);
  }

  /** When the viewer last confirmed a segment, or the oldest unconfirmed one was sent. */
  #lastProgress(): number {
    let oldest = Infinity;
    for (const sent of this.#sent.values()) oldest = Math.min(oldest, sent.startedAt);
    return Math.max(this.#lastAckAt, oldest);
  }

  #bufferSeconds(now: number): number {
    if (this.#playStart === null) return this.#ackedMediaEnd;
    return this.#ackedMediaEnd - (now - this.#playStart) / 1000;
  }

  #playhead(now: number): number {
    return this.#playStart === null ? 0 : (now - this.#playStart) / 1000;
  }

  async #run() {
    const { prepared, store } = this.#options;
    const signal = this.#abort.signal;
    const count = prepared.renditions[0].segments.length;
    for (let index = 0; index < count; index++) {
      const start = prepared.renditions[0].segments[index].start;
      // Pace: stay at most `leadSeconds` ahead of playback, and within the unconfirmed window.
      let fullSince: number | null = null;
      const stepDownMs = this.#options.stallStepDownMs ?? 3_000;
      const stopMs = this.#options.stallStopMs ?? 15_000;
      while (!signal.aborted) {
        const now = performance.now();
        const ahead = start - this.#playhead(now);
        const windowFull = this.#unackedBytes >= this.#options.maxUnackedBytes;
        if (!windowFull) fullSince = null;
        const pipelineFull = this.#sent.size >= STREAM_DEFAULTS.maxSegmentsInFlight;
        if (ahead <= STREAM_DEFAULTS.leadSeconds && !windowFull && !pipelineFull) break;
        // A viewer that confirms nothing, or keeps the window full, is stalled.
        if (windowFull) fullSince ??= now;
        const silentMs = this.#sent.size > 0 ? now - this.#lastProgress() : 0;
        const fullMs = fullSince === null ? 0 : now - fullSince;
        if (Math.max(silentMs, fullMs) > stopMs) {
          this.#end("error", {
            message:
              "Stream stopped: your connection is not keeping up, even at the lowest quality; try again later",
            detail: "SLOW_CONSUMER",
          });
          return;
        }
        if (fullMs > stepDownMs) this.#current = 0;
        const wait = windowFull || pipelineFull
          ? 250
          : (ahead - STREAM_DEFAULTS.leadSeconds) * 1000;
        await this.#sleep(Math.min(STREAM_DEFAULTS.maxSleepMs, Math.max(10, wait)));
      }
      if (signal.aborted) return;
      const now = performance.now();
      if (this.#quality === "auto") {
        this.#current = chooseRendition(this.#ladder, this.#current, {
          estimate: this.#estimator.estimate(),
          bufferSeconds: this.#bufferSeconds(now),
          lastThroughput: this.#lastThroughput,
        });
      }
      const rendition = prepared.renditions[this.#current];
      const segment = rendition.segments[index];
      const raw = await store.read(segment.path);
      if (signal.aborted) return;
      const bytes = prepared.container === "mpegts" ? this.#fixer.fix(raw) : raw;
      this.#sent.set(index, {
        bytes: bytes.length,
        startedAt: now,
        mediaEnd: segment.start + segment.duration,
      });
      this.#unackedBytes += bytes.length;
      this.#conn.send({
        type: "segment",
        streamId: this.streamId,
        epoch: 0,
        index,
        height: rendition.height,
        bitrate: rendition.bitrate,
        start: segment.start,
        duration: segment.duration,
        bytes: bytes.length,
      });
      for (let at = 0; at < bytes.length; at += STREAM_DEFAULTS.chunkBytes) {
        if (signal.aborted || this.#conn.closed) return;
        await this.#conn.sendMedia(this.streamId, {
          index,
          data: bytes.subarray(at, at + STREAM_DEFAULTS.chunkBytes),
        });
      }
    }
    if (!signal.aborted) this.#end("finished", {});
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  #wakeUp() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
