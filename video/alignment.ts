/**
 * Alignment checks (pure): whether prepared renditions have the same segment boundaries, and
 * whether sources can be remuxed into aligned segments without re-encoding (where the `hls` muxer
 * would cut a stream copied at its keyframes).
 * @module
 */

/**
 * Check that every rendition has the same segment count and boundaries.
 *
 * @param lists Segment lists, one per rendition.
 * @param tolerance Largest accepted difference of a start or duration, in seconds.
 * @returns `null` when aligned, else a description of the first difference.
 */
export function checkAlignment(
  lists: readonly (readonly { duration: number }[])[],
  tolerance: number,
): string | null {
  const first = lists[0] ?? [];
  for (let r = 1; r < lists.length; r++) {
    const other = lists[r];
    if (other.length !== first.length) {
      return `rendition ${r} has ${other.length} segments, rendition 0 has ${first.length}`;
    }
    let a = 0;
    let b = 0;
    for (let i = 0; i < first.length; i++) {
      if (
        Math.abs(a - b) > tolerance || Math.abs(first[i].duration - other[i].duration) > tolerance
      ) {
        return `segment ${i} of rendition ${r} starts at ${b.toFixed(3)} s for ${
          other[i].duration.toFixed(3)
        } s, in rendition 0 at ${a.toFixed(3)} s for ${first[i].duration.toFixed(3)} s`;
      }
      a += first[i].duration;
      b += other[i].duration;
    }
  }
  return null;
}

/** Largest difference between the keyframe times of two renditions that still counts as equal. */
export const KEYFRAME_TOLERANCE = 0.001;

/**
 * Predict the segments the `hls` muxer cuts from a stream copied with `-c:v copy`: it starts a new
 * segment at the first keyframe at least `n × segmentSeconds` after the start, where `n` is the
 * number of segments cut so far (so a late cut is followed by a short segment).
 *
 * @param keyframes Keyframe times in seconds, ascending; the first is the start of the stream.
 * @param duration Length of the stream in seconds from its first keyframe (the last segment runs to
 * its end).
 * @param segmentSeconds Target segment length.
 * @returns Segment durations in seconds.
 */
export function predictSegments(
  keyframes: readonly number[],
  duration: number,
  segmentSeconds: number,
): number[] {
  if (keyframes.length === 0) return [];
  const start = keyframes[0];
  const cuts = [start];
  for (const k of keyframes.slice(1)) {
    if (k - start >= cuts.length * segmentSeconds - 1e-6) cuts.push(k);
  }
  const out = cuts.slice(1).map((c, i) => c - cuts[i]);
  const tail = start + duration - cuts[cuts.length - 1];
  if (tail > 1e-6) out.push(tail);
  return out;
}

/**
 * Check that sources can be remuxed into aligned segments without re-encoding: every rendition has
 * its keyframes at the same times (within {@linkcode KEYFRAME_TOLERANCE}), and cutting at them (see
 * {@linkcode predictSegments}) gives segments of roughly the target length: none longer than twice
 * `segmentSeconds` and none but the last shorter than 1 s (or `segmentSeconds` when shorter).
 *
 * @param keyframes Keyframe times of each rendition, in seconds.
 * @param duration Duration of the title in seconds.
 * @param segmentSeconds Target segment length.
 * @param names Names of the renditions for the message. @default {["rendition 0", ...]}
 * @returns `null` when the sources can be remuxed, else the reason they cannot.
 */
export function remuxProblem(
  keyframes: readonly (readonly number[])[],
  duration: number,
  segmentSeconds: number,
  names: readonly string[] = keyframes.map((_, i) => `rendition ${i}`),
): string | null {
  const first = keyframes[0] ?? [];
  for (let r = 0; r < keyframes.length; r++) {
    const other = keyframes[r];
    if (other.length === 0) return `${names[r]} has no keyframes`;
    if (other.length !== first.length) {
      return `${names[r]} has ${other.length} keyframes, ${names[0]} has ${first.length}`;
    }
    const i = other.findIndex((t, i) => Math.abs(t - first[i]) > KEYFRAME_TOLERANCE);
    if (i >= 0) {
      return `keyframe ${i} of ${names[r]} is at ${other[i].toFixed(3)} s, in ${names[0]} at ${
        first[i].toFixed(3)
      } s`;
    }
  }
  const slack = 0.05;
  const longest = 2 * segmentSeconds;
  const shortest = Math.min(1, segmentSeconds);
  const segments = predictSegments(first, duration, segmentSeconds);
  for (const [i, d] of segments.entries()) {
    const start = first[0] + segments.slice(0, i).reduce((n, x) => n + x, 0);
    if (d > longest + slack) {
      return `its keyframes are too far apart to cut ${segmentSeconds} s segments without re-encoding (${
        d.toFixed(2)
      } s from ${start.toFixed(2)} s; at most ${longest} s)`;
    }
    if (i < segments.length - 1 && d < shortest - slack) {
      return `its keyframes are too close together to cut ${segmentSeconds} s segments without re-encoding (${
        d.toFixed(2)
      } s from ${start.toFixed(2)} s; at least ${shortest} s)`;
    }
  }
  return null;
}
