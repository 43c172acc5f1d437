import { deepEqual, equal, ok } from "node:assert/strict";
import { STREAM_DEFAULTS } from "../limits.ts";
import {
  type DecideContext,
  type PacingDecision,
  pauseTimeoutEnding,
  PlayClock,
  SLOW_CONSUMER_ENDING,
  StreamPacing,
  type StreamPacingOptions,
} from "./stream_state.ts";

/** Ten segments of 2 s: 0, 2, 4 … 18. */
const SEGMENTS = Array.from({ length: 10 }, (_, i) => ({ start: i * 2, duration: 2 }));

const OPTIONS: StreamPacingOptions = {
  segments: SEGMENTS,
  maxUnackedBytes: 1_000,
  stallStepDownMs: 3_000,
  stallStopMs: 15_000,
};

/** A gate that always opens, recording what it was asked. */
function openGate(asked: number[] = []): DecideContext {
  return {
    measuring: false,
    gate: (ahead) => {
      asked.push(ahead);
      return true;
    },
    urgentSeconds: 2,
  };
}

function closedGate(asked: number[] = []): DecideContext {
  return { ...openGate(), gate: (ahead) => (asked.push(ahead), false) };
}

/** A stream started at 0 ms whose first `count` segments went out and came back at 0 ms. */
function playing(count: number, options: Partial<StreamPacingOptions> = {}): StreamPacing {
  const pacing = new StreamPacing({ ...OPTIONS, ...options });
  pacing.start(0);
  for (let i = 0; i < count; i++) {
    equal(pacing.decide(0, openGate()).do, "send", `segment ${i} goes`);
    pacing.sending(i, 100, 0);
    pacing.ack(0, i, 0);
  }
  return pacing;
}

/** The decision without the `ending` text and with whole milliseconds, for compact tables. */
function brief(decision: PacingDecision): string {
  switch (decision.do) {
    case "wait":
      return `wait ${decision.phase} ${Math.round(decision.ms)}${
        decision.stepDown ? " step-down" : ""
      }`;
    case "fail":
      return `fail ${decision.ending.code}`;
    default:
      return decision.do;
  }
}

Deno.test("StreamPacing.decide() sends the first segment at once and names the phase", () => {
  const pacing = new StreamPacing(OPTIONS);
  pacing.start(0);
  equal(pacing.phase, "sending");
  deepEqual(pacing.decide(0, openGate()), { do: "send", phase: "sending" });
  equal(pacing.next, 0);
});

Deno.test("StreamPacing.decide() waits while the next segment is more than the lead ahead", () => {
  // Four segments out and confirmed at 0 ms: playback runs from 0 s; segment 4 starts at 8 s.
  const lead = STREAM_DEFAULTS.leadSeconds;
  equal(lead, 6);
  const table: [number, string][] = [
    [0, "wait leading 2000"], // 8 s ahead: it wakes when the segment is due, not before
    [1_500, "wait leading 500"], // 6.5 s ahead
    [1_700, "wait leading 300"], // 6.3 s ahead
    [1_995, "wait leading 10"], // 6.005 s ahead: the shortest sleep
    [2_000, "send"], // exactly the lead
    [2_001, "send"],
  ];
  for (const [now, expected] of table) {
    const pacing = playing(4);
    equal(pacing.next, 4);
    equal(brief(pacing.decide(now, openGate())), expected, `at ${now} ms`);
    equal(pacing.phase, expected === "send" ? "sending" : "leading");
  }
});

Deno.test("StreamPacing.decide() wakes a leading stream when its segment is due or when the silence limit would stop it, whichever comes first", () => {
  // Segments 0–2 confirmed at 0 ms, segment 3 (6 s) sent at 0 ms and never confirmed: segment 4
  // (8 s) is due at 2 s; the viewer's silence stops it after the stop limit.
  const table: [number, number, string][] = [
    [15_000, 0, "wait leading 2000"], // the segment is due first
    [1_000, 0, "wait leading 1000"], // silent 1 s: the stop rule could fire first
    [1_000, 400, "wait leading 600"],
    [1_000, 1_001, "fail SLOW_CONSUMER"],
  ];
  for (const [stallStopMs, now, expected] of table) {
    const pacing = playing(3, { stallStopMs });
    equal(brief(pacing.decide(0, openGate())), "send");
    pacing.sending(3, 100, 0);
    equal(brief(pacing.decide(now, openGate())), expected, `stop ${stallStopMs} ms, at ${now} ms`);
  }
});

