/**
 * The folder `server/streaming/`: paced, adaptive streaming of prepared segments: one session per
 * viewer (this file), its decisions as a pure state machine on an injected clock
 * (`stream_state.ts`, with the viewer's modelled playhead in `play_clock.ts`), the auto quality
 * choice (`auto_quality.ts`), the frames shared by every viewer (`framed_segments.ts`), the shared
 * write backlog (`lead_gate.ts`) and the PLAY and LIST requests (`play_request.ts`).
 *
 * One viewer's stream: sends prepared segments paced to real time with a small lead, picks the
 * rendition at each segment boundary (fixed, or adaptive from the viewer's receipts), holds on
 * PAUSE, jumps on SEEK (a new epoch), and stops at once on STOP.
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import type { Quality, StreamEndReason } from "../../protocol/messages.ts";
import type { PreparedTitle } from "../../video/prepared_title.ts";
import type { SegmentStore } from "../../video/segment_store.ts";
import { ContinuityFixer } from "../../video/ts_packet.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { Connection } from "../door/connection.ts";
import { FramedSegments } from "./framed_segments.ts";
import { LeadGate } from "./lead_gate.ts";
import { DEFAULT_LIMITS, STREAM_DEFAULTS } from "../limits.ts";
import { pauseTimeoutEnding, StreamPacing, type StreamPhase } from "./stream_state.ts";
import { AutoQuality, type AutoSwitch } from "./auto_quality.ts";

export { type AutoSwitch, switchText } from "./auto_quality.ts";

/** The lead gate of sessions started without one (the server passes its own). */
const DEFAULT_GATE = new LeadGate();

/** Segments framed once for every viewer of the same stream id and epoch (see `framed_segments.ts`). */
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
  /**
   * A full window this long moves the viewer to the lowest rendition, ms.
   * @default {DEFAULT_LIMITS.stallStepDownMs}
   */
  stallStepDownMs?: number;
  /**
   * A full window, or no confirmation, this long stops the stream, ms.
   * @default {DEFAULT_LIMITS.stallStopMs}
   */
  stallStopMs?: number;
  /**
   * A pause this long ends the stream with `PAUSE_TIMEOUT`, ms.
   * @default {DEFAULT_LIMITS.pauseTimeoutMs}
   */
  pauseTimeoutMs?: number;
  /** The time and timers. @default {SYSTEM_CLOCK} */
  clock?: StreamClock;
  /** Called once when the stream ends, with a detail for the log. */
  onEnd: (reason: StreamEndReason, detail?: string) => void;
  /**
   * Called as each segment goes out, with how late it is, seconds: how long after it was due
   * (within the lead of the viewer's modelled playback, and no earlier than the previous segment
   * went out) it left. The metrics count it; keep it cheap.
   */
  onSegment?: (lagSeconds: number) => void;
  /** Called when auto changes the rendition, with what it decided from (for the log). */
  onSwitch?: (change: AutoSwitch) => void;
}

interface EndOptions {
  re?: number;
  code?: ErrorCode;
  message?: string;
  detail?: string;
}

/** The time and timers a stream uses; a test passes a fake one that it moves by hand. */
export interface StreamClock {
  /** The time, ms, monotonic. */
  now(): number;
  /**
   * Calls `fn` once, `ms` from now.
   *
   * @returns A function that cancels the call (harmless once it happened).
   */
  schedule(fn: () => void, ms: number): () => void;
}

