/**
 * Scenario 16's figures from frames (`figuresOf`, pure): a step down or up is timed only while the
 * rate that called for it held, and a player frozen at the end has stalled.
 * @module
 */

import { deepEqual, equal } from "node:assert/strict";
import type { ShownFrame } from "../tests/_playback_stats.ts";
import { autoChoices, figuresOf } from "./_shaped_figures.ts";
import type { Schedule } from "./_shaped_plan.ts";

const M = 1_000_000;
const SCHEDULE: Schedule = {
  name: "test",
  steps: [
    { atMs: 0, bitsPerSecond: 5 * M },
    { atMs: 10_000, bitsPerSecond: 0.6 * M },
    { atMs: 20_000, bitsPerSecond: 3 * M },
  ],
  seconds: 30,
};
const LADDER = [
  { height: 240, bitrate: 330_000 },
  { height: 480, bitrate: 807_000 },
  { height: 720, bitrate: 2_353_000 },
];

/** Frames every 40 ms from `from` to `to` (ms, `to` excluded) at a height. */
function run(from: number, to: number, height: number): ShownFrame[] {
  const frames: ShownFrame[] = [];
  for (let at = from; at < to; at += 40) frames.push({ at, height });
  return frames;
}

Deno.test("figuresOf() times each change while its rate holds and counts a frozen end as a stall", () => {
  const cases: {
    name: string;
    frames: ShownFrame[];
    want: { stepDownMs: number[]; stepUpMs: number[]; missed: number[]; stalls: number };
  }[] = [
    {
      name: "down 4 s after the drop, up 5 s after the rise",
      frames: [
        ...run(1_000, 14_000, 720),
        ...run(14_000, 25_000, 240),
        ...run(25_000, 30_000, 720),
      ],
      want: { stepDownMs: [4_000], stepUpMs: [5_000], missed: [], stalls: 0 },
    },
    {
      name: "480p does not fit 0.6 Mbit/s: 240p only after the rise counts the whole drop",
      frames: [
        ...run(1_000, 12_000, 720),
        ...run(12_000, 21_000, 480),
        ...run(21_000, 30_000, 240),
      ],
      want: { stepDownMs: [10_000], stepUpMs: [10_000], missed: [10_000, 20_000], stalls: 0 },
    },
    {
      name: "frozen from 27 s to the end: a stall",
      frames: [
        ...run(1_000, 12_000, 720),
        ...run(12_000, 22_000, 240),
        ...run(22_000, 27_000, 480),
      ],
      want: { stepDownMs: [2_000], stepUpMs: [2_000], missed: [], stalls: 1 },
    },
  ];
  for (const c of cases) {
    const f = figuresOf(c.frames, { schedule: SCHEDULE, ladder: LADDER });
    deepEqual(
      { stepDownMs: f.stepDownMs, stepUpMs: f.stepUpMs, missed: f.missed, stalls: f.stalls },
      c.want,
      c.name,
    );
    equal(f.startupMs, 1_000, c.name);
  }
});

Deno.test("autoChoices() reads auto's changes and their times from a server's log", () => {
  const lines = [
    '2026-12-07 14:00:00.000 play #3 "viewer" benchshaped auto',
    "2026-12-07 14:00:02.250 auto #3 240p → 720p from segment 1 (estimate 9,000 kbit/s, buffer 2.0 s)",
    "2026-12-07 14:00:31.500 auto #3 720p → 480p from segment 16 (estimate 4,870 kbit/s, last 4,912, on its way ≤ 2,351, buffer 4.0 s)",
    "2026-12-07 14:00:31.600 auto #3 nonsense",
  ];
  const t = Date.parse("2026-12-07T14:00:00.000Z");
  deepEqual(autoChoices(lines), [
    { at: t + 2_250, height: 240 },
    { at: t + 2_250, height: 720 },
    { at: t + 31_500, height: 480 },
  ]);
  deepEqual(autoChoices(["Listening on 127.0.0.1:4000"]), []);
});

Deno.test("figuresOf() times the renditions chosen on the server like those on screen", () => {
  const frames = [...run(1_000, 18_000, 720), ...run(18_000, 30_000, 240)];
  const choices = [
    { at: 500, height: 240 },
    { at: 900, height: 720 },
    { at: 12_500, height: 240 },
    { at: 23_000, height: 480 },
  ];
  const f = figuresOf(frames, { schedule: SCHEDULE, ladder: LADDER, choices });
  deepEqual(f.stepDownMs, [8_000]);
  deepEqual(f.chosen?.stepDownMs, [2_500]);
  deepEqual(f.chosen?.stepUpMs, [3_000]);
  deepEqual(f.chosen?.shown, [[0.5, 240], [0.9, 720], [12.5, 240], [23, 480]]);
  equal(figuresOf(frames, { schedule: SCHEDULE, ladder: LADDER }).chosen, undefined);
});