Deno.test("StreamPacing.decide() holds a lead-filling segment at the gate, asking it only when it could go", () => {
  const asked: number[] = [];
  const pacing = playing(4);
  // 6 s ahead at 2 s: within the lead, the gate says no; it may wake the stream before 4 s.
  deepEqual(pacing.decide(2_000, closedGate(asked)), {
    do: "wait",
    phase: "held",
    ms: 500,
    stepDown: false,
  });
  equal(pacing.phase, "held");
  deepEqual(asked, [6]);
  // Urgent soon: the wait shrinks to when the segment becomes urgent.
  equal(brief(pacing.decide(5_800, closedGate(asked))), "wait held 200");
  // Beyond the lead, or with a full pipeline, the gate is not asked (asking may take a turn).
  const early = playing(4);
  equal(brief(early.decide(0, closedGate(asked))), "wait leading 2000");
  const busy = playing(0);
  busy.sending(0, 100, 0);
  busy.sending(1, 100, 0);
  equal(brief(busy.decide(0, closedGate(asked))), "wait draining 250");
  deepEqual(asked.map((ahead) => Math.round(ahead * 1000) / 1000), [6, 2.2]);
});

Deno.test("StreamPacing.decide() keeps one segment in flight while measuring, two otherwise", () => {
  const table: [boolean, number, string][] = [
    [false, 0, "send"],
    [false, 1, "send"],
    [false, 2, "wait draining 250"],
    [true, 0, "send"],
    [true, 1, "wait draining 250"],
  ];
  for (const [measuring, inFlight, expected] of table) {
    const pacing = playing(0);
    for (let i = 0; i < inFlight; i++) pacing.sending(i, 10, 0);
    const context = { ...openGate(), measuring };
    equal(brief(pacing.decide(0, context)), expected, `measuring ${measuring}, ${inFlight}`);
  }
});

Deno.test("StreamPacing.decide() steps down past the step-down limit and fails past the stop limit", () => {
  // One segment fills the window at 0 ms and is never confirmed.
  const table: [number, string][] = [
    [0, "wait draining 250"],
    [3_000, "wait draining 250"], // exactly the step-down limit
    [3_001, "wait draining 250 step-down"],
    [15_000, "wait draining 250 step-down"], // exactly the stop limit
    [15_001, "fail SLOW_CONSUMER"],
  ];
  for (const [now, expected] of table) {
    const pacing = playing(0);
    pacing.sending(0, 1_000, 0);
    equal(brief(pacing.decide(0, openGate())), "wait draining 250");
    equal(brief(pacing.decide(now, openGate())), expected, `at ${now} ms`);
  }
  const pacing = playing(0);
  pacing.sending(0, 1_000, 0);
  const failed = pacing.decide(15_001, openGate());
  deepEqual(failed, { do: "fail", phase: "ended", ending: SLOW_CONSUMER_ENDING });
  ok(pacing.end(), "the caller ends it");
  equal(pacing.phase, "ended");
});

Deno.test("StreamPacing.decide() counts a full window from when it was first seen full", () => {
  const pacing = playing(0);
  pacing.sending(0, 600, 0);
  pacing.ack(0, 0, 10_000); // confirmed late: the silence rule restarts at 10 s
  pacing.sending(1, 1_000, 10_000);
  equal(brief(pacing.decide(12_000, openGate())), "wait draining 250"); // full since 12 s
  equal(brief(pacing.decide(15_000, openGate())), "wait draining 250"); // full 3 s: the limit
  equal(brief(pacing.decide(15_001, openGate())), "wait draining 250 step-down");
  // Confirmed: not full any more, and the next full window counts afresh.
  pacing.ack(0, 1, 15_100);
  pacing.sending(2, 1_000, 15_200);
  equal(brief(pacing.decide(18_200, openGate())), "wait draining 250");
  equal(brief(pacing.decide(18_201, openGate())), "wait draining 250");
  equal(brief(pacing.decide(21_202, openGate())), "wait draining 250 step-down");
});

