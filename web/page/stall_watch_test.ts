import { deepEqual, equal } from "node:assert/strict";
import type { TimeRange } from "./buffer_gaps.ts";
import {
  STALL_DEFAULTS,
  STALL_START,
  type StallAction,
  type StallSample,
  type StallState,
  watchStall,
} from "./stall_watch.ts";

const r = (start: number, end: number): TimeRange => ({ start, end });
const at = (now: number, time: number, ranges: TimeRange[], more: Partial<StallSample> = {}) => ({
  now,
  time,
  ranges,
  active: true,
  starved: true,
  ...more,
});
/** Stuck at `time` since 0 (the first look), looked at again at `now`. */
function stuckFor(now: number, time: number, ranges: TimeRange[], tries = 0): StallAction {
  const state: StallState = { lastTime: time, since: 0, tries };
  return watchStall(state, at(now, time, ranges)).action;
}
const round = (a: StallAction) =>
  a.kind === "seek" ? { ...a, to: Number(a.to.toFixed(6)) } : a.kind === "restart" ? a : a;

Deno.test("watchStall() moves a playhead stuck with media ahead, and only then", () => {
  const hole = [r(20, 41.98), r(44, 50)];
  const cases: [string, number, number, TimeRange[], StallAction][] = [
    // The freeze: a 2 s hole (past the gap jumper's 1 s) with media after it.
    ["a 2 s hole, stuck for stuckMs", 3_000, 41.97, hole, {
      kind: "seek",
      to: 44.001,
      why: "hole",
    }],
    ["a 2 s hole, stuck 1 ms less than stuckMs", 2_999, 41.97, hole, { kind: "none" }],
    ["in the hole itself (a seek that waits there)", 3_000, 42.5, hole, {
      kind: "seek",
      to: 44.001,
      why: "hole",
    }],
    // The decoder stuck well inside what is buffered: nudged 0.1 s on.
    ["stuck inside a range", 3_000, 30, hole, { kind: "seek", to: 30.1, why: "nudge" }],
    // Nothing ahead: waiting for the network, which no seek fixes.
    ["drained: the playhead at the end of all media", 10_000, 50, hole, { kind: "none" }],
    ["drained but for less than aheadS", 10_000, 49.95, hole, { kind: "none" }],
    ["nothing buffered", 10_000, 5, [], { kind: "none" }],
    // Near the end of its range and no range after: nudge within it.
    ["0.3 s left in the last range", 3_000, 49.7, hole, { kind: "seek", to: 49.8, why: "nudge" }],
    // The small hole of issue 18 goes at once, not after stuckMs.
    ["a 30 ms hole: at the first look", 250, 41.9, [r(20, 41.98), r(42.01, 50)], {
      kind: "seek",
      to: 42.011,
      why: "gap",
    }],
  ];
  for (const [name, now, time, ranges, want] of cases) {
    deepEqual(round(stuckFor(now, time, ranges)), want, name);
  }
});

Deno.test("watchStall() nudges further each try, then starts over at the playhead", () => {
  const ranges = [r(0, 40)];
  deepEqual(round(stuckFor(3_000, 30, ranges, 1)), { kind: "seek", to: 30.2, why: "nudge" });
  deepEqual(round(stuckFor(3_000, 30, ranges, 2)), { kind: "seek", to: 30.3, why: "nudge" });
  deepEqual(stuckFor(3_000, 30, ranges, STALL_DEFAULTS.maxTries), { kind: "restart", at: 30 });
  // A nudge never leaves the range.
  deepEqual(round(stuckFor(3_000, 39.3, ranges, 2)), { kind: "seek", to: 39.6, why: "nudge" });
});

Deno.test("watchStall() waits stuckMs again after each move, and resets on progress", () => {
  const ranges = [r(20, 41.98), r(44, 50)];
  let state: StallState = STALL_START;
  const look = (now: number, time: number, more: Partial<StallSample> = {}) => {
    const out = watchStall(state, at(now, time, ranges, more));
    state = out.state;
    return out.action.kind;
  };
  equal(look(0, 41.97), "none", "the first look only records the time");
  equal(look(250, 41.97), "none");
  equal(look(3_250, 41.97), "seek");
  equal(state.tries, 1);
  equal(look(3_500, 41.97), "none", "the move just made gets its own stuckMs");
  equal(look(6_250, 41.97), "seek");
  equal(state.tries, 2);
  equal(look(6_500, 44.2), "none", "progress");
  deepEqual(state, { lastTime: 44.2, since: null, tries: 0 });
  // A paused (or ended) video is not stalled, however long it sits.
  equal(look(7_000, 44.2, { active: false }), "none");
  equal(look(60_000, 44.2, { active: false }), "none");
  equal(state.since, null);
});

Deno.test("watchStall() jumps a small hole only while the element starves at it", () => {
  const ranges = [r(20, 41.98), r(42.01, 50)];
  const state: StallState = { lastTime: 41.9, since: 0, tries: 0 };
  equal(watchStall(state, at(250, 41.9, ranges, { starved: false })).action.kind, "none");
  equal(watchStall(state, at(250, 41.9, ranges)).action.kind, "seek");
});

Deno.test("watchStall() takes its tunables from options over STALL_DEFAULTS", () => {
  const state: StallState = { lastTime: 30, since: 0, tries: 0 };
  const sample = at(1_000, 30, [r(0, 40)]);
  equal(watchStall(state, sample).action.kind, "none");
  deepEqual(round(watchStall(state, sample, { stuckMs: 1_000, nudgeS: 0.5 }).action), {
    kind: "seek",
    to: 30.5,
    why: "nudge",
  });
  deepEqual(watchStall(state, sample, { stuckMs: 1_000, maxTries: 0 }).action, {
    kind: "restart",
    at: 30,
  });
  equal(STALL_DEFAULTS.stuckMs, 3_000);
});

Deno.test("watchStall() starts over at once after a media error, then not again within stuckMs", () => {
  const ranges = [r(0, 40)];
  let state: StallState = STALL_START;
  const look = (now: number, failed: boolean, time = 12) => {
    const out = watchStall(state, at(now, time, ranges, { failed }));
    state = out.state;
    return out.action;
  };
  deepEqual(look(0, true), { kind: "restart", at: 12 }, "at the first look");
  deepEqual(look(250, true), { kind: "none" }, "the new source gets its stuckMs");
  deepEqual(look(2_999, true), { kind: "none" });
  deepEqual(look(3_000, true), { kind: "restart", at: 12 }, "still failing after stuckMs");
  // Whether or not the video is meant to move: a failed element never moves again by itself.
  deepEqual(
    watchStall(STALL_START, at(0, 5, [], { failed: true, active: false })).action,
    { kind: "restart", at: 5 },
  );
  // Once it plays again, the watch is the usual one.
  deepEqual(look(4_000, false, 12.5), { kind: "none" });
  deepEqual(state, { lastTime: 12.5, since: null, tries: 0 });
});
