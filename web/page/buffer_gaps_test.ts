import { deepEqual, equal } from "node:assert/strict";
import { GAP_DEFAULTS, gapSkip, rangesOf, type TimeRange } from "./buffer_gaps.ts";

const r = (start: number, end: number): TimeRange => ({ start, end });

Deno.test("gapSkip() jumps a stalled playhead over a small hole, and only then", () => {
  const cases: [string, number, TimeRange[], number | null][] = [
    // The Chromium freeze of issue 18: stuck 80 ms before a 30 ms hole.
    ["stuck before a 30 ms hole", 19.9, [r(0, 19.98), r(20.01, 28)], 20.011],
    ["in the hole itself", 19.99, [r(0, 19.98), r(20.01, 28)], 20.011],
    ["exactly at the range's end", 19.98, [r(0, 19.98), r(20.01, 28)], 20.011],
    ["exactly nearEnd before the end: still counts", 19.48, [r(0, 19.98), r(20.01, 28)], 20.011],
    ["more than nearEnd before the end", 19.47, [r(0, 19.98), r(20.01, 28)], null],
    ["a hole of exactly maxGap from the playhead", 19.0, [r(0, 19), r(20, 28)], 20.001],
    ["a hole past maxGap: media not arrived yet", 18.99, [r(0, 18.99), r(20, 28)], null],
    ["nothing after the playhead's range", 7.9, [r(0, 8)], null],
    ["nothing buffered", 3, [], null],
    ["before the first range (a start that begins late)", 0, [r(0.06, 8)], 0.061],
    ["past every range", 30, [r(0, 8), r(8.02, 10)], null],
    ["the next of several ranges", 9.99, [r(0, 8), r(8.02, 10), r(10.05, 12)], 10.051],
  ];
  for (const [name, time, ranges, want] of cases) {
    const got = gapSkip(time, ranges);
    equal(got === null ? null : Number(got.toFixed(6)), want, name);
  }
});

Deno.test("gapSkip() takes its tunables from options over GAP_DEFAULTS", () => {
  const ranges = [r(0, 10), r(12, 20)];
  equal(gapSkip(10, ranges), null);
  equal(gapSkip(10, ranges, { maxGapS: 2 }), 12.001);
  equal(gapSkip(8, ranges, { maxGapS: 4, nearEndS: 2, landS: 0.5 }), 12.5);
  equal(GAP_DEFAULTS.maxGapS, 1);
});

Deno.test("rangesOf() copies TimeRanges in order", () => {
  const starts = [0, 4.5];
  const ends = [4, 9];
  const ranges = { length: 2, start: (i: number) => starts[i], end: (i: number) => ends[i] };
  deepEqual(rangesOf(ranges), [r(0, 4), r(4.5, 9)]);
  deepEqual(rangesOf({ length: 0, start: () => 0, end: () => 0 }), []);
});