Deno.test("StreamPacing.pause() holds the clock and lifts the stall rules until resume()", () => {
  const pacing = playing(1);
  pacing.sending(1, 1_000, 0); // fills the window and is never confirmed
  equal(brief(pacing.decide(500, openGate())), "wait draining 250"); // full since 0.5 s
  ok(pacing.pause(1_000));
  equal(pacing.phase, "paused");
  equal(pacing.pause(1_500), false, "a second pause changes nothing");
  equal(pacing.playhead(60_000), 1, "the clock stopped at 1 s");
  deepEqual(pacing.decide(3_600_000, openGate()), {
    do: "wait",
    phase: "paused",
    ms: STREAM_DEFAULTS.maxSleepMs,
    stepDown: false,
  });
  ok(pacing.resume(100_000));
  equal(pacing.resume(100_001), false, "a second resume changes nothing");
  // The rules count from the resume: exactly at the stop limit it waits, past it it fails.
  equal(brief(pacing.decide(100_000, openGate())), "wait draining 250");
  equal(brief(pacing.decide(115_000, openGate())), "wait draining 250 step-down");
  equal(brief(pacing.decide(115_001, openGate())), "fail SLOW_CONSUMER");
  equal(pacing.playhead(102_000), 3, "the clock runs again from 1 s");
});

Deno.test("StreamPacing ends once, and an ended stream decides nothing and cannot pause", () => {
  const pacing = playing(9, { leadSeconds: 100 });
  equal(brief(pacing.decide(20_000, openGate())), "send");
  pacing.sending(9, 100, 20_000);
  deepEqual(pacing.decide(20_000, openGate()), { do: "finish", phase: "ended" });
  equal(pacing.phase, "sending", "the caller ends it as it tells the viewer");
  ok(pacing.end());
  equal(pacing.end(), false);
  deepEqual(pacing.decide(20_001, openGate()), { do: "nothing", phase: "ended" });
  equal(pacing.pause(20_002), false);
  equal(pacing.phase, "ended");
});

Deno.test("StreamPacing.indexAt() finds the segment containing a position, clamped to the title", () => {
  const pacing = new StreamPacing(OPTIONS);
  const table: [number, number][] = [
    [-5, 0],
    [0, 0],
    [1.999, 0],
    [2 - 1e-7, 1], // within a microsecond of a boundary: the segment that starts there
    [2, 1],
    [17.5, 8],
    [18, 9],
    [1_000, 9],
  ];
  for (const [position, index] of table) equal(pacing.indexAt(position), index, `${position} s`);
});

Deno.test("StreamPacing.seek() starts a new epoch at the segment, forgetting what was in flight", () => {
  const pacing = playing(2);
  pacing.sending(2, 1_000, 0);
  equal(pacing.unackedBytes, 1_000);
  deepEqual(pacing.seek(9, 500), { epoch: 1, index: 4, position: 8, paused: false });
  equal(pacing.inFlight, 0);
  equal(pacing.unackedBytes, 0);
  equal(pacing.ack(0, 2, 600), undefined, "the old epoch's receipt is ignored");
  equal(pacing.playhead(5_000), 8, "playback waits for the new epoch's first segment");
  equal(brief(pacing.decide(500, openGate())), "send");
  pacing.sending(4, 100, 500);
  deepEqual(pacing.ack(1, 4, 700), { ms: 200, bytes: 100, mediaSeconds: 2 });
  equal(pacing.playhead(1_700), 9);
  // Past the end: the last segment. A paused stream stays paused, its clock held.
  pacing.pause(2_000);
  deepEqual(pacing.seek(99, 2_100), { epoch: 2, index: 9, position: 18, paused: true });
  equal(brief(pacing.decide(3_000, openGate())), "wait paused 500");
  pacing.sending(9, 100, 3_000);
  pacing.ack(2, 9, 3_100);
  equal(pacing.playhead(9_000), 18, "paused: the clock does not start");
});

Deno.test("StreamPacing.ack() measures from the later of sending and the previous receipt", () => {
  const pacing = new StreamPacing(OPTIONS);
  pacing.start(0);
  pacing.sending(0, 300, 0);
  pacing.sending(1, 400, 100);
  equal(pacing.ack(0, 7, 50), undefined, "a segment never sent");
  deepEqual(pacing.ack(0, 0, 1_000), { ms: 1_000, bytes: 300, mediaSeconds: 2 });
  deepEqual(pacing.ack(0, 1, 1_500), { ms: 500, bytes: 400, mediaSeconds: 2 });
  equal(pacing.ack(0, 1, 1_600), undefined, "a second receipt of the same segment");
  equal(pacing.unackedBytes, 0);
  // Playback began at the first receipt; it cannot run past what the viewer has (4 s).
  equal(pacing.playhead(1_500), 0.5);
  pacing.sending(2, 100, 1_600);
  pacing.ack(0, 2, 9_000); // 7.5 s of playback modelled, but the viewer had only 4 s, then 6 s
  equal(pacing.playhead(9_000), 6);
  equal(pacing.bufferSeconds(9_000), 0);
});

