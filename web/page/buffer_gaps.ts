/**
 * Small holes in what a `SourceBuffer` holds, and where a stalled playhead should go to play on.
 *
 * Renditions that were encoded separately (one file per height, as a person's own ladder often
 * is) do not start their segments at exactly the same instant: B-frames delay the first picture
 * by two frames and each file's AAC has its own priming, so at a switch the audio or video of the
 * new rendition can begin tens of milliseconds after the old one ended. Chromium stops at such a
 * hole for good (`waiting`, `currentTime` still, the buffer growing: issue 18); Firefox crawls
 * over it. A player moves the playhead over a hole it has stalled at, as hls.js's gap controller
 * does. Pure: the page's player feeds it the element's time and buffered ranges.
 * @module
 */

/** One buffered range, in seconds. */
export interface TimeRange {
  /** Its start. */
  start: number;
  /** Its end. */
  end: number;
}

/** Tunables of {@linkcode gapSkip}, with their defaults in {@linkcode GAP_DEFAULTS}. */
export interface GapOptions {
  /** The largest hole jumped over, s; a larger one is media that has not arrived yet. */
  maxGapS: number;
  /** How close to the end of its range a stalled playhead counts as stuck at a hole, s. */
  nearEndS: number;
  /** How far into the next range the playhead lands, s (past its very first instant). */
  landS: number;
}

/** The defaults: holes up to 1 s, a playhead within 0.5 s of its range's end, 1 ms in. */
export const GAP_DEFAULTS: Readonly<GapOptions> = { maxGapS: 1, nearEndS: 0.5, landS: 0.001 };

/**
 * Where a stalled playhead should jump to play on, or null when no small hole is in its way.
 *
 * @param time The playhead, s.
 * @param ranges The buffered ranges, in ascending order (as `TimeRanges` lists them).
 * @param options Tunables; {@linkcode GAP_DEFAULTS} for those not given.
 * @returns The time to seek to, or null.
 * @example
 * ```ts
 * // Chromium stuck at 19.90 s, 30 ms of audio missing at 19.98 s:
 * gapSkip(19.9, [{ start: 0, end: 19.98 }, { start: 20.01, end: 28 }]); // 20.011
 * ```
 */
export function gapSkip(
  time: number,
  ranges: readonly TimeRange[],
  options: Partial<GapOptions> = {},
): number | null {
  const { maxGapS, nearEndS, landS } = { ...GAP_DEFAULTS, ...options };
  const current = ranges.find((r) => r.start <= time && time < r.end);
  // Well inside what is buffered: the stall is the decoder's, not a hole's.
  if (current !== undefined && current.end - time > nearEndS) return null;
  const next = ranges.find((r) => r.start > time);
  if (next === undefined || next.start - time > maxGapS) return null;
  return next.start + landS;
}

/**
 * The element's buffered ranges as plain values.
 *
 * @param ranges A `TimeRanges` (or anything shaped like it).
 * @returns The ranges in order.
 */
export function rangesOf(
  ranges: { length: number; start(i: number): number; end(i: number): number },
): TimeRange[] {
  const out: TimeRange[] = [];
  for (let i = 0; i < ranges.length; i++) out.push({ start: ranges.start(i), end: ranges.end(i) });
  return out;
}
