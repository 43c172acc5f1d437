/**
 * The decisions of one viewer's stream, pure: where it stands (a named phase), when the next
 * segment may go (the lead, the window, the pipeline, the lead gate), when a stalled viewer steps
 * down or is stopped, and how pause, seek and receipts move the viewer's modelled playback. The
 * caller gives the time on every call; nothing here reads a clock, sleeps or writes to a socket
 * (`stream_session.ts` does, and follows the decisions).
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import { STREAM_DEFAULTS } from "../limits.ts";
import { PlayClock } from "./play_clock.ts";

export { PlayClock } from "./play_clock.ts";

/**
 * Where a stream stands.
 *
 * - `sending`: the next segment may go now (or is going).
 * - `leading`: the viewer has its lead; the next segment waits for playback to catch up.
 * - `held`: the next segment only fills the lead and waits for the shared backlog (the lead gate).
 * - `draining`: the window or the pipeline is full; it waits for the viewer's receipts.
 * - `paused`: held by the viewer; nothing goes and no slow-consumer rule applies.
 * - `ended`: finished, stopped or failed; nothing more goes.
 */
export type StreamPhase = "sending" | "leading" | "held" | "draining" | "paused" | "ended";

/** One segment of the title's timeline (every rendition shares it). */
export interface TimelineSegment {
  /** Start, seconds from the start of the title. */
  start: number;
  /** Duration, seconds. */
  duration: number;
}

/** Options for {@linkcode StreamPacing}. */
export interface StreamPacingOptions {
  /** The title's segments, in order (at least one). */
  segments: readonly TimelineSegment[];
  /** Where to start, seconds: the segment containing it. @default {0} */
  position?: number;
  /** Media bytes sent but unconfirmed before sending waits. */
  maxUnackedBytes: number;
  /** A full window this long moves the viewer to the lowest rendition, ms. */
  stallStepDownMs: number;
  /** A full window, or no confirmation, this long stops the stream, ms. */
  stallStopMs: number;
  /** How far ahead of playback segments may go, seconds. @default {STREAM_DEFAULTS.leadSeconds} */
  leadSeconds?: number;
  /** Segments in flight at most. @default {STREAM_DEFAULTS.maxSegmentsInFlight} */
  maxSegmentsInFlight?: number;
  /**
   * Longest wait before deciding again while paused, held or draining, ms; a leading stream sleeps
   * until its segment is due. @default {STREAM_DEFAULTS.maxSleepMs}
   */
  maxSleepMs?: number;
}

/** What the caller asks the world while deciding: the parts of the decision that are not pacing. */
export interface DecideContext {
  /** Auto quality without a throughput sample yet: one segment at a time, to measure it. */
  measuring: boolean;
  /**
   * Whether the lead gate lets a lead-filling segment go this far ahead (asked only when the
   * segment could otherwise go: asking may take the stream's turn).
   */
  gate: (aheadSeconds: number) => boolean;
  /** How close to playback a segment goes whatever the gate says, seconds. */
  urgentSeconds: number;
}

/** How a stream ends, as the viewer is told. */
export interface StreamEnding {
  /** The code of `stream-end`. */
  code: ErrorCode;
  /** The message for the viewer. */
  message: string;
  /** The detail for the server log. */
  detail: string;
}

/**
 * What to do next, from {@linkcode StreamPacing.decide}. `finish` and `fail` name the phase to
 * enter: the caller ends the stream ({@linkcode StreamPacing.end}) as it tells the viewer.
 */
export type PacingDecision =
  | { do: "send"; phase: "sending" }
  | { do: "finish"; phase: "ended" }
  | { do: "fail"; phase: "ended"; ending: StreamEnding }
  | { do: "nothing"; phase: "ended" }
  | {
    do: "wait";
    phase: "leading" | "held" | "draining" | "paused";
    /** How long to wait at most before deciding again, ms (a receipt or a turn may wake it). */
    ms: number;
    /** The window stayed full too long: send the lowest rendition from now on. */
    stepDown: boolean;
  };

/** What a receipt measured: feed it to the throughput estimator. */
export interface AckSample {
  /** How long the segment took, ms: from when it went, or the previous receipt if later. */
  ms: number;
  /** Its bytes. */
  bytes: number;
  /** Its duration, seconds. */
  mediaSeconds: number;
}