Deno.test("StreamPacing.lateBy() counts from when the segment was due, not before the wait began", () => {
  const table: [number, number, number][] = [
    // [waitFrom, now, late seconds]: segment 4 (8 s) is due at 2 s of playback.
    [0, 1_000, 0], // not due yet
    [0, 2_000, 0], // due just now
    [0, 3_500, 1.5],
    [3_000, 3_500, 0.5], // the wait began after it was due
  ];
  for (const [waitFrom, now, late] of table) {
    equal(playing(4).lateBy(waitFrom, now), late, `${waitFrom} → ${now}`);
  }
});

Deno.test("pauseTimeoutEnding() says how long in minutes or seconds, with the remedy", () => {
  const table: [number, string][] = [
    [30 * 60_000, "30 min"],
    [60_000, "1 min"],
    [90_000, "90 s"],
    [1_500, "1.5 s"],
  ];
  for (const [ms, text] of table) {
    deepEqual(pauseTimeoutEnding(ms), {
      code: "PAUSE_TIMEOUT",
      message: `Stream ended: paused longer than ${text}; PLAY it again to continue`,
      detail: "PAUSE_TIMEOUT",
    });
  }
});

Deno.test("PlayClock runs from start() while not paused, and capAt() shifts it back", () => {
  const clock = new PlayClock();
  clock.reset(10, false);
  equal(clock.playhead(5_000), 10, "not started");
  clock.start(1_000);
  clock.start(2_000); // once
  equal(clock.playhead(3_000), 12);
  clock.pause(3_000);
  equal(clock.playhead(9_000), 12);
  clock.resume(9_000);
  equal(clock.playhead(10_000), 13);
  clock.capAt(12.5, 10_000);
  equal(clock.playhead(10_000), 12.5);
  clock.capAt(20, 10_000); // under the cap: unchanged
  equal(clock.playhead(11_000), 13.5);
  clock.reset(0, true);
  clock.start(0);
  equal(clock.playhead(5_000), 0, "started paused: held until resume");
  clock.resume(5_000);
  equal(clock.playhead(6_000), 1);
});

Deno.test("StreamPacing.oldestInFlight() times the segment on its way from the later of sending and the previous receipt", () => {
  const pacing = new StreamPacing(OPTIONS);
  pacing.start(0);
  equal(pacing.oldestInFlight(0), undefined, "nothing sent");
  pacing.sending(0, 300, 0);
  pacing.sending(1, 400, 100);
  deepEqual(pacing.oldestInFlight(2_000), { bytes: 300, ms: 2_000 });
  pacing.ack(0, 0, 2_500);
  // Segment 1 went at 100 ms but could only move once segment 0 had arrived.
  deepEqual(pacing.oldestInFlight(4_500), { bytes: 400, ms: 2_000 });
  pacing.ack(0, 1, 4_600);
  equal(pacing.oldestInFlight(5_000), undefined, "every segment sent was confirmed");
  pacing.sending(2, 500, 6_000);
  deepEqual(pacing.oldestInFlight(6_000), { bytes: 500, ms: 0 });
  // A jump forgets what was in flight.
  pacing.seek(0, 6_500);
  equal(pacing.oldestInFlight(7_000), undefined);
});

Deno.test("StreamPacing.overdue() is true once the segment on its way has taken as long as its media", () => {
  const pacing = new StreamPacing(OPTIONS);
  pacing.start(0);
  equal(pacing.overdue(10_000), false, "nothing sent");
  pacing.sending(0, 300, 0);
  pacing.sending(1, 400, 100);
  equal(pacing.overdue(1_999), false);
  equal(pacing.overdue(2_000), true, "not in by its 2 s");
  pacing.ack(0, 0, 2_500);
  // Segment 1 moves from segment 0's receipt on.
  equal(pacing.overdue(4_499), false);
  equal(pacing.overdue(4_500), true);
  pacing.ack(0, 1, 4_600);
  equal(pacing.overdue(9_000), false, "every segment sent was confirmed");
});
