/**
 * The watch scenario's load member against a real `serve`: members of a room follow a member's
 * play, pause and seek with their own streams, and a member joining late lands with the room.
 * Behaviour and order only; the figures are the bench's.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { startServer } from "../tests/_helpers.ts";
import { benchIdentity, connectMany, LoadClient } from "./_client.ts";
import { ALIGNED_SECONDS } from "./_watch_plan.ts";
import { type PictureEvent, WatchMember } from "./_watch_member.ts";
import { makeRoom, roomId, wire } from "./rooms.ts";

/** Generous: a loaded 2-core machine. */
const DEADLINE_MS = 30_000;

function epochOf(answer: { type: string; epoch?: number }): number {
  equal(answer.type, "room-playback", JSON.stringify(answer));
  return answer.epoch!;
}

function happened(member: WatchMember, kind: PictureEvent["kind"], epoch: number) {
  return () => member.events.some((e) => e.kind === kind && e.epoch === epoch);
}

Deno.test("WatchMember follows a room's play, pause and seek, and a late joiner lands with the room", async () => {
  const server = await startServer({ waitReady: true });
  const who = await benchIdentity(await generateIdentity());
  const names = ["ann", "ben", "cat"];
  const members: WatchMember[] = [];
  try {
    const { clients } = await connectMany(server.port, { names, who });
    const room = roomId();
    await makeRoom(clients.map((client, i) => wire(names[i], client)), who, room);
    clients[2].close();
    await clients[2].done;
    const [ann, ben] = clients.slice(0, 2).map((client) => new WatchMember(client, { room }));
    members.push(ann, ben);
    await Promise.all(members.map((m) => m.start()));
    ok(ann.clock.offset !== undefined && ann.clock.roundTrip! >= 0, "the clock was measured");

    // ann starts the title: both stream it alone and show a first picture.
    const played = epochOf(await ann.control("play", { title: "testcard" }));
    for (const m of members) ok(await m.until(happened(m, "landed", played), DEADLINE_MS));
    ok(ann.player.started && ben.player.started);
    // A first picture that landed ahead is held until the room is there, then runs.
    for (const m of members) ok(await polled(() => !m.player.paused), "the first picture runs");

    // ben pauses: both pictures are held where they are.
    const paused = epochOf(await ben.control("pause"));
    for (const m of members) ok(await m.until(happened(m, "paused", paused), DEADLINE_MS));
    const now = performance.now();
    for (const m of members) {
      ok(m.player.paused);
      equal(m.player.position(now + 1000), m.player.position(now), "a held picture");
    }

    // ann resumes and ben seeks to 6 s: both land there (plus the start-up each measured).
    epochOf(await ann.control("resume"));
    const sought = epochOf(await ben.control("seek", { position: 6 }));
    for (const m of members) ok(await m.until(happened(m, "landed", sought), DEADLINE_MS));
    for (const m of members) {
      const landed = m.events.find((e) => e.kind === "landed" && e.epoch === sought)!;
      const shown = m.player.position(landed.at);
      ok(shown >= 6 && shown < 6 + 2, `landed at ${shown} s`);
    }

    // cat, a member offline until now, joins the playing room and shows its picture with it.
    const cat = new WatchMember(await LoadClient.connect(server.port), { room, canRate: false });
    members.push(cat);
    await cat.client.register("cat", who);
    await cat.start();
    const withRoom = () => {
      const at = performance.now();
      return cat.player.started &&
        Math.abs(cat.player.position(at) - cat.roomPosition(at)) <= ALIGNED_SECONDS;
    };
    const deadline = performance.now() + DEADLINE_MS;
    while (!withRoom() && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    ok(withRoom(), "the late joiner's picture is with the room");
    equal(cat.timeline?.epoch, sought, "it heard the room's state after its welcome");
    for (const m of members) equal(m.refusals.length, 0, m.refusals.join("; "));
  } finally {
    for (const m of members) m.close();
    await Promise.all(members.map((m) => m.client.done));
    await server.stop();
  }
});

/** Whether a test passes within the deadline, checked every 20 ms (a held picture is no event). */
async function polled(test: () => boolean): Promise<boolean> {
  const deadline = performance.now() + DEADLINE_MS;
  while (!test() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return test();
}