/** What a jump did, for `stream-seek`. */
export interface SeekResult {
  /** The new epoch. */
  epoch: number;
  /** The segment it starts from. */
  index: number;
  /** That segment's start, seconds. */
  position: number;
  /** Whether the stream stays paused. */
  paused: boolean;
}

interface _Sent {
  bytes: number;
  startedAt: number;
  mediaEnd: number;
  mediaSeconds: number;
}

/** The viewer left it paused past the limit. */
export function pauseTimeoutEnding(limitMs: number): StreamEnding {
  return {
    code: "PAUSE_TIMEOUT",
    message: `Stream ended: paused longer than ${_minutes(limitMs)}; PLAY it again to continue`,
    detail: "PAUSE_TIMEOUT",
  };
}

/** The viewer kept the window full, or confirmed nothing, past the stop limit. */
export const SLOW_CONSUMER_ENDING: Readonly<StreamEnding> = Object.freeze({
  code: "SLOW_CONSUMER",
  message:
    "Stream stopped: your connection is not keeping up, even at the lowest quality; try again later",
  detail: "SLOW_CONSUMER",
});

/**
 * The pacing state machine of one stream: its phase, epoch, next segment, what is in flight and
 * the viewer's modelled playback. Every method takes the time (ms, one monotonic clock), so a test
 * drives it with plain numbers.
 *
 * @example
 * ```ts
 * const pacing = new StreamPacing({ segments, maxUnackedBytes, stallStepDownMs, stallStopMs });
 * pacing.start(now);
 * const next = pacing.decide(now, { measuring: false, gate: () => true, urgentSeconds: 2 });
 * if (next.do === "send") pacing.sending(pacing.next, bytes, now);
 * ```
 */
export class StreamPacing {
  readonly #segments: readonly TimelineSegment[];
  readonly #maxUnackedBytes: number;
  readonly #stepDownMs: number;
  readonly #stopMs: number;
  readonly #leadSeconds: number;
  readonly #maxInFlight: number;
  readonly #maxSleepMs: number;
  readonly #clock = new PlayClock();
  #phase: StreamPhase = "sending";
  #epoch = 0;
  #next: number;
  #sent = new Map<number, _Sent>();
  #unackedBytes = 0;
  #ackedMediaEnd: number;
  #lastAckAt = 0;
  /** When the slow-consumer rules last started counting (start, resume, jump). */
  #watchFrom = 0;
  /** Since when the window has been full in the current wait; null when it is not. */
  #fullSince: number | null = null;
  #paused = false;

  /** @param options The timeline, the window and the stall limits. */
  constructor(options: StreamPacingOptions) {
    this.#segments = options.segments;
    this.#maxUnackedBytes = options.maxUnackedBytes;
    this.#stepDownMs = options.stallStepDownMs;
    this.#stopMs = options.stallStopMs;
    this.#leadSeconds = options.leadSeconds ?? STREAM_DEFAULTS.leadSeconds;
    this.#maxInFlight = options.maxSegmentsInFlight ?? STREAM_DEFAULTS.maxSegmentsInFlight;
    this.#maxSleepMs = options.maxSleepMs ?? STREAM_DEFAULTS.maxSleepMs;
    this.#next = this.indexAt(options.position ?? 0);
    this.#ackedMediaEnd = this.segmentStart(this.#next);
    this.#clock.reset(this.#ackedMediaEnd, false);
  }

  /** Where the stream stands. */
  get phase(): StreamPhase {
    return this.#phase;
  }

  /** The current epoch (0, then one more per jump). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The index of the next segment to send. */
  get next(): number {
    return this.#next;
  }

  /** Whether the viewer holds the stream. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Segments sent and not yet confirmed. */
  get inFlight(): number {
    return this.#sent.size;
  }

  /** Media bytes sent and not yet confirmed. */
  get unackedBytes(): number {
    return this.#unackedBytes;
  }

