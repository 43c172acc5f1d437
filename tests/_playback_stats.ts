/**
 * What a person saw, from the frames a player presented (pure; issue 22): start-up, stalls (no new
 * frame for longer than a threshold while playing), the mean bit rate on screen, switches, when
 * playback settled on one rendition, and how long a player took to step down after the link
 * dropped and up after it rose. Shared by the shaped-link tests and the bench's `shaped` scenario,
 * for the terminal's player, the page and hls.js alike.
 * @module
 */

/** One presented frame. */
export interface ShownFrame {
  /** When it was presented, ms (any clock shared with the other times given). */
  at: number;
  /** Its height. */
  height: number;
}

/** A stall: no new frame from `from` to `to`, ms. */
export interface Stall {
  from: number;
  to: number;
}

/** The default stall threshold, ms: no new frame for longer than this while playing. */
export const STALL_MS = 1_000;

/**
 * The stalls between the first and the last frame: every gap between consecutive frames longer
 * than the threshold.
 *
 * @param frames Frames in time order.
 * @param thresholdMs The longest gap that is not a stall. @default {STALL_MS}
 * @returns The stalls, in order.
 */
export function findStalls(frames: readonly ShownFrame[], thresholdMs = STALL_MS): Stall[] {
  const stalls: Stall[] = [];
  for (let i = 1; i < frames.length; i++) {
    if (frames[i].at - frames[i - 1].at > thresholdMs) {
      stalls.push({ from: frames[i - 1].at, to: frames[i].at });
    }
  }
  return stalls;
}

/**
 * When playback settled for good on a height: the first frame of the last run of frames at that
 * height, if that run lasts to the end.
 *
 * @param frames Frames in time order.
 * @param height The height.
 * @returns That frame's time, or null when the last frame is at another height (or none).
 */
export function settledAt(frames: readonly ShownFrame[], height: number): number | null {
  let i = frames.length;
  while (i > 0 && frames[i - 1].height === height) i--;
  return i === frames.length ? null : frames[i].at;
}

/**
 * The rendition changes on screen.
 *
 * @param frames Frames in time order.
 * @returns How many times the height changed.
 */
export function countSwitches(frames: readonly ShownFrame[]): number {
  let n = 0;
  for (let i = 1; i < frames.length; i++) if (frames[i].height !== frames[i - 1].height) n++;
  return n;
}

/**
 * The mean bit rate on screen: each frame weighs the time until the next one (a stall weighs
 * nothing: nothing new was on screen), at its rendition's bit rate.
 *
 * @param frames Frames in time order.
 * @param bitrateOf The bit rate of a height, bits/s.
 * @param thresholdMs Longer gaps are stalls. @default {STALL_MS}
 * @returns Bits/s, or NaN with fewer than two frames.
 */
export function meanBitrate(
  frames: readonly ShownFrame[],
  bitrateOf: (height: number) => number,
  thresholdMs = STALL_MS,
): number {
  let weighted = 0;
  let total = 0;
  for (let i = 1; i < frames.length; i++) {
    const dt = frames[i].at - frames[i - 1].at;
    if (dt > thresholdMs) continue;
    weighted += dt * bitrateOf(frames[i - 1].height);
    total += dt;
  }
  return total > 0 ? weighted / total : NaN;
}

/**
 * How long after a moment the screen first showed a frame matching a test.
 *
 * @param frames Frames in time order.
 * @param since The moment, ms.
 * @param test Which frame counts.
 * @returns Ms after `since`, or NaN when none did.
 */
export function firstAfter(
  frames: readonly ShownFrame[],
  since: number,
  test: (f: ShownFrame) => boolean,
): number {
  const found = frames.find((f) => f.at >= since && test(f));
  return found === undefined ? NaN : found.at - since;
}

/**
 * The height on screen at a moment: the last frame presented at or before it.
 *
 * @param frames Frames in time order.
 * @param at The moment, ms.
 * @returns The height, or 0 before the first frame.
 */
export function heightAt(frames: readonly ShownFrame[], at: number): number {
  let height = 0;
  for (const f of frames) {
    if (f.at > at) break;
    height = f.height;
  }
  return height;
}

/** A rendition of a ladder. */
export interface LadderRung {
  height: number;
  /** Bits/s. */
  bitrate: number;
}

/**
 * After the link's rate dropped at a moment: how long until the screen showed a rendition the new
 * rate sustains (its bit rate at most the rate), or 0 when one was on screen already.
 *
 * @param frames Frames in time order.
 * @param options The moment, the new rate (bits/s) and the ladder.
 * @returns Ms, or NaN when it never did.
 */
export function stepDownAfter(
  frames: readonly ShownFrame[],
  options: { at: number; rate: number; ladder: readonly LadderRung[] },
): number {
  const fits = (h: number) =>
    (options.ladder.find((r) => r.height === h)?.bitrate ?? 0) <= options.rate;
  if (fits(heightAt(frames, options.at))) return 0;
  return firstAfter(frames, options.at, (f) => fits(f.height));
}

/**
 * After the link's rate rose at a moment: how long until the screen showed a higher rendition
 * than at that moment.
 *
 * @param frames Frames in time order.
 * @param at The moment.
 * @returns Ms, or NaN when it never did.
 */
export function stepUpAfter(frames: readonly ShownFrame[], at: number): number {
  const before = heightAt(frames, at);
  return firstAfter(frames, at, (f) => f.height > before);
}