/** The real clock: `performance.now()` and the global timers. */
export const SYSTEM_CLOCK: Readonly<StreamClock> = Object.freeze({
  now: () => performance.now(),
  schedule(fn: () => void, ms: number): () => void {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
});

/**
 * Streams one title to one viewer: the I/O around {@linkcode StreamPacing}, which decides. This
 * class reads the clock it is given, sleeps, reads segments and writes to the connection.
 */
export class StreamSession {
  readonly streamId: number;
  readonly #conn: Connection;
  readonly #options: StreamSessionOptions;
  readonly #clock: StreamClock;
  readonly #abort = new AbortController();
  readonly #auto: AutoQuality;
  readonly #pacing: StreamPacing;
  #fixer = new ContinuityFixer();
  readonly #gate: LeadGate;
  /** The segment last held for an overdue one (chosen from the bound once), or -1. */
  #heldAt = -1;
  #quality: Quality;
  #current = 0;
  /** Cancels the pause time limit. */
  #cancelPauseLimit?: () => void;
  #wake: (() => void) | null = null;
  /** This stream's place in the shared lead queue (see {@linkcode LeadGate}). */
  readonly #gateWake = () => this.#wakeUp();
  /** Uncounts the segment being written from the lead gate's backlog, if it still counts. */
  #backlogRelease: (() => void) | null = null;

  /**
   * @param conn The viewer's connection.
   * @param options The title, quality and callbacks.
   */
  constructor(conn: Connection, options: StreamSessionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.streamId = options.streamId;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#gate = options.leadGate ?? DEFAULT_GATE;
    this.#quality = options.quality;
    const renditions = options.prepared.renditions;
    this.#auto = new AutoQuality(conn, renditions);
    // Auto starts from what this connection measured before (or the default estimate).
    this.#current = options.quality === "auto"
      ? this.#auto.initial()
      : renditions.findIndex((r) => r.height === options.quality);
    this.#pacing = new StreamPacing({
      segments: renditions[0].segments,
      position: options.position,
      maxUnackedBytes: options.maxUnackedBytes,
      stallStepDownMs: options.stallStepDownMs ?? DEFAULT_LIMITS.stallStepDownMs,
      stallStopMs: options.stallStopMs ?? DEFAULT_LIMITS.stallStopMs,
    });
  }

  /** Where the stream stands (see {@linkcode StreamPhase}). */
  get phase(): StreamPhase {
    return this.#pacing.phase;
  }

  /** Announces the stream and starts sending. */
  start(): void {
    const p = this.#options.prepared;
    this.#pacing.start(this.#clock.now());
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
      position: this.#pacing.segmentStart(this.#pacing.next),
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
    const jump = this.#pacing.seek(position, this.#clock.now());
    this.#conn.dropMedia(this.streamId);
    this.#fixer = new ContinuityFixer();
    this.#conn.send({
      type: "stream-seek",
      re: options.requestId,
      streamId: this.streamId,
      ...jump,
    });
    this.#wakeUp();
  }

  /** Holds the stream: nothing more is sent, the clock stops, no slow-consumer rule applies. */
  pause(): void {
    if (!this.#pacing.pause(this.#clock.now())) return;
    const limit = this.#options.pauseTimeoutMs ?? DEFAULT_LIMITS.pauseTimeoutMs;
    this.#cancelPauseLimit = this.#clock.schedule(
      () => this.#end("error", pauseTimeoutEnding(limit)),
      limit,
    );
  }

  /** Continues a held stream. */
  resume(): void {
    if (!this.#pacing.resume(this.#clock.now())) return;
    this.#cancelPauseLimit?.();
    this.#wakeUp();
  }

  /**
   * Records the viewer's receipt of a whole segment: a throughput sample and a buffer update.
   *
   * @param epoch The segment's epoch; an older epoch's ack is ignored.
   * @param index The segment index.
   */
  ack(epoch: number, index: number): void {
    const sample = this.#pacing.ack(epoch, index, this.#clock.now());
    if (sample === undefined) return;
    this.#auto.sample(sample);
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
    if (!this.#pacing.end()) return;
    this.#cancelPauseLimit?.();
    this.#gate.cancel(this.#gateWake);
    this.#abort.abort();
    this.#wakeUp();
  }

  #end(reason: StreamEndReason, options: EndOptions) {
    if (!this.#pacing.end()) return;
    this.#cancelPauseLimit?.();
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

  async #run() {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const epoch = this.#pacing.epoch;
      const waitFrom = this.#clock.now();
      const room = await this.#waitForRoom(epoch);
      if (room === "ended") return;
      if (room === "moved") continue;
      this.#options.onSegment?.(this.#pacing.lateBy(waitFrom, this.#clock.now()));
      await this.#sendSegment(epoch, this.#pacing.next);
    }
  }

  /**
   * Waits until the pacing lets the next segment go, following its decisions: finish at the
   * end, stop a viewer that stays stalled, step down, wait for the gate.
   */
  async #waitForRoom(epoch: number): Promise<"send" | "moved" | "ended"> {
    const signal = this.#abort.signal;
    const context = {
      measuring: false,
      gate: (ahead: number) => this.#gate.mayGo(ahead, this.#gateWake),
      urgentSeconds: this.#gate.urgentSeconds,
    };
    while (!signal.aborted) {
      if (this.#pacing.epoch !== epoch) return "moved";
      // Until this connection has a throughput sample, auto sends one segment and measures it.
      // A segment not in by the next one's turn means that the link no longer carries its
      // rendition: the next is chosen lower at once, from the rate that bounds (logged, so the
      // step-down is seen when it is decided), and waits for that segment's receipt (the link is
      // busy with it anyway) to be chosen again from what it measured (issue 22). Once: the bound
      // keeps falling while it waits, and the buffer with it, which would step down further on
      // no news (the receipt says how fast the link is).
      const overdue = this.#quality === "auto" && this.#pacing.overdue(this.#clock.now());
      if (overdue && this.#heldAt !== this.#pacing.next) {
        this.#heldAt = this.#pacing.next;
        this.#chooseAuto(this.#pacing.next, this.#clock.now());
      }
      context.measuring = this.#quality === "auto" && (!this.#auto.canEstimate() || overdue);
      const decision = this.#pacing.decide(this.#clock.now(), context);
      switch (decision.do) {
        case "send":
          this.#reserve();
          return "send";
        case "finish":
          this.#end("finished", {});
          return "ended";
        case "fail":
          this.#end("error", decision.ending);
          return "ended";
        case "nothing":
          return "ended";
      }
      if (decision.phase === "held") this.#gate.wait(this.#gateWake);
      if (decision.stepDown) this.#current = 0;
      await this.#sleep(decision.ms);
    }
    return "ended";
  }

  /** The height of the rendition being sent, e.g. 720. */
  get height(): number {
    return this.#options.prepared.renditions[this.#current]?.height ?? 0;
  }

  /**
   * The next segment may go: picks its rendition and counts it in the lead gate's backlog at once,
   * in the same step as the gate's yes, so that streams deciding in the same tick see each
   * other's segments and cannot all pass a gate that only had room for one.
   */
  #reserve() {
    if (this.#quality === "auto") this.#chooseAuto(this.#pacing.next, this.#clock.now());
    const segment = this.#options.prepared.renditions[this.#current].segments[this.#pacing.next];
    this.#backlogRelease = this.#gate.writing(segment.bytes);
  }

  /** Sends one segment of `epoch`, unless a jump or the end interrupts it. */
  async #sendSegment(epoch: number, index: number) {
    const written = this.#backlogRelease ?? (() => {});
    try {
      await this.#sendReserved(epoch, index);
    } finally {
      written();
      if (this.#backlogRelease === written) this.#backlogRelease = null;
    }
  }

  /** Reads, frames and writes the segment {@linkcode StreamSession.#reserve} counted. */
  async #sendReserved(epoch: number, index: number) {
    const { prepared, store } = this.#options;
    const signal = this.#abort.signal;
    const now = this.#clock.now();
    const rendition = prepared.renditions[this.#current];
    const segment = rendition.segments[index];
    const raw = await store.read(segment.path);
    if (signal.aborted || this.#pacing.epoch !== epoch) return;
    // The shared bytes, unless a rendition switch made this viewer's counters jump.
    const data = prepared.container === "mpegts" ? this.#fixer.fix(raw) : raw;
    const bytes = data.length;
    this.#pacing.sending(index, bytes, now);
    // The `segment` message and the media go in one write, framed once for every viewer of this
    // stream id and epoch. A jump or the end drops what is left of it (dropMedia): nothing of it
    // follows stream-seek or stream-end.
    const frames = FRAMED.frames(data, {
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
    await this.#conn.sendMediaFrames(this.streamId, frames);
  }

  /** Auto: the rendition of segment `index`, from what the receipts and the link tell now. */
  #chooseAuto(index: number, now: number): void {
    this.#current = this.#auto.choose(this.#current, index, {
      bufferSeconds: this.#pacing.bufferSeconds(now),
      inFlight: this.#pacing.oldestInFlight(now),
      onSwitch: this.#options.onSwitch,
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.#clock.schedule(done, ms);
      function done() {
        cancel();
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
