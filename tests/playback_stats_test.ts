/**
 * The pure playback figures of `tests/_playback_stats.ts`, from hand-written frame timelines.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import {
  countSwitches,
  findStalls,
  meanBitrate,
  settledAt,
  type ShownFrame,
  stepDownAfter,
  stepUpAfter,
} from "./_playback_stats.ts";

/** Frames every 40 ms from `from` to `to` (exclusive) at a height. */
function run(from: number, to: number, height: number): ShownFrame[] {
  const frames: ShownFrame[] = [];
  for (let at = from; at < to; at += 40) frames.push({ at, height });
  return frames;
}

const LADDER = [{ height: 240, bitrate: 300_000 }, { height: 480, bitrate: 850_000 }, {
  height: 720,
  bitrate: 2_700_000,
}];

Deno.test("findStalls() counts a gap just over the threshold, not one exactly at it", () => {
  deepEqual(findStalls([]), []);
  deepEqual(findStalls([{ at: 0, height: 240 }]), []);
  deepEqual(findStalls([{ at: 0, height: 240 }, { at: 1_000, height: 240 }]), []);
  deepEqual(findStalls([{ at: 0, height: 240 }, { at: 1_001, height: 240 }]), [{
    from: 0,
    to: 1_001,
  }]);
  deepEqual(findStalls([...run(0, 400, 240), ...run(2_000, 2_400, 240)]), [{
    from: 360,
    to: 2_000,
  }]);
});

Deno.test("settledAt() is the start of the last run at a height, null when the end is elsewhere", () => {
  const frames = [...run(0, 400, 720), ...run(400, 800, 240), ...run(800, 1_200, 480)];
  equal(settledAt(frames, 240), null);
  equal(settledAt(frames, 480), 800);
  equal(settledAt([...frames, ...run(1_200, 1_600, 240)], 240), 1_200);
  equal(settledAt([], 240), null);
});

Deno.test("countSwitches() and meanBitrate() weigh time on screen, not stalls", () => {
  const frames = [...run(0, 1_000, 720), ...run(1_000, 2_000, 240)];
  equal(countSwitches(frames), 1);
  const mean = meanBitrate(frames, (h) => LADDER.find((r) => r.height === h)!.bitrate);
  ok(Math.abs(mean - 1_500_000) < 30_000, String(mean));
  // Five seconds without a frame add nothing.
  const stalled = [...run(0, 1_000, 720), ...run(6_000, 7_000, 240)];
  const same = meanBitrate(stalled, (h) => LADDER.find((r) => r.height === h)!.bitrate);
  ok(Math.abs(same - 1_500_000) < 30_000, String(same));
  ok(Number.isNaN(meanBitrate([], () => 1)));
});

Deno.test("stepDownAfter() and stepUpAfter() time from the link's change to the screen", () => {
  const frames = [...run(0, 5_000, 720), ...run(5_000, 9_000, 240), ...run(9_000, 12_000, 720)];
  equal(stepDownAfter(frames, { at: 3_000, rate: 600_000, ladder: LADDER }), 2_000);
  // Already sustainable: nothing to step down.
  equal(stepDownAfter(frames, { at: 6_000, rate: 600_000, ladder: LADDER }), 0);
  ok(Number.isNaN(stepDownAfter(run(0, 5_000, 720), { at: 1_000, rate: 1, ladder: LADDER })));
  equal(stepUpAfter(frames, 7_000), 2_000);
  ok(Number.isNaN(stepUpAfter(frames, 10_000)));
});
