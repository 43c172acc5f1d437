/**
 * The shaped-link scenario's plan: the title, the rate schedules (full and quick) and the players
 * compared.
 * @module
 */

import type { RateStep } from "../tests/_netns.ts";

/** The title: 130 s of 720p at 2.5 Mbit/s; the server derives 240p and 480p from it. */
export const SHAPED_TITLE = {
  title: "benchshaped",
  seconds: 130,
  folder: "videos-shaped",
  height: 720,
  bitrate: "2.5M",
} as const;

/** A rate schedule, played for `seconds`. */
export interface Schedule {
  name: string;
  steps: RateStep[];
  seconds: number;
}

const M = 1_000_000;

/** The full run's schedules. */
export const FULL_SCHEDULES: readonly Schedule[] = [
  {
    name: "5 → 1.5 → 0.6 → 3 Mbit/s",
    steps: [
      { atMs: 0, bitsPerSecond: 5 * M },
      { atMs: 30_000, bitsPerSecond: 1.5 * M },
      { atMs: 60_000, bitsPerSecond: 0.6 * M },
      { atMs: 90_000, bitsPerSecond: 3 * M },
    ],
    seconds: 120,
  },
  { name: "fixed 1 Mbit/s", steps: [{ atMs: 0, bitsPerSecond: 1 * M }], seconds: 120 },
];

/** The quick run's schedule: one drop and one rise, 40 s per player. */
export const QUICK_SCHEDULES: readonly Schedule[] = [{
  name: "5 → 0.6 → 3 Mbit/s (quick)",
  steps: [
    { atMs: 0, bitsPerSecond: 5 * M },
    { atMs: 12_000, bitsPerSecond: 0.6 * M },
    { atMs: 24_000, bitsPerSecond: 3 * M },
  ],
  seconds: 40,
}];

/** The players compared. */
export const PLAYERS = ["terminal", "page", "hls.js"] as const;
/** One of {@linkcode PLAYERS}. */
export type PlayerKind = (typeof PLAYERS)[number];
