/**
 * Scenario 16's figures from frames (`figuresOf`, pure): a step down or up is timed only while the
 * rate that called for it held, and a player frozen at the end has stalled.
 * @module
 */

import { deepEqual, equal } from "node:assert/strict";
import type { ShownFrame } from "../tests/_playback_stats.ts";
import { figuresOf, type Schedule } from "./shaped.ts";

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
