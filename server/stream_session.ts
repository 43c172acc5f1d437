/**
 * One viewer's stream: sends prepared segments paced to real time with a small lead, picks the
 * rendition at each segment boundary (fixed, or adaptive from the viewer's receipts), holds on
 * PAUSE, jumps on SEEK (a new epoch), and stops at once on STOP.
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";
import type { Quality, StreamEndReason } from "../protocol/messages.ts";
import { ABR_DEFAULTS, chooseRendition, EwmaEstimator } from "../video/abr.ts";
import type { PreparedTitle } from "../video/segmenter.ts";
import type { SegmentStore } from "../video/segment_store.ts";
import { ContinuityFixer } from "../video/ts_packet.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import type { Connection } from "./connection.ts";
import { FramedSegments } from "./framed_segments.ts";
import { LeadGate } from "./lead_gate.ts";

/** Pacing tunables. */
export const STREAM_DEFAULTS = {
  /** Media bytes per frame: a control message never waits for more than the rest of one. */
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

/** The lead gate of sessions started without one (the server passes its own). */
const DEFAULT_GATE = new LeadGate();

/**
 * What `auto` has learnt of each connection's throughput, kept across its streams, so that a new
 * stream (or a jump) starts from a measured estimate rather than the default.
 */
const ESTIMATORS = new WeakMap<Connection, EwmaEstimator>();

/** Segments framed once for every viewer of the same stream id (see `framed_segments.ts`). */
const FRAMED = new FramedSegments({ chunkBytes: STREAM_DEFAULTS.chunkBytes });

/** Options for {@linkcode StreamSession}. */
export interface StreamSessionOptions {
  /** The id put in every message of this stream. */
  streamId: number;
  /**
   * The server's shared write backlog: segments that only fill this viewer's lead wait while
   * sockets fall behind (see {@linkcode LeadGate}).
   */
  leadGate?: LeadGate;
  /** The PLAY request id, answered by `stream-start`. */
  requestId: number;
  /** The title. */
  prepared: PreparedTitle;
  /** Shared segment cache. */
  store: SegmentStore;
  /** A fixed height, or `auto`. */
  quality: Quality;
  /** Where to start, seconds: the segment containing it. @default {0} */
  position?: number;
  /** Media bytes sent but unconfirmed before sending waits. */
  maxUnackedBytes: number;
  /** A full window this long moves the viewer to the lowest rendition, ms. @default {3000} */
  stallStepDownMs?: number;
  /** A full window, or no confirmation, this long stops the stream, ms. @default {15000} */
  stallStopMs?: number;
  /** A pause this long ends the stream with `PAUSE_TIMEOUT`, ms. @default {1800000} */
  pauseTimeoutMs?: number;
  /** Called once when the stream ends, with a detail for the log. */
  onEnd: (reason: StreamEndReason, detail?: string) => void;
  /**
   * Called as each segment goes out, with how late it is, seconds: how long after it was due
   * (within the lead of the viewer's modelled playback, and no earlier than the previous segment
   * went out) it left. The metrics count it; keep it cheap.
   */
  onSegment?: (lagSeconds: number) => void;
}

interface Sent {
  bytes: number;
  startedAt: number;
  mediaEnd: number;
  /** The segment's duration: its sample weighs at least this much. */
  mediaSeconds: number;
}

interface EndOptions {
  re?: number;
  code?: ErrorCode;
  message?: string;
  detail?: string;
}

/**
 * The viewer's playback clock as the server models it: it starts at the first confirmed segment
 * of an epoch, stops while paused, and never runs past what the viewer has (a stall shifts it).
 */
class _PlayClock {
  #origin = 0;
  #elapsedMs = 0;
  #runningSince: number | null = null;
  #started = false;
  #paused = false;

  reset(origin: number, paused: boolean) {
    this.#origin = origin;
    this.#elapsedMs = 0;
    this.#runningSince = null;
    this.#started = false;
    this.#paused = paused;
  }

  /** The first segment of the epoch arrived: playback begins (unless paused). */
  start(now: number) {
    if (this.#started) return;
    this.#started = true;
    if (!this.#paused) this.#runningSince = now;
  }

  pause(now: number) {
    if (this.#paused) return;
    this.#paused = true;
    if (this.#runningSince !== null) this.#elapsedMs += now - this.#runningSince;
    this.#runningSince = null;
  }

  resume(now: number) {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#started) this.#runningSince = now;
  }

  playhead(now: number): number {
    const running = this.#runningSince === null ? 0 : now - this.#runningSince;
    return this.#origin + (this.#elapsedMs + running) / 1000;
  }

  /** The player cannot play what it does not have: hold the clock at `mediaEnd`. */
  capAt(mediaEnd: number, now: number) {
    const over = this.playhead(now) - mediaEnd;
    if (over > 0) this.#elapsedMs -= over * 1000;
  }
}

/** Streams one title to one viewer. */
export class StreamSession {
  readonly streamId: number;
  readonly #conn: Connection;
  readonly #options: StreamSessionOptions;
  readonly #abort = new AbortController();
  readonly #estimator: EwmaEstimator;
  /** The ladder as ABR sees it: bit rates made non-decreasing with height. */
  readonly #ladder: { height: number; bitrate: number }[];
  readonly #clock = new _PlayClock();
  #fixer = new ContinuityFixer();
  readonly #gate: LeadGate;
  #lastThroughput: number | undefined;
  #quality: Quality;
  #current = 0;
  #epoch = 0;
  #next = 0;
  #sent = new Map<number, Sent>();
  #unackedBytes = 0;
  #ackedMediaEnd = 0;
  #lastAckAt = 0;
  /** When the slow-consumer rules last started counting (start, resume, jump). */
  #watchFrom = 0;
  #paused = false;
  #pauseTimer?: ReturnType<typeof setTimeout>;
  #wake: (() => void) | null = null;
  /** This stream's place in the shared lead queue (see {@linkcode LeadGate}). */
  readonly #gateWake = () => this.#wakeUp();
  /** Uncounts the segment being written from the lead gate's backlog, if it still counts. */
  #backlogRelease: (() => void) | null = null;
  #ended = false;

  /**
   * @param conn The viewer's connection.
   * @param options The title, quality and callbacks.
   */
  constructor(conn: Connection, options: StreamSessionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.streamId = options.streamId;
    this.#gate = options.leadGate ?? DEFAULT_GATE;
    this.#quality = options.quality;
    let estimator = ESTIMATORS.get(conn);
    if (estimator === undefined) {
      estimator = new EwmaEstimator();
      ESTIMATORS.set(conn, estimator);
    }
    this.#estimator = estimator;
    const renditions = options.prepared.renditions;
    let floor = 0;
    this.#ladder = renditions.map((r) => {
      floor = Math.max(floor, r.bitrate);
      return { height: r.height, bitrate: floor };
    });
    // Auto starts from what this connection measured before (or the default estimate).
    this.#current = options.quality === "auto"
      ? chooseRendition(this.#ladder, renditions.length - 1, {
        estimate: this.#estimator.estimate(),
        bufferSeconds: Infinity,
      })
      : renditions.findIndex((r) => r.height === options.quality);
    this.#next = this.#indexAt(options.position ?? 0);
    this.#ackedMediaEnd = this.#segmentStart(this.#next);
    this.#clock.reset(this.#ackedMediaEnd, false);
  }

  /** Announces the stream and starts sending. */
  start(): void {
    const p = this.#options.prepared;
    this.#watchFrom = performance.now();
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
      position: this.#segmentStart(this.#next),
      epoch: 0,
    });
    this.#run().catch((error) => {
      // The detail (paths, causes) goes to the server log only.
      const message = error instanceof PeerstreamError && error.code === "VIDEO_FAILED"
        ? `Cannot continue "${p.name}": its prepared files cannot be read; try PLAY again later`
        : `Cannot continue "${p.name}": the server failed; see the server log`;
      this.#end("error", { code: "INTERNAL", message, detail: (error as Error).message });
    });
  }

  /**
   * Changes the quality from the next segment on.
   *
   * @param quality A height the title has, or `auto`.
   * @throws {PeerstreamError} `RENDITION_NOT_FOUND` for a height the title lacks.
   */
  setQuality(quality: Quality): void {
    if (quality !== "auto") this.#current = this.#renditionIndex(quality);
    this.#quality = quality;
  }

  /**
   * Jumps to the segment containing `position` (past the end: the last segment) in a new epoch,
   * optionally in another quality, and answers `stream-seek`. Queued media is dropped. A paused
   * stream stays paused.
   *
   * @param position Seconds from the start of the title.
   * @param options The request to answer, and a quality to switch to first.
   * @throws {PeerstreamError} `RENDITION_NOT_FOUND` for a height the title lacks (nothing moves).
   */
  seek(position: number, options: { requestId: number; quality?: Quality }): void {
    if (options.quality !== undefined) this.setQuality(options.quality);
    const index = this.#indexAt(position);
    this.#epoch++;
    this.#conn.dropMedia(this.streamId);
    this.#fixer = new ContinuityFixer();
    this.#sent.clear();
    this.#unackedBytes = 0;
    this.#next = index;
    this.#ackedMediaEnd = this.#segmentStart(index);
    this.#clock.reset(this.#ackedMediaEnd, this.#paused);
    this.#watchFrom = performance.now();
    this.#conn.send({
      type: "stream-seek",
      re: options.requestId,
      streamId: this.streamId,
      epoch: this.#epoch,
      position: this.#ackedMediaEnd,
      index,
      paused: this.#paused,
    });
    this.#wakeUp();
  }

  /** Holds the stream: nothing more is sent, the clock stops, no slow-consumer rule applies. */
  pause(): void {
    if (this.#paused || this.#ended) return;
    this.#paused = true;
    this.#clock.pause(performance.now());
    const limit = this.#options.pauseTimeoutMs ?? 30 * 60_000;
    this.#pauseTimer = setTimeout(() => {
      this.#end("error", {
        code: "PAUSE_TIMEOUT",
        message: `Stream ended: paused longer than ${_minutes(limit)}; PLAY it again to continue`,
        detail: "PAUSE_TIMEOUT",
      });
    }, limit);
  }

  /** Continues a held stream. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    clearTimeout(this.#pauseTimer);
    const now = performance.now();
    this.#clock.resume(now);
    this.#watchFrom = now;
    this.#wakeUp();
  }

  /**
   * Records the viewer's receipt of a whole segment: a throughput sample and a buffer update.
   *
   * @param epoch The segment's epoch; an older epoch's ack is ignored.
   * @param index The segment index.
   */
  ack(epoch: number, index: number): void {
    if (epoch !== this.#epoch) return;
    const sent = this.#sent.get(index);
    if (sent === undefined) return;
    this.#sent.delete(index);
    const now = performance.now();
    const began = Math.max(sent.startedAt, this.#lastAckAt);
    this.#estimator.sample(now - began, sent.bytes, { mediaSeconds: sent.mediaSeconds });
    this.#lastThroughput = (sent.bytes * 8) /
      (Math.max(now - began, ABR_DEFAULTS.minSampleMs) / 1000);
    this.#lastAckAt = now;
    this.#unackedBytes -= sent.bytes;
    this.#ackedMediaEnd = Math.max(this.#ackedMediaEnd, sent.mediaEnd);
    this.#clock.start(now);
    this.#clock.capAt(this.#ackedMediaEnd, now);
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

  /**
   * Stops counting this stream's unwritten segment in the lead gate's backlog once its socket
   * has taken nothing for `stallMs`: a viewer that stopped reading must not hold every other
   * viewer's lead back while it waits to be dropped. Called by the server's once-a-second check.
   *
   * @param now The time, ms (`performance.now()`).
   * @param stallMs How long the write may make no progress.
   */
  releaseStalledBacklog(now: number, stallMs: number): void {
    if (this.#backlogRelease === null || this.#conn.writeStalledFor(now) <= stallMs) return;
    this.#backlogRelease();
    this.#backlogRelease = null;
  }

  /** Ends without telling the viewer (it left). */
  abort(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#pauseTimer);
    this.#gate.cancel(this.#gateWake);
    this.#abort.abort();
    this.#wakeUp();
  }

  #end(reason: StreamEndReason, options: EndOptions) {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#pauseTimer);
    this.#abort.abort();
    this.#wakeUp();
    this.#conn.dropMedia(this.streamId);
    this.#conn.send({
      type: "stream-end",
      streamId: this.streamId,
      reason,
      ...(options.re === undefined ? {} : { re: options.re }),
      ...(options.code === undefined ? {} : { code: options.code }),
      ...(options.message === undefined ? {} : { message: options.message }),
    });
    this.#options.onEnd(reason, options.detail);
  }

  #renditionIndex(height: number): number {
    const renditions = this.#options.prepared.renditions;
    const index = renditions.findIndex((r) => r.height === height);
    if (index < 0) {
      throw new PeerstreamError(
        "RENDITION_NOT_FOUND",
        `Cannot switch to ${height}p; available: ${
          renditions.map((r) => `${r.height}p`).join(", ")
        } or auto`,
      );
    }
    return index;
  }

  /** The segment containing `position` (clamped to the title). */
  #indexAt(position: number): number {
    const segments = this.#options.prepared.renditions[0].segments;
    let index = 0;
    for (let i = 1; i < segments.length; i++) {
      // A position on a boundary (within a microsecond) belongs to the segment that starts there.
      if (segments[i].start <= position + 1e-6) index = i;
    }
    return index;
  }

  #segmentStart(index: number): number {
    return this.#options.prepared.renditions[0].segments[index]?.start ?? 0;
  }

  /** When the viewer last confirmed a segment, or the oldest unconfirmed one was sent. */
  #lastProgress(): number {
    let oldest = Infinity;
    for (const sent of this.#sent.values()) oldest = Math.min(oldest, sent.startedAt);
    return Math.max(this.#lastAckAt, oldest, this.#watchFrom);
  }

  async #run() {
    const { prepared } = this.#options;
    const signal = this.#abort.signal;
    const count = prepared.renditions[0].segments.length;
    while (!signal.aborted) {
      if (this.#next >= count) {
        this.#end("finished", {});
        return;
      }
      const epoch = this.#epoch;
      const waitFrom = performance.now();
      const room = await this.#waitForRoom(epoch);
      if (room === "ended") return;
      if (room === "moved") continue;
      this.#options.onSegment?.(this.#lateBy(waitFrom));
      await this.#sendSegment(epoch, this.#next);
    }
  }

  /**
   * Waits until the next segment may go: within the lead, the window and the pipeline, and not
   * paused. Ends the stream for a viewer that stays stalled.
   */
  async #waitForRoom(epoch: number): Promise<"send" | "moved" | "ended"> {
    const signal = this.#abort.signal;
    const stepDownMs = this.#options.stallStepDownMs ?? 3_000;
    const stopMs = this.#options.stallStopMs ?? 15_000;
    let fullSince: number | null = null;
    while (!signal.aborted) {
      if (this.#epoch !== epoch) return "moved";
      const now = performance.now();
      if (this.#paused) {
        fullSince = null;
        await this.#sleep(STREAM_DEFAULTS.maxSleepMs);
        continue;
      }
      const ahead = this.#segmentStart(this.#next) - this.#clock.playhead(now);
      const windowFull = this.#unackedBytes >= this.#options.maxUnackedBytes;
      if (!windowFull) fullSince = null;
      // Until this connection has a throughput sample, auto sends one segment and measures it.
      const measuring = this.#quality === "auto" && !this.#estimator.canEstimate();
      const pipelineFull = this.#sent.size >= (measuring ? 1 : STREAM_DEFAULTS.maxSegmentsInFlight);
      const roomHere = ahead <= STREAM_DEFAULTS.leadSeconds && !windowFull && !pipelineFull;
      const waitForBacklog = roomHere && !this.#gate.mayGo(ahead, this.#gateWake);
      if (roomHere && !waitForBacklog) return "send";
      if (waitForBacklog) this.#gate.wait(this.#gateWake);
      // A viewer that confirms nothing, or keeps the window full, is stalled.
      if (windowFull) fullSince ??= Math.max(now, this.#watchFrom);
      const silentMs = this.#sent.size > 0 ? now - this.#lastProgress() : 0;
      const fullMs = fullSince === null ? 0 : now - fullSince;
      if (Math.max(silentMs, fullMs) > stopMs) {
        this.#end("error", {
          code: "SLOW_CONSUMER",
          message:
            "Stream stopped: your connection is not keeping up, even at the lowest quality; try again later",
          detail: "SLOW_CONSUMER",
        });
        return "ended";
      }
      if (fullMs > stepDownMs) this.#current = 0;
      const wait = windowFull || pipelineFull
        ? 250
        : waitForBacklog
        ? (ahead - this.#gate.urgentSeconds) * 1000
        : (ahead - STREAM_DEFAULTS.leadSeconds) * 1000;
      await this.#sleep(Math.min(STREAM_DEFAULTS.maxSleepMs, Math.max(10, wait)));
    }
    return "ended";
  }

  /**
   * How late the next segment goes out, seconds: it was due when the viewer's modelled playback
   * came within the lead of its start, but not before the wait for it began.
   */
  #lateBy(waitFrom: number): number {
    const now = performance.now();
    const ahead = this.#segmentStart(this.#next) - this.#clock.playhead(now);
    const dueFor = Math.min((now - waitFrom) / 1000, STREAM_DEFAULTS.leadSeconds - ahead);
    return Math.max(0, dueFor);
  }

  /** The height of the rendition being sent, e.g. 720. */
  get height(): number {
    return this.#options.prepared.renditions[this.#current]?.height ?? 0;
  }

  /** Sends one segment of `epoch`, unless a jump or the end interrupts it. */
  async #sendSegment(epoch: number, index: number) {
    const { prepared, store } = this.#options;
    const signal = this.#abort.signal;
    const now = performance.now();
    if (this.#quality === "auto") {
      this.#current = chooseRendition(this.#ladder, this.#current, {
        estimate: this.#estimator.estimate(),
        bufferSeconds: this.#ackedMediaEnd - this.#clock.playhead(now),
        lastThroughput: this.#lastThroughput,
      });
    }
    const rendition = prepared.renditions[this.#current];
    const segment = rendition.segments[index];
    const raw = await store.read(segment.path);
    if (signal.aborted || this.#epoch !== epoch) return;
    // The shared bytes, unless a rendition switch made this viewer's counters jump.
    const data = prepared.container === "mpegts" ? this.#fixer.fix(raw) : raw;
    const bytes = data.length;
    this.#sent.set(index, {
      bytes,
      startedAt: now,
      mediaEnd: segment.start + segment.duration,
      mediaSeconds: segment.duration,
    });
    this.#unackedBytes += bytes;
    this.#next = index + 1;
    this.#conn.send({
      type: "segment",
      streamId: this.streamId,
      epoch,
      index,
      height: rendition.height,
      bitrate: rendition.bitrate,
      start: segment.start,
      duration: segment.duration,
      bytes,
    });
    // A jump or the end drops what is left of it (dropMedia), so nothing follows stream-seek.
    const written = this.#gate.writing(bytes);
    this.#backlogRelease = written;
    try {
      await this.#conn.sendMediaFrames(
        this.streamId,
        FRAMED.frames(data, { streamId: this.streamId, index }),
      );
    } finally {
      written();
      if (this.#backlogRelease === written) this.#backlogRelease = null;
    }
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

function _minutes(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes >= 1 && Number.isInteger(minutes)) return `${minutes} min`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
