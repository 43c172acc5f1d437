/**
 * The server half of rooms (issue 20) across a real two-node cluster (Redis): a room made on one
 * node joined from the other, changes and messages crossing both ways, a member offline served by
 * the other node, and two changes raced on one head from two nodes stored once on both.
 * @module
 */

import { deepEqual, equal } from "node:assert/strict";
import { type RoomSentMessage } from "../protocol/messages.ts";
import { startCluster } from "./_cluster.ts";
import {
  Chain,
  change,
  create,
  error,
  invite,
  join,
  person,
  pins,
  pushed,
  quitAll,
  request,
  ROOM,
} from "./_room_people.ts";
import { roomSend } from "./_rooms_server.ts";

Deno.test("rooms in a cluster: a room made on node A is joined from node B, changes and messages cross both ways, and a member offline gets theirs on the other node", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map(person));
  try {
    await join(a.port, alice);
    await join(b.port, bob);
    await join(a.port, carol);
    const chain = new Chain();
    await create(chain, alice);
    // The invitation, stored through node A, is pushed to bob on node B.
    const from = bob.client!.messages.length;
    const invited = await chain.sign(alice, {
      op: "invite",
      subject: "bob",
      keys: await pins(bob),
    });
    await change(chain, alice, invited);
    const push = await pushed(bob, invited, from);
    deepEqual(push.type === "room-entries" && [push.room, push.name], [ROOM, "club"]);
    // Bob accepts on node B: alice, on node A, is told.
    const accepted = await chain.sign(bob, { op: "accept" });
    await change(chain, bob, accepted);
    await pushed(alice, accepted);
    await invite(chain, bob, carol);
    await change(chain, carol, await chain.sign(carol, { op: "accept" }));
    // Messages both ways across the nodes, each with its room.
    const hello = new Uint8Array([1, 2, 3]);
    const sent = await roomSend(alice, hello) as RoomSentMessage;
    deepEqual([sent.relayed.sort(), sent.queued, sent.refused], [["bob", "carol"], [], []]);
    const got = await bob.client!.next((m) => m.type === "deliver", { timeoutMs: 30_000 });
    deepEqual(got.type === "deliver" && [got.from, got.room, got.body], ["alice", ROOM, hello]);
    const reply = new Uint8Array([4, 5]);
    deepEqual((await roomSend(bob, reply) as RoomSentMessage).relayed.sort(), ["alice", "carol"]);
    const back = await alice.client!.next((m) => m.type === "deliver", { timeoutMs: 30_000 });
    deepEqual(back.type === "deliver" && [back.from, back.room, back.body], ["bob", ROOM, reply]);
    // Carol leaves the cluster; a room message through node A waits for her in Redis, and node
    // B, where she comes back, delivers it with its room after the room's head.
    await quitAll(carol);
    await alice.client!.next((m) => m.type === "left" && m.name === "carol");
    await bob.client!.next((m) => m.type === "left" && m.name === "carol");
    const waiting = new Uint8Array([6, 6, 6, 6]);
    const mark = alice.client!.messages.length;
    const queued = await roomSend(alice, waiting) as RoomSentMessage;
    // A cluster answers for a member off this node once Redis did, as for a 1:1 message: the
    // room-sent names them handed on, then `queued` (with the room-send's re) follows.
    deepEqual([queued.relayed.sort(), queued.queued, queued.refused], [["bob", "carol"], [], []]);
    const kept = await alice.client!.next(
      (m) => m.type === "queued" && m.re === queued.re,
      { from: mark, timeoutMs: 30_000 },
    );
    deepEqual(kept, { type: "queued", re: queued.re, to: "carol", qseq: 1 });
    const client = await join(b.port, carol);
    const late = await client.next((m) => m.type === "deliver", { timeoutMs: 30_000 });
    deepEqual(late.type === "deliver" && [late.from, late.room, late.queued, late.body], [
      "alice",
      ROOM,
      true,
      waiting,
    ]);
    deepEqual(client.messages.slice(1).map((m) => m.type).slice(0, 3), [
      "welcome",
      "rooms",
      "deliver",
    ]);
  } finally {
    await quitAll(alice, bob, carol);
    await cluster.stop();
  }
});

Deno.test("rooms in a cluster: two changes raced on one head from two nodes: exactly one is stored, and both nodes hold it", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
  const [alice, bob, carol, dave] = people;
  try {
    await join(a.port, alice);
    await join(b.port, bob);
    await join(b.port, carol);
    await join(a.port, dave);
    const chain = new Chain();
    await create(chain, alice);
    await invite(chain, alice, bob);
    const accepted = await chain.sign(bob, { op: "accept" });
    await change(chain, bob, accepted);
    await pushed(alice, accepted);
    const byAlice = await chain.sign(alice, {
      op: "invite",
      subject: "carol",
      keys: await pins(carol),
    });
    const byBob = await chain.sign(bob, { op: "invite", subject: "dave", keys: await pins(dave) });
    const answers = await Promise.all([
      request(alice, { type: "room-change", room: ROOM, entry: byAlice }),
      request(bob, { type: "room-change", room: ROOM, entry: byBob }),
    ]);
    const kinds = answers.map((x) => x.type === "error" ? x.code : x.type).sort();
    deepEqual(kinds, ["CHAIN_INVALID", "room-entries"]);
    const won = answers[0].type === "room-entries" ? byAlice : byBob;
    // Each invitee asks the node they are not on... and the one they are: both hold the winner.
    for (const asker of [carol, dave]) {
      const seen = await request(asker, { type: "room-chain", room: ROOM, from: 3 });
      if (won === (asker === carol ? byAlice : byBob)) {
        deepEqual(seen.type === "room-entries" && seen.entries, [won]);
      } else equal(error(seen).code, "NOT_A_MEMBER");
    }
    // The loser's node holds the winner too: the loser signs after it, and that is stored.
    await chain.accepted(won);
    const [loser, subject] = won === byAlice ? [bob, dave] : [alice, carol];
    await invite(chain, loser, subject);
  } finally {
    await quitAll(...people);
    await cluster.stop();
  }
});
