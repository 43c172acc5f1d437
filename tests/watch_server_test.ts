/**
 * Watching together, the server's half (issue 21), with a real `serve` and raw protocol clients:
 * `time` answered with the server's clock; `room-control` by members only, by the host only in a
 * host-only room, for a title that exists; the room's timeline answered to the member who changed
 * it and pushed to the others online; its state after `welcome` and to a member who just joined.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { timelinePosition } from "../protocol/watch_sync.ts";
import { startServer } from "./_helpers.ts";
import {
  Chain,
  change,
  control,
  create,
  error,
  invite,
  join,
  person,
  playback,
  pushed,
  pushedPlayback,
  quitAll,
  request,
} from "./_room_people.ts";

Deno.test("watch together: the timeline is the server's, changed by members and told to every member online", async () => {
  const server = await startServer({ waitReady: true });
  const [alice, bob, carol, dave] = await Promise.all(
    ["alice", "bob", "carol", "dave"].map(person),
  );
  try {
    for (const who of [alice, bob, carol, dave]) await join(server.port, who);
    // The server's clock, read between the request and its answer (one machine, one clock).
    const t0 = Date.now();
    const time = await request(alice, { type: "time" });
    const t1 = Date.now();
    ok(time.type === "time-is", JSON.stringify(time));
    ok(time.server >= t0 - 50 && time.server <= t1 + 50, `${t0} ≤ ${time.server} ≤ ${t1}`);

    const chain = new Chain();
    await create(chain, alice);
    await invite(chain, alice, bob);
    await change(chain, bob, await chain.sign(bob, { op: "accept" }));

    // alice starts a title: answered to her, pushed to bob, playing from 0 at the anchor.
    const before = bob.client!.messages.length;
    const started = playback(await control(alice, { action: "play", title: "testcard" }));
    deepEqual(
      [started.action, started.by, started.title, started.epoch, started.position, started.rate],
      ["play", "alice", "testcard", 1, 0, 1],
    );
    deepEqual({ ...await pushedPlayback(bob, 1, before), re: started.re }, started);

    // Not a member, no title, unknown title: refused with their codes, the timeline unchanged.
    equal(error(await control(carol, { action: "pause" })).code, "NOT_A_MEMBER");
    equal(error(await control(alice, { action: "play" })).code, "BAD_MESSAGE");
    const missing = error(await control(alice, { action: "play", title: "no such film" }));
    equal(missing.code, "VIDEO_NOT_FOUND");
    equal(error(await control(bob, { action: "seek" })).code, "BAD_MESSAGE");

    // bob pauses: the position is where the timeline was, and it stays there.
    const paused = playback(await control(bob, { action: "pause" }));
    deepEqual([paused.action, paused.by, paused.epoch, paused.rate], ["pause", "bob", 2, 0]);
    const ran = timelinePosition(started, paused.anchor);
    ok(Math.abs(paused.position - ran) < 0.001, `${paused.position} vs ${ran}`);
    equal((await pushedPlayback(alice, 2)).position, paused.position);
    // A seek while paused stays paused, at the target.
    const sought = playback(await control(alice, { action: "seek", position: 5 }));
    deepEqual([sought.epoch, sought.position, sought.rate], [3, 5, 0]);
    await pushedPlayback(bob, 3);

    // bob comes back: after welcome and `rooms`, the state of the room's timeline.
    bob.client!.close();
    await bob.client!.done;
    const again = await join(server.port, bob);
    const state = playback(
      await again.next((m) => m.type === "room-playback", { timeoutMs: 30_000 }),
    );
    const { re: _re, by: _by, ...timeline } = sought;
    deepEqual(state, { ...timeline, action: "state" });
    ok(again.messages.findIndex((m) => m.type === "rooms") < again.messages.indexOf(state));

    // dave, invited, hears nothing of it; once he accepts, he gets the state.
    await invite(chain, alice, dave);
    await pushed(dave, chain.entries.at(-1)!);
    equal(dave.client!.messages.some((m) => m.type === "room-playback"), false);
    await change(chain, dave, await chain.sign(dave, { op: "accept" }));
    equal((await dave.client!.next((m) => m.type === "room-playback")).type, "room-playback");

    // Host only: bob may no longer control; alice, the owner, may.
    await change(
      chain,
      alice,
      await chain.sign(alice, {
        op: "settings",
        settings: { invite: "members", control: "host" },
      }),
    );
    const refused = error(await control(bob, { action: "resume" }));
    equal(refused.code, "NOT_ALLOWED");
    ok(refused.message.includes('"alice"'), refused.message);
    const resumed = playback(await control(alice, { action: "resume" }));
    deepEqual([resumed.epoch, resumed.position, resumed.rate], [4, 5, 1]);
    const stopped = playback(await control(alice, { action: "stop" }));
    deepEqual([stopped.epoch, stopped.title, stopped.rate], [5, undefined, 0]);
    equal((await pushedPlayback(dave, 5)).action, "stop");
    // Stopped: nothing to pause.
    equal(error(await control(alice, { action: "pause" })).code, "BAD_MESSAGE");
  } finally {
    await quitAll(alice, bob, carol, dave);
    await server.stop();
  }
});
