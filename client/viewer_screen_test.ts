/**
 * `ViewerScreen`: the watch on screen between the user's commands — the queue drained into the
 * player, the hold on the server, the status line, and how a watch ends when the player exits or
 * the server overruns the queue. Driven through `Viewer`, its only user, with a fake session and
 * fake players.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { settle, setup } from "./_viewer_testing.ts";

Deno.test("Viewer queues media as it arrives and drains it into the player in order", async () => {
  const { session, players, viewer } = setup({ taking: false });
  await viewer.play("testcard", "auto");
  equal(viewer.state, "playing");
  // The player takes nothing: the session's calls still return at once.
  for (let i = 0; i < 3; i++) session.segment(i);
  equal(viewer.queuedSeconds, 6);
  players[0].take();
  await settle();
  equal(players[0].bytes, 3000);
  equal(viewer.queuedSeconds, 0);
});

Deno.test("Viewer holds the stream when the queue reaches 10 s and resumes under 4 s", async () => {
  const { session, players, viewer, kinds } = setup({ taking: false });
  await viewer.play("testcard", "auto");
  for (let i = 0; i < 4; i++) session.segment(i);
  deepEqual(session.calls, ["play testcard auto 0"]);
  session.segment(4); // 10 s queued
  deepEqual(session.calls.slice(1), ["pause"]);
  equal(viewer.held, true);
  session.segment(5); // in flight: still queued, never dropped
  equal(viewer.queuedSeconds, 12);
  players[0].take();
  await settle();
  deepEqual(session.calls.slice(1), ["pause", "resume"]);
  equal(viewer.held, false);
  deepEqual(kinds(), ["playing", "held", "released"]);
});

Deno.test("Viewer shows the on-screen position and announces a rendition when it reaches the screen", async () => {
  const { session, viewer, clock, events } = setup();
  await viewer.play("testcard", "auto");
  equal(viewer.tick()!.height, 0); // nothing taken yet
  session.segment(0, { height: 240 });
  session.segment(1, { height: 720 });
  session.segment(2, { height: 720 });
  await settle();
  clock.now = 500;
  const first = viewer.tick()!;
  deepEqual([first.position, first.height, first.bitrate], [0.5, 240, 400_000]);
  deepEqual(
    events.filter((e) => e.kind === "rendition").map((e) => e.kind === "rendition" && e.height),
    [240],
  );
  clock.now = 1990;
  viewer.tick();
  equal(events.filter((e) => e.kind === "rendition").length, 1, "720p is not on screen yet");
  clock.now = 2010;
  equal(viewer.tick()!.height, 720);
  deepEqual(
    events.filter((e) => e.kind === "rendition").map((e) => e.kind === "rendition" && e.height),
    [240, 720],
  );
  // The clock never passes what the player took (6 s).
  clock.now = 20_000;
  equal(viewer.tick()!.position, 6);
});

Deno.test("Viewer finishes when the player exits after playing out everything", async () => {
  const { session, players, viewer, kinds } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  session.finish();
  await settle();
  equal(players[0].ended, true);
  equal(viewer.state, "ending");
  players[0].exit(0);
  await settle();
  equal(viewer.state, "idle");
  deepEqual(kinds(), ["playing", "finished"]);
});

Deno.test("Viewer RESUME while the queue is still full says nothing of the player", async () => {
  const { session, players, viewer, kinds, clock } = setup({ taking: false });
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  viewer.pause();
  for (let i = 1; i < 6; i++) session.segment(i);
  clock.now = 1000;
  viewer.resume();
  equal(viewer.tick()!.waiting, false);
  players[0].take();
  await settle();
  deepEqual(kinds(), ["playing"]);
  deepEqual(session.calls.slice(1), ["pause", "resume"]);
});

Deno.test("Viewer stops the stream when the player is closed early", async () => {
  const { session, players, viewer, kinds } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  players[0].exit(0);
  await settle();
  deepEqual(kinds(), ["playing", "player-closed", "stopped"]);
  deepEqual(session.calls.slice(1), ["stop"]);
  equal(viewer.state, "idle");
});

Deno.test("Viewer says why the player closed when it failed on its own", async () => {
  const { session, players, viewer, events } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  players[0].failed = "mpv did not open its IPC socket within 30000 ms";
  players[0].exit(1);
  await settle();
  deepEqual(events.find((e) => e.kind === "player-closed"), {
    kind: "player-closed",
    title: "testcard",
    why: "mpv did not open its IPC socket within 30000 ms",
  });
});

Deno.test("Viewer's clock waits at what a player that stopped reading has taken", async () => {
  const { session, players, viewer, clock } = setup();
  await viewer.play("testcard", 720);
  session.segment(0, { height: 720 });
  await settle();
  players[0].taking = false;
  clock.now = 1000;
  session.segment(1, { height: 720 });
  await settle();
  equal(viewer.tick()!.position, 1);
  // Paused in its own window: it took segment 0 only, so the clock stops at 2 s ...
  clock.now = 9000;
  equal(viewer.tick()!.position, 2);
  // ... and runs on from there once it reads again.
  players[0].take();
  await settle();
  clock.now = 9500;
  equal(viewer.tick()!.position, 2.5);
});

Deno.test("Viewer stops a stream whose server ignores the hold, instead of growing the queue", async () => {
  const { session, viewer, kinds, events } = setup({ taking: false });
  await viewer.play("testcard", 240);
  for (let i = 0; i < 9; i++) session.segment(i);
  await settle();
  deepEqual(kinds(), ["playing", "held", "failed"]);
  ok(events.some((e) => e.kind === "failed" && /more than the player can queue/.test(e.message)));
  deepEqual(session.calls.slice(1), ["pause", "stop"]);
});
