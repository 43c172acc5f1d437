/**
 * `Viewer`'s commands and their races: PLAY, STOP, PAUSE, SEEK and QUALITY against a fake session
 * and fake players. What the screen does on its own (the queue, the hold, the player's exit) is in
 * `viewer_screen_test.ts`.
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import type { Quality } from "../protocol/messages.ts";
import { FakePlayer, settle, setup, setupExact } from "./_viewer_testing.ts";

Deno.test("Viewer PAUSE freezes the player and holds the stream; RESUME undoes both", async () => {
  const { session, players, viewer, clock, events } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  clock.now = 1000;
  equal(viewer.pause(), true);
  equal(viewer.pause(), false);
  equal(players[0].paused, true);
  deepEqual(session.calls.slice(1), ["pause"]);
  clock.now = 60_000;
  const status = viewer.tick()!;
  equal(status.position, 1);
  equal(status.paused, true);
  equal(viewer.resume(), true);
  equal(players[0].paused, false);
  deepEqual(session.calls.slice(1), ["pause", "resume"]);
  equal(events.filter((e) => e.kind === "held").length, 0, "PAUSE says so itself");
  clock.now = 60_500;
  equal(viewer.tick()!.position, 1.5);
});

Deno.test("Viewer keeps playing after the last byte: STOP then still kills the player", async () => {
  const { session, players, viewer, kinds } = setup({ taking: false });
  await viewer.play("testcard", 240);
  session.segment(0);
  session.finish();
  equal(viewer.state, "ending");
  await viewer.stop();
  equal(players[0].killed, true);
  equal(viewer.state, "idle");
  deepEqual(session.calls, ["play testcard 240 0"], "no STOP to the server: its stream ended");
  deepEqual(kinds(), ["playing", "stopped"]);
  await rejects(
    viewer.stop(),
    (e: unknown) => e instanceof PeerstreamError && e.code === "NOT_PLAYING",
  );
});

Deno.test("Viewer PLAY while playing ends the old player before the new one starts", async () => {
  const { session, players, viewer } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await viewer.play("testcard", 720);
  equal(players.length, 2);
  equal(players[0].killed, true);
  equal(FakePlayer.mostAtOnce, 1);
  // Late bytes of the old stream never reach the new player.
  await settle();
  equal(players[1].bytes, 0);
});

Deno.test("Viewer SEEK restarts the player at the new epoch, after the old one is gone", async () => {
  const { session, players, viewer, clock, events } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  session.segment(1);
  await settle();
  clock.now = 1500;
  equal(await viewer.seek({ relative: 5 }), 6.5);
  deepEqual(session.calls.slice(1), ["seek 6.5"]);
  await settle();
  equal(players.length, 2);
  equal(players[0].killed, true);
  equal(FakePlayer.mostAtOnce, 1);
  ok(events.some((e) => e.kind === "moved" && e.position === 6));
  session.segment(3);
  await settle();
  equal(players[1].bytes, 1000);
  clock.now = 2000;
  equal(viewer.tick()!.position, 6.5);
  // Past the end is clamped; before the start too.
  equal(await viewer.seek({ absolute: 99 }), 12);
  equal(await viewer.seek({ relative: -99 }), 0);
});

Deno.test("Viewer QUALITY with a height jumps at the on-screen position; auto does not restart", async () => {
  const { session, players, viewer, clock } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  clock.now = 1200;
  equal(await viewer.setQuality("auto"), "next");
  equal(players.length, 1);
  equal(await viewer.setQuality(720), "now");
  deepEqual(session.calls.slice(1), ["quality auto", "quality 720 1.2"]);
  await settle();
  equal(players.length, 2);
  await rejects(
    viewer.setQuality(1080),
    (e: unknown) =>
      e instanceof PeerstreamError && e.code === "RENDITION_NOT_FOUND" &&
      /240p, 720p/.test(e.message),
  );
});

Deno.test("Viewer SEEK after everything arrived plays again from there, paused if it was", async () => {
  const { session, players, viewer, clock, kinds } = setup();
  await viewer.play("testcard", 720);
  session.segment(0);
  session.finish();
  await settle();
  clock.now = 1000;
  viewer.pause();
  await viewer.seek({ absolute: 4 });
  deepEqual(session.calls, ["play testcard 720 0", "play testcard 720 4", "pause"]);
  equal(players.length, 2);
  equal(players[0].killed, true);
  await settle();
  equal(players[1].paused, true);
  equal(viewer.state, "playing");
  deepEqual(kinds(), ["playing", "moved"], "to the person it is the same stream");
});

Deno.test("Viewer SEEK or QUALITY that crosses the stream's end plays again from there", async () => {
  const { session, players, viewer, clock } = setup();
  await viewer.play("testcard", 720);
  session.segment(0);
  await settle();
  clock.now = 1000;
  // The server sends its last segment and stream-end while the SEEK is on its way: it answers
  // NOT_PLAYING after stream-end.
  session.seek = (position: number) => {
    session.calls.push(`seek ${position}`);
    session.finish();
    return Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot seek: nothing is playing"));
  };
  equal(await viewer.seek({ absolute: 4 }), 4);
  deepEqual(session.calls, ["play testcard 720 0", "seek 4", "play testcard 720 4"]);
  await settle();
  equal(players.length, 2);
  equal(players[0].killed, true);
  equal(viewer.state, "playing");
  // The same for a QUALITY with a height.
  session.setQuality = (quality: Quality) => {
    session.calls.push(`quality ${quality}`);
    session.finish();
    return Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot change quality"));
  };
  equal(await viewer.setQuality(240), "now");
  deepEqual(session.calls.slice(3), ["quality 240", "play testcard 240 4"]);
  // While the stream runs, NOT_PLAYING is the server's answer and reaches the caller.
  session.seek = () => Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot seek"));
  await rejects(viewer.seek({ absolute: 2 }), /Cannot seek/);
});

Deno.test("Viewer STOP while PLAY waits stops the stream once it starts", async () => {
  const { session, players, viewer } = setup();
  const play = viewer.play("testcard", 240);
  await viewer.stop();
  await play;
  equal(players[0].killed, true);
  deepEqual(session.calls, ["play testcard 240 0", "stop"]);
  equal(viewer.state, "idle");
});

Deno.test("Viewer QUALITY with a player that tells its frame holds it and starts at the next frame", async () => {
  const { session, players, starts, viewer } = setupExact();
  await viewer.play("testcard", "auto");
  session.segment(0);
  session.segment(1);
  await settle();
  // Frame 89 of 25 fps is on screen: 3.56 s into the input.
  players[0].shown = 3.56;
  equal(viewer.tick()?.position, 3.56);
  equal(await viewer.setQuality(720), "now");
  ok(players[0].held, "the frame on screen was frozen first");
  // The jump asks for the position half a frame after it, and the new epoch starts there.
  equal(session.calls[1], "quality 720 3.58");
  await settle();
  deepEqual(starts[1], { origin: 2, at: 3.58, paused: false });
  ok(players[0].killed);
  // Paused, the same frame again, in the new rendition.
  viewer.pause();
  players[1].shown = 1.56;
  session.segment(1);
  await viewer.setQuality(240);
  const [, at] = /^quality 240 ([\d.]+)$/.exec(session.calls.at(-2) ?? "") ?? [];
  ok(Math.abs(Number(at) - 3.55) < 1e-9, `${session.calls.at(-2)}`);
});

Deno.test("Viewer SEEK asks a player to start at the target inside the segment", async () => {
  const { session, starts, viewer } = setupExact();
  await viewer.play("testcard", "auto");
  session.segment(0);
  await settle();
  equal(await viewer.seek({ absolute: 7.3 }), 7.3);
  await settle();
  deepEqual(starts[1], { origin: 6, at: 7.3, paused: false });
});

Deno.test("Viewer SEEK while paused with a player that tells its frame fetches the first segment, then holds again", async () => {
  const { session, players, starts, viewer } = setupExact();
  await viewer.play("testcard", "auto");
  session.segment(0);
  await settle();
  viewer.pause();
  deepEqual(session.calls.slice(1), ["pause"]);
  await viewer.seek({ absolute: 5 });
  await settle();
  // The stream runs again until the target's segment is in, so the target's frame can show.
  deepEqual(session.calls.slice(1), ["pause", "seek 5", "resume"]);
  deepEqual(starts[1], { origin: 4, at: 5, paused: true });
  session.segment(2);
  deepEqual(session.calls.slice(4), []);
  session.segment(3);
  deepEqual(session.calls.slice(4), ["pause"], "held again once the first segment is in");
  await settle();
  ok(players[1].paused, "the new epoch's player stays paused");
});
