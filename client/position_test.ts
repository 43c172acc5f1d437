import { equal, ok } from "node:assert/strict";
import { PositionClock } from "./position.ts";

function close(actual: number, expected: number, label = "") {
  ok(Math.abs(actual - expected) < 1e-9, `${label}: ${actual} != ${expected}`);
}

Deno.test("PositionClock.position() stays at the origin until the player takes bytes", () => {
  const clock = new PositionClock(12);
  equal(clock.started, false);
  equal(clock.position(0), 12);
  equal(clock.position(5_000), 12);
  clock.consumed(20, 5_000);
  equal(clock.started, true);
  close(clock.position(5_000), 12);
  close(clock.position(6_500), 13.5);
});

Deno.test("PositionClock.position() follows the wall clock, capped at what the player took", () => {
  const clock = new PositionClock(0);
  clock.consumed(4, 0);
  close(clock.position(3_000), 3);
  close(clock.position(4_000), 4);
  // Starved: 6 s of wall time, only 4 s taken. The clock waits at 4 ...
  close(clock.position(6_000), 4);
  // ... and continues from there when more arrives.
  clock.consumed(8, 6_000);
  close(clock.position(7_000), 5);
  close(clock.position(9_000), 7);
});

Deno.test("PositionClock.hold() and release() stop the clock, also as of a past instant", () => {
  const clock = new PositionClock(0);
  clock.consumed(100, 0);
  clock.hold(2_000);
  equal(clock.held, true);
  close(clock.position(10_000), 2);
  clock.release(10_000);
  close(clock.position(11_000), 3);
  // Noticed at 15 s that the player stopped reading at 13 s: the clock froze at 13 s.
  clock.hold(13_000 - 0);
  close(clock.position(15_000), 5);
  clock.release(20_000);
  close(clock.position(21_000), 6);
  // A hold instant before the clock last started freezes it where that run began.
  clock.hold(19_000);
  close(clock.position(30_000), 5);
  // Holding twice, or releasing a running clock, changes nothing.
  clock.hold(40_000);
  clock.release(30_000);
  clock.release(31_000);
  close(clock.position(32_000), 7);
});

Deno.test("PositionClock held before the first bytes starts only when released", () => {
  const clock = new PositionClock(30);
  clock.hold(0);
  clock.consumed(40, 1_000);
  close(clock.position(5_000), 30);
  clock.release(5_000);
  close(clock.position(6_000), 31);
  equal(clock.consumedEnd, 40);
});
