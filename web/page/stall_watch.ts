/**
 * The page's stall watchdog: what to do about a playing video whose playhead has stopped moving.
 *
 * The small hole between renditions is jumped at once ({@linkcode gapSkip}, issue 18). Anything
 * else that stops the playhead while media is buffered ahead of it is a state Chromium may never
 * leave by itself (a page froze for good after a 720p → 240p step-down behind a shaped link): a
 * hole wider than the gap jumper's limit (media that was lost, not late: media arrives in order,
 * so a hole with media after it is never filled), a decoder stuck inside a buffered range, or a
 * seek that waits at a hole. After {@linkcode StallOptions.stuckMs} without progress the playhead
 * is moved on: over the hole to the next buffered range, or nudged a little forward inside its
 * range, as hls.js's gap controller does. If that fails {@linkcode StallOptions.maxTries} times,
 * the page starts over at the playhead (a new media source, the server restarting there), as it
 * does at once for a media error (a segment the decoder refused closes the media source).
 * A video with nothing buffered ahead is waiting for the network, which no seek fixes: nothing.
 * Pure: the page's player feeds it the element's time, buffered ranges and a clock.
 * @module
 */

import { GAP_DEFAULTS, gapSkip, type TimeRange } from "./buffer_gaps.ts";

/** Tunables of {@linkcode watchStall}, with their defaults in {@linkcode STALL_DEFAULTS}. */
export interface StallOptions {
  /** How long a playing video may make no progress with media ahead before it is moved, ms. */
  stuckMs: number;
  /** How far a nudge moves a playhead stuck inside a buffered range, per try, s. */
  nudgeS: number;
  /** How many moves are tried before the page starts over at the playhead. */
  maxTries: number;
  /** How much media must be buffered past the playhead to count as "ahead", s. */
  aheadS: number;
}

/** The defaults: 3 s without progress, nudges of 0.1 s more each try, 3 tries, 0.1 s ahead. */
export const STALL_DEFAULTS: Readonly<StallOptions> = {
  stuckMs: 3_000,
  nudgeS: 0.1,
  maxTries: 3,
  aheadS: 0.1,
};

/** What the watchdog knows between two looks. */
export interface StallState {
  /** The playhead at the last look, s (-1: none yet). */
  lastTime: number;
  /** Since when the playhead has not moved (or since the last move), ms; null while it plays. */
  since: number | null;
  /** Moves tried since the playhead last made progress by itself. */
  tries: number;
}

/** The state before the first look. */
export const STALL_START: Readonly<StallState> = { lastTime: -1, since: null, tries: 0 };

/** One look at the element. */
export interface StallSample {
  /** `performance.now()`, ms. */
  now: number;
  /** The playhead, s. */
  time: number;
  /** Whether the video should be advancing (not paused, not ended, a stream on it). */
  active: boolean;
  /** Whether it is still below `HAVE_FUTURE_DATA` (a small hole is only jumped then). */
  starved: boolean;
  /** The element's buffered ranges, ascending. */
  ranges: readonly TimeRange[];
  /** Whether the element has a media error (a decode error closes its media source). */
  failed?: boolean;
}

/** What to do: nothing, move the playhead (`seek`), or start over at it (`restart`). */
export type StallAction =
  | { kind: "none" }
  | { kind: "seek"; to: number; why: "gap" | "hole" | "nudge" }
  | { kind: "restart"; at: number };

/**
 * The watchdog's next state and action after one look.
 *
 * @param state The state after the last look ({@linkcode STALL_START} at first).
 * @param sample The element now.
 * @param options Tunables; {@linkcode STALL_DEFAULTS} for those not given.
 * @returns The new state and what to do.
 * @example
 * ```ts
 * // Stuck 3 s at 41.9 s before a 2 s hole: jump to the next range.
 * const state = { lastTime: 41.9, since: 0, tries: 0 };
 * watchStall(state, { now: 3_000, time: 41.9, active: true, starved: true,
 *   ranges: [{ start: 20, end: 42 }, { start: 44, end: 50 }] }).action;
 * // { kind: "seek", to: 44.001, why: "hole" }
 * ```
 */
export function watchStall(
  state: Readonly<StallState>,
  sample: StallSample,
  options: Partial<StallOptions> = {},
): { state: StallState; action: StallAction } {
  const { stuckMs, nudgeS, maxTries, aheadS } = { ...STALL_DEFAULTS, ...options };
  const none = { kind: "none" } as const;
  const { now, time, ranges } = sample;
  // A media error closes the source for good: only a new one plays again (once per stuckMs).
  if (sample.failed === true) {
    const justRestarted = state.tries > maxTries && state.since !== null &&
      now - state.since < stuckMs;
    if (justRestarted) return { state, action: none };
    return {
      state: { lastTime: time, since: now, tries: maxTries + 1 },
      action: { kind: "restart", at: time },
    };
  }
  // Progress (or a video that is not meant to move) clears everything.
  if (!sample.active || time !== state.lastTime) {
    return { state: { lastTime: time, since: null, tries: 0 }, action: none };
  }
  const since = state.since ?? now;
  const here = { lastTime: time, since, tries: state.tries };
  // The small hole between renditions: at once, as soon as the element starves at it.
  const gap = sample.starved ? gapSkip(time, ranges) : null;
  if (gap !== null) {
    return { state: { ...here, since: now }, action: { kind: "seek", to: gap, why: "gap" } };
  }
  const ahead = ranges.some((r) => r.end > time + aheadS);
  if (!ahead || now - since < stuckMs) return { state: here, action: none };
  if (state.tries >= maxTries) {
    return {
      state: { lastTime: time, since: now, tries: 0 },
      action: { kind: "restart", at: time },
    };
  }
  const next = { lastTime: time, since: now, tries: state.tries + 1 };
  const inside = ranges.find((r) => r.start <= time && time < r.end);
  const after = ranges.find((r) => r.start > time);
  // Media at the playhead, and no hole right in front of it: the decoder is stuck; nudge it.
  if (inside !== undefined && (inside.end - time > GAP_DEFAULTS.nearEndS || after === undefined)) {
    const to = Math.min(time + nudgeS * next.tries, inside.end - aheadS / 2);
    return { state: next, action: { kind: "seek", to, why: "nudge" } };
  }
  // A hole of any size with media after it: that media is all that will come; go to it.
  const to = after!.start + GAP_DEFAULTS.landS;
  return { state: next, action: { kind: "seek", to, why: "hole" } };
}