  /** The segment containing `position` (clamped to the title). */
  indexAt(position: number): number {
    let index = 0;
    for (let i = 1; i < this.#segments.length; i++) {
      // A position on a boundary (within a microsecond) belongs to the segment that starts there.
      if (this.#segments[i].start <= position + 1e-6) index = i;
    }
    return index;
  }

  /** The start of segment `index`, seconds (0 past the end). */
  segmentStart(index: number): number {
    return this.#segments[index]?.start ?? 0;
  }

  /** The modelled playhead, seconds. */
  playhead(now: number): number {
    return this.#clock.playhead(now);
  }

  /** What the viewer holds ahead of its playhead, seconds (for the rendition choice). */
  bufferSeconds(now: number): number {
    return this.#ackedMediaEnd - this.#clock.playhead(now);
  }

  /**
   * The oldest segment sent and not yet confirmed, for the rendition choice: its bytes and how
   * long its transfer has lasted at `now`, ms (from when it went, or the previous receipt if later:
   * the link carries segments one after the other).
   *
   * @returns The segment on its way, or undefined when every segment sent was confirmed.
   */
  oldestInFlight(now: number): { bytes: number; ms: number } | undefined {
    const oldest = this.#oldestSent();
    if (oldest === undefined) return undefined;
    return {
      bytes: oldest.bytes,
      ms: Math.max(0, now - Math.max(oldest.startedAt, this.#lastAckAt)),
    };
  }

  /**
   * Whether the oldest segment sent and not yet confirmed has been on its way (timed as in
   * {@linkcode StreamPacing.oldestInFlight}) as long as the media it carries: the link does not
   * carry its rendition in real time now. In steady state the next segment's turn comes that long
   * after the previous one went, so this is "it has not arrived by the next turn".
   */
  overdue(now: number): boolean {
    const oldest = this.#oldestSent();
    if (oldest === undefined) return false;
    return now - Math.max(oldest.startedAt, this.#lastAckAt) >= oldest.mediaSeconds * 1000;
  }

  /** The stream was announced: the slow-consumer rules count from now. */
  start(now: number): void {
    this.#watchFrom = now;
  }

  /**
   * The viewer pauses: nothing more goes, the clock stops, no slow-consumer rule applies.
   *
   * @returns False when it was already paused or has ended (nothing changed).
   */
  pause(now: number): boolean {
    if (this.#paused || this.#phase === "ended") return false;
    this.#paused = true;
    this.#phase = "paused";
    this.#clock.pause(now);
    return true;
  }

  /**
   * The viewer resumes; the slow-consumer rules count afresh.
   *
   * @returns False when it was not paused.
   */
  resume(now: number): boolean {
    if (!this.#paused) return false;
    this.#paused = false;
    if (this.#phase === "paused") this.#phase = "sending";
    this.#clock.resume(now);
    this.#watchFrom = now;
    return true;
  }

  /**
   * A jump to the segment containing `position` (past the end: the last one) in a new epoch:
   * what was in flight is forgotten. A paused stream stays paused.
   */
  seek(position: number, now: number): SeekResult {
    const index = this.indexAt(position);
    this.#epoch++;
    this.#sent.clear();
    this.#unackedBytes = 0;
    this.#fullSince = null;
    this.#next = index;
    this.#ackedMediaEnd = this.segmentStart(index);
    this.#clock.reset(this.#ackedMediaEnd, this.#paused);
    this.#watchFrom = now;
    return { epoch: this.#epoch, index, position: this.#ackedMediaEnd, paused: this.#paused };
  }

  /**
   * Segment `index` of the current epoch goes out now.
   *
   * @param index The segment.
   * @param bytes Its size as sent.
   * @param now The time, ms.
   */
  sending(index: number, bytes: number, now: number): void {
    const segment = this.#segments[index];
    this.#sent.set(index, {
      bytes,
      startedAt: now,
      mediaEnd: segment.start + segment.duration,
      mediaSeconds: segment.duration,
    });
    this.#unackedBytes += bytes;
    this.#next = index + 1;
    this.#fullSince = null;
  }

  /**
   * The viewer confirmed a whole segment: playback starts (or goes on), capped at what it has.
   *
   * @returns The throughput sample, or undefined for another epoch's or an unknown segment.
   */
  ack(epoch: number, index: number, now: number): AckSample | undefined {
    if (epoch !== this.#epoch) return undefined;
    const sent = this.#sent.get(index);
    if (sent === undefined) return undefined;
    this.#sent.delete(index);
    const began = Math.max(sent.startedAt, this.#lastAckAt);
    this.#lastAckAt = now;
    this.#unackedBytes -= sent.bytes;
    this.#ackedMediaEnd = Math.max(this.#ackedMediaEnd, sent.mediaEnd);
    this.#clock.start(now);
    this.#clock.capAt(this.#ackedMediaEnd, now);
    return { ms: now - began, bytes: sent.bytes, mediaSeconds: sent.mediaSeconds };
  }

  /**
   * The stream ended (finished, stopped, failed or left).
   *
   * @returns False when it had already ended.
   */
  end(): boolean {
    if (this.#phase === "ended") return false;
    this.#phase = "ended";
    return true;
  }

  /**
   * Decides what the stream does at `now`: send the next segment, finish, fail a stalled
   * viewer, or wait (and how long) in a named phase.
   */
  decide(now: number, context: DecideContext): PacingDecision {
    if (this.#phase === "ended") return { do: "nothing", phase: "ended" };
    if (this.#next >= this.#segments.length) return { do: "finish", phase: "ended" };
    if (this.#paused) {
      this.#fullSince = null;
      return this.#wait("paused", this.#maxSleepMs, false);
    }
    const ahead = this.segmentStart(this.#next) - this.#clock.playhead(now);
    const windowFull = this.#unackedBytes >= this.#maxUnackedBytes;
    if (!windowFull) this.#fullSince = null;
    const pipelineFull = this.#sent.size >= (context.measuring ? 1 : this.#maxInFlight);
    const roomHere = ahead <= this.#leadSeconds && !windowFull && !pipelineFull;
    const held = roomHere && !context.gate(ahead);
    if (roomHere && !held) {
      this.#phase = "sending";
      return { do: "send", phase: "sending" };
    }
    // A viewer that confirms nothing, or keeps the window full, is stalled.
    if (windowFull) this.#fullSince ??= Math.max(now, this.#watchFrom);
    const silentMs = this.#sent.size > 0 ? now - this.#lastProgress() : 0;
    const fullMs = this.#fullSince === null ? 0 : now - this.#fullSince;
    if (Math.max(silentMs, fullMs) > this.#stopMs) {
      return { do: "fail", phase: "ended", ending: SLOW_CONSUMER_ENDING };
    }
    const stepDown = fullMs > this.#stepDownMs;
    if (windowFull || pipelineFull) return this.#wait("draining", 250, stepDown);
    if (held) return this.#wait("held", (ahead - context.urgentSeconds) * 1000, stepDown);
    // Nothing but the time or a receipt (which wakes it) can let a leading stream send: it sleeps
    // until its segment is due, or until the silence rule could stop it, not in short polls.
    const dueMs = (ahead - this.#leadSeconds) * 1000;
    const silenceMs = this.#sent.size > 0 ? this.#stopMs - silentMs : Infinity;
    this.#phase = "leading";
    return { do: "wait", phase: "leading", ms: Math.max(10, Math.min(dueMs, silenceMs)), stepDown };
  }

  /**
   * How late the next segment goes out, seconds: it was due when the modelled playback came
   * within the lead of its start, but not before the wait for it began (`waitFrom`, ms).
   */
  lateBy(waitFrom: number, now: number): number {
    const ahead = this.segmentStart(this.#next) - this.#clock.playhead(now);
    const dueFor = Math.min((now - waitFrom) / 1000, this.#leadSeconds - ahead);
    return Math.max(0, dueFor);
  }

  #wait(
    phase: "leading" | "held" | "draining" | "paused",
    ms: number,
    stepDown: boolean,
  ): PacingDecision {
    this.#phase = phase;
    if (phase === "paused") return { do: "wait", phase, ms, stepDown };
    return { do: "wait", phase, ms: Math.min(this.#maxSleepMs, Math.max(10, ms)), stepDown };
  }

  /** The oldest segment sent and not yet confirmed (the map keeps the order they went in). */
  #oldestSent(): _Sent | undefined {
    for (const sent of this.#sent.values()) return sent;
    return undefined;
  }

  /** When the viewer last confirmed a segment, or the oldest unconfirmed one was sent. */
  #lastProgress(): number {
    let oldest = Infinity;
    for (const sent of this.#sent.values()) oldest = Math.min(oldest, sent.startedAt);
    return Math.max(this.#lastAckAt, oldest, this.#watchFrom);
  }
}

function _minutes(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes >= 1 && Number.isInteger(minutes)) return `${minutes} min`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
