import assert from "node:assert/strict";
import { checkAlignment, predictSegments, remuxProblem } from "./alignment.ts";

Deno.test("`checkAlignment()` reports count and boundary differences", () => {
  const d = (...xs: number[]) => xs.map((duration) => ({ duration }));
  assert.equal(checkAlignment([d(2, 2, 1), d(2, 2, 1)], 0.02), null);
  assert.equal(checkAlignment([d(2, 2, 1), d(2.01, 1.99, 1)], 0.02), null);
  assert.match(
    checkAlignment([d(2, 2), d(2, 2, 1)], 0.02)!,
    /rendition 1 has 3 segments, rendition 0 has 2/,
  );
  assert.match(checkAlignment([d(2, 2, 1), d(2, 1.5, 1.5)], 0.02)!, /^segment 1 of rendition 1/);
  assert.equal(checkAlignment([], 0.02), null);
});

Deno.test("`predictSegments()` cuts at the first keyframe after each multiple, like the hls muxer", () => {
  assert.deepEqual(predictSegments([0, 2, 4], 6, 2), [2, 2, 2]);
  // x264 -g 48 at 25 fps adds keyframes at 1.92 s, 3.92 s...: they are skipped.
  assert.deepEqual(predictSegments([0, 1.92, 2, 3.92, 4, 5.92], 6, 2), [2, 2, 2]);
  assert.deepEqual(predictSegments([0, 1, 2, 3, 4], 5, 2), [2, 2, 1]);
  // A late cut is followed by a short segment: the muxer catches up with n × 2 s.
  assert.deepEqual(predictSegments([0, 3.5, 4, 6], 7, 2).map((d) => +d.toFixed(3)), [
    3.5,
    0.5,
    2,
    1,
  ]);
  // A first keyframe after 0 is the start; the duration counts from it.
  assert.deepEqual(predictSegments([0.08, 2.08], 4, 2).map((d) => +d.toFixed(3)), [2, 2]);
  assert.deepEqual(predictSegments([0], 6, 2), [6]);
  assert.deepEqual(predictSegments([], 6, 2), []);
});

Deno.test("`remuxProblem()` accepts identical, well spaced keyframes only", () => {
  const aligned = [0, 1.92, 2, 3.92, 4, 5.92];
  assert.equal(remuxProblem([aligned, aligned.slice()], 6, 2), null);
  assert.equal(remuxProblem([[0, 2, 4], [0, 2.0004, 4]], 6, 2), null, "within 1 ms");
  assert.equal(remuxProblem([[0]], 4, 2), null, "one 4 s segment is at most twice 2 s");
  const names = ['"a.mp4"', '"b.mp4"'];
  const table: [number[][], number, RegExp][] = [
    [[[0, 2, 4], [0, 2.01, 4]], 6, /^keyframe 1 of "b.mp4" is at 2.010 s, in "a.mp4" at 2.000 s$/],
    [[[0, 2, 4], [0, 4]], 6, /^"b.mp4" has 2 keyframes, "a.mp4" has 3$/],
    [[[0, 2], []], 6, /^"b.mp4" has no keyframes$/],
    [
      [[0]],
      6,
      /^its keyframes are too far apart to cut 2 s segments without re-encoding \(6.00 s from 0.00 s; at most 4 s\)$/,
    ],
    [[[0, 5]], 6, /too far apart .*\(5.00 s from 0.00 s; at most 4 s\)$/],
    [[[0, 2, 4]], 10, /too far apart .*\(6.00 s from 4.00 s; at most 4 s\)$/],
    [[[0, 3.5, 4, 6]], 7, /too close together .*\(0.50 s from 3.50 s; at least 1 s\)$/],
  ];
  for (const [keyframes, duration, re] of table) {
    assert.match(remuxProblem(keyframes, duration, 2, names) ?? "null", re);
  }
});
