/**
 * The watch scenario's player model: media time at its rate from the first segment, a stall at the
 * end of the media it has, a held picture, and a seek landing on the position asked.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { SimPlayer } from "./_sim_player.ts";

/** Rounds to a microsecond of media, so that float sums compare. */
function at(player: SimPlayer, now: number): number {
  return Math.round(player.position(now) * 1e6) / 1e6;
}

Deno.test("SimPlayer.position() is NaN before the first segment and moves at rate 1 after it", () => {
  const player = new SimPlayer();
  ok(Number.isNaN(player.position(0)));
  player.received(1000, 2, 0);
  const table: [number, number][] = [[1000, 0], [1000.5, 0.0005], [1500, 0.5], [2999, 1.999]];
  for (const [now, position] of table) equal(at(player, now), position, `at ${now} ms`);
});

Deno.test("SimPlayer.position() stalls at the media end and goes on when more arrives", () => {
  const player = new SimPlayer();
  player.received(0, 2, 0);
  equal(at(player, 2000), 2);
  equal(at(player, 2001), 2, "one ms past the media: held");
  equal(at(player, 5000), 2);
  player.received(5000, 4);
  equal(at(player, 5000), 2, "the stall is not skipped over");
  equal(at(player, 6000), 3);
});

Deno.test("SimPlayer.setRate() changes the speed from that moment only", () => {
  const player = new SimPlayer();
  player.received(0, 30, 10);
  player.setRate(1000, 0.95);
  equal(at(player, 1000), 11);
  equal(at(player, 3000), 12.9);
  player.setRate(3000, 1.05);
  equal(at(player, 5000), 15);
});

Deno.test("SimPlayer.pause() holds the picture until resume()", () => {
  const player = new SimPlayer();
  player.received(0, 30, 0);
  player.pause(1000);
  ok(player.paused);
  equal(at(player, 1000), 1);
  equal(at(player, 9000), 1);
  player.received(9000, 40);
  equal(at(player, 9500), 1, "media arriving while paused does not move it");
  player.resume(10_000);
  equal(at(player, 10_500), 1.5);
});

Deno.test("SimPlayer.received() with a landing jumps there, back or forward, and replaces the media end", () => {
  const player = new SimPlayer();
  player.received(0, 30, 20);
  player.received(1000, 6, 4.25);
  equal(at(player, 1000), 4.25);
  equal(at(player, 3000), 6, "the old media end (30) no longer counts");
  player.received(3000, 60, 50);
  equal(at(player, 3000), 50);
});

Deno.test("SimPlayer.reset() forgets the picture", () => {
  const player = new SimPlayer();
  player.received(0, 30, 3);
  player.setRate(0, 1.05);
  player.reset();
  ok(!player.started);
  equal(player.rate, 1);
  ok(Number.isNaN(player.position(1000)));
});
