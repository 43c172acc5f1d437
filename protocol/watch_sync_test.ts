import { deepEqual } from "node:assert/strict";
import {
  ClockOffset,
  type DriftAction,
  driftAction,
  type LandingAction,
  landingAction,
  timelinePosition,
} from "./watch_sync.ts";

Deno.test("timelinePosition: playing runs on from the anchor, paused stays, never below 0", () => {
  const rows: [anchor: number, position: number, rate: 0 | 1, now: number, expected: number][] = [
    [1_000, 10, 1, 1_000, 10],
    [1_000, 10, 1, 3_500, 12.5],
    [1_000, 10, 0, 60_000, 10],
    [1_000, 0, 1, 900, 0],
    [1_000, 0.05, 1, 900, 0],
  ];
  for (const [anchor, position, rate, now, expected] of rows) {
    deepEqual(timelinePosition({ anchor, position, rate }, now), expected, `${[anchor, now]}`);
  }
});

Deno.test("ClockOffset: the sample of least round trip among the last 8 wins", () => {
  const clock = new ClockOffset();
  deepEqual(clock.offset, undefined);
  deepEqual(clock.serverTime(500), 500);
  // Server 1,000 ms ahead; the first answer queued 200 ms on the way back.
  clock.add(0, 1_010, 220);
  deepEqual([clock.offset, clock.roundTrip], [900, 220]);
  clock.add(1_000, 2_005, 1_010);
  deepEqual([clock.offset, clock.roundTrip], [1_000, 10]);
  deepEqual(clock.serverTime(5_000), 6_000);
  // A backwards clock is ignored.
  clock.add(2_000, 3_000, 1_990);
  deepEqual(clock.roundTrip, 10);
  // Eight slower samples push the good one out.
  for (let i = 0; i < 8; i++) clock.add(10_000 + i, 11_030 + i, 10_040 + i);
  deepEqual([clock.offset, clock.roundTrip], [1_010, 40]);
});

Deno.test("driftAction: nothing, a rate within 5 %, or a seek, from a table", () => {
  const rows: [drift: number, rate: number, canRate: boolean, expected: DriftAction][] = [
    // A player that changes its rate.
    [0, 1, true, { kind: "none" }],
    [0.039, 1, true, { kind: "none" }],
    [-0.039, 1, true, { kind: "none" }],
    [0.1, 1, true, { kind: "rate", rate: 0.95 }],
    [-0.1, 1, true, { kind: "rate", rate: 1.05 }],
    [0.05, 1, true, { kind: "rate", rate: 0.975 }],
    [-0.05, 1, true, { kind: "rate", rate: 1.025 }],
    [0.9, 1, true, { kind: "rate", rate: 0.95 }],
    [0.03, 0.975, true, { kind: "rate", rate: 0.985 }],
    [0.019, 0.985, true, { kind: "rate", rate: 1 }],
    [0.1, 0.95, true, { kind: "none" }],
    [1.2, 1, true, { kind: "seek", position: 30.5 }],
    [-1.2, 1.05, true, { kind: "seek", position: 30.5 }],
    // ffplay: seeks only, from 0.3 s.
    [0.2, 1, false, { kind: "none" }],
    [-0.29, 1, false, { kind: "none" }],
    [0.31, 1, false, { kind: "seek", position: 30.5 }],
    [-2, 1, false, { kind: "seek", position: 30.5 }],
  ];
  for (const [drift, rate, canRate, expected] of rows) {
    deepEqual(
      driftAction(drift, 30, rate, { canRate, startup: 0.5 }),
      expected,
      `drift ${drift} rate ${rate} ${canRate ? "mpv" : "ffplay"}`,
    );
  }
  deepEqual(driftAction(-5, 0, 1, { canRate: true, startup: -1 }), {
    kind: "seek",
    position: 0,
  });
});

Deno.test("landingAction: a first picture ahead is held, far behind jumps again, near is left to the rate", () => {
  const rows: [drift: number, expected: LandingAction][] = [
    [0, { kind: "none" }],
    [0.04, { kind: "none" }],
    [0.045, { kind: "hold", seconds: 0.045 }],
    [0.45, { kind: "hold", seconds: 0.45 }],
    [-0.1, { kind: "none" }],
    [-0.25, { kind: "none" }],
    [-0.26, { kind: "seek", position: 30.4 }],
    [-3, { kind: "seek", position: 30.4 }],
  ];
  for (const [drift, expected] of rows) {
    deepEqual(landingAction(drift, 30, 0.4), expected, `drift ${drift}`);
  }
  deepEqual(landingAction(-1, 0, -0.5), { kind: "seek", position: 0 });
});
