/**
 * The server half of rooms (issue 20), messages and limits, with a real `serve` and raw protocol
 * clients: `room-send` fanned out once per member online, queued for one offline and delivered on
 * their join after a restart; a non-member and an unknown room refused; the limits refusing with
 * ROOM_LIMIT exactly past their bound; a member's full queue named in `room-sent`.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { type RoomSentMessage } from "../protocol/messages.ts";
import { LOOPBACK_LIMITS, startServer } from "./_helpers.ts";
import {
  Chain,
  change,
  create,
  error,
  invite,
  join,
  type Person,
  person,
  pins,
  quitAll,
  request,
  ROOM,
  SETTINGS,
} from "./_room_people.ts";
import { delivers, roomOfThree, roomSend } from "./_rooms_server.ts";

Deno.test("rooms: a room-send reaches every member online once, is queued for one offline, and is delivered on their join after a restart", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-rooms-" });
  let server = await startServer({ data });
  let people: Person[] = [];
  try {
    const room = await roomOfThree(server.port);
    people = room.people;
    const [alice, bob, carol, dave] = people;
    carol.client!.close();
    await carol.client!.done;
    await alice.client!.next((m) => m.type === "left" && m.name === "carol");
    const body = crypto.getRandomValues(new Uint8Array(4000));
    const answer = await roomSend(alice, body) as RoomSentMessage;
    deepEqual(
      { ...answer, re: 0 },
      {
        type: "room-sent",
        re: 0,
        room: ROOM,
        relayed: ["bob"],
        queued: [{ name: "carol", qseq: 1 }],
        refused: [],
      },
    );
    const got = await bob.client!.next((m) => m.type === "deliver");
    ok(got.type === "deliver");
    deepEqual([got.from, got.room, got.body], ["alice", ROOM, body]);
    await bob.client!.write({ type: "receipt", rid: got.rid, ok: true });
    const confirmed = await alice.client!.next((m) => m.type === "delivered" && m.to === "bob");
    deepEqual(confirmed, { type: "delivered", re: answer.re, to: "bob" });
    // A second message closes the window: bob got the first exactly once, dave nothing.
    const second = new Uint8Array([2]);
    await roomSend(alice, second);
    await bob.client!.next((m) => m.type === "deliver" && m.body.length === 1);
    deepEqual(delivers(bob).map((m) => m.type === "deliver" && m.body.length), [4000, 1]);
    deepEqual(delivers(dave), []);

    await quitAll(...people);
    equal(await server.stop(), 0);
    server = await startServer({ data });
    await join(server.port, alice);
    const client = await join(server.port, carol);
    const first = await client.next((m) => m.type === "deliver" && m.body.length === 4000);
    await client.next((m) => m.type === "deliver" && m.body.length === 1);
    ok(first.type === "deliver");
    deepEqual([first.from, first.room, first.queued, first.qseq, first.body], [
      "alice",
      ROOM,
      true,
      1,
      body,
    ]);
    // The room's head came first: welcome, rooms, then the queued messages in order.
    deepEqual(client.messages.slice(1).map((m) => m.type), [
      "welcome",
      "rooms",
      "deliver",
      "deliver",
    ]);
    for (const m of delivers(carol)) {
      if (m.type === "deliver") await client.write({ type: "receipt", rid: m.rid, ok: true });
    }
    const notice = await alice.client!.next((m) =>
      m.type === "delivered" && m.to === "carol" && m.qseq === 1
    );
    deepEqual(notice, { type: "delivered", re: answer.re, to: "carol", qseq: 1 });
    // Confirmed, so deleted: carol's next join brings nothing again.
    await alice.client!.next((m) => m.type === "delivered" && m.to === "carol" && m.qseq === 2);
    await quitAll(carol);
    const again = await join(server.port, carol);
    await again.next((m) => m.type === "rooms");
    const live = new Uint8Array([3, 3, 3]);
    await roomSend(alice, live);
    await again.next((m) => m.type === "deliver");
    deepEqual(delivers(carol).map((m) => m.type === "deliver" && [m.body.length, m.queued]), [[
      3,
      undefined,
    ]]);
  } finally {
    await quitAll(...people);
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("rooms: a non-member's room-send and an unknown room are refused, and nobody receives them", async () => {
  const server = await startServer();
  let people: Person[] = [];
  try {
    const room = await roomOfThree(server.port);
    people = room.people;
    const [alice, bob, carol, dave] = people;
    const refused = error(await roomSend(dave, new Uint8Array([6, 6])));
    equal(refused.code, "NOT_A_MEMBER");
    equal(
      refused.message,
      'Cannot send to room "club": you are not a member; ask a member to INVITE you',
    );
    equal(
      error(await roomSend(alice, new Uint8Array([7]), "AAAAAAAAAAAAAAAAAAAAAA")).code,
      "ROOM_NOT_FOUND",
    );
    // A later message from a member closes the window: only it arrived.
    await roomSend(alice, new Uint8Array([1]));
    for (const member of [bob, carol]) {
      await member.client!.next((m) => m.type === "deliver");
      deepEqual(delivers(member).map((m) => m.type === "deliver" && [...m.body]), [[1]]);
    }
    deepEqual(delivers(dave), []);
  } finally {
    await quitAll(...people);
    await server.stop();
  }
});

Deno.test("rooms: the limits refuse with ROOM_LIMIT exactly past their bound", async () => {
  // 3 members and invitees at most; 1 room per person (the flag); 1 pending invitation.
  const server = await startServer({
    args: ["--rooms-per-person", "1"],
    env: {
      PEERSTREAM_LIMITS: JSON.stringify({
        ...LOOPBACK_LIMITS,
        roomMembers: 3,
        roomInvitesPerPerson: 1,
      }),
    },
  });
  const people = await Promise.all(["alice", "bob", "carol", "dave", "erin"].map(person));
  const [alice, bob, carol, dave, erin] = people;
  try {
    for (const who of people) await join(server.port, who);
    const chain = new Chain();
    await create(chain, alice);
    await invite(chain, alice, bob);
    await invite(chain, alice, carol);
    // alice, bob and carol make 3: one more invitee is past the bound.
    const fourth = await chain.sign(alice, {
      op: "invite",
      subject: "dave",
      keys: await pins(dave),
    });
    const full = error(await request(alice, { type: "room-change", room: ROOM, entry: fourth }));
    deepEqual([full.code, full.message.includes("the most is 3")], ["ROOM_LIMIT", true]);
    // alice is in 1 room: a second is past --rooms-per-person 1.
    const other = new Chain();
    const second = await other.sign(alice, {
      op: "create",
      keys: await pins(alice),
      settings: SETTINGS,
      room: "b3RoZXItcm9vbS1vZi1hbG",
    });
    const many = error(
      await request(alice, { type: "room-create", name: "second", entry: second }),
    );
    deepEqual([many.code, many.message], [
      "ROOM_LIMIT",
      'Cannot create a room: "alice" is in 1 rooms, the most allowed; LEAVE one first',
    ]);
    // bob holds one pending invitation (alice's), the bound: erin's room cannot invite him too.
    const erinRoom = new Chain();
    const erinId = "ZXJpbnMtcm9vbS1pcy1oZX";
    const created = await erinRoom.sign(erin, {
      op: "create",
      keys: await pins(erin),
      settings: SETTINGS,
      room: erinId,
    });
    equal(
      (await request(erin, { type: "room-create", name: "erins", entry: created })).type,
      "room-entries",
    );
    await erinRoom.accepted(created);
    const toBob = await erinRoom.sign(erin, {
      op: "invite",
      subject: "bob",
      keys: await pins(bob),
      room: erinId,
    });
    const pending = error(await request(erin, { type: "room-change", room: erinId, entry: toBob }));
    deepEqual([pending.code, pending.message.includes("1 invitations pending")], [
      "ROOM_LIMIT",
      true,
    ]);
    // Declining frees it, and the same invitation goes through.
    await change(chain, bob, await chain.sign(bob, { op: "decline" }));
    equal(
      (await request(erin, { type: "room-change", room: erinId, entry: toBob })).type,
      "room-entries",
    );
  } finally {
    await quitAll(...people);
    await server.stop();
  }
});

Deno.test("rooms: a member's full queue refuses them by name in room-sent while the others get it; an oversized body is refused", async () => {
  const server = await startServer({
    args: ["--queue-messages", "1"],
    env: { PEERSTREAM_LIMITS: JSON.stringify({ ...LOOPBACK_LIMITS, maxSealedBytes: 4096 }) },
  });
  let people: Person[] = [];
  try {
    const room = await roomOfThree(server.port);
    people = room.people;
    const [alice, bob, carol] = people;
    await quitAll(carol);
    await alice.client!.next((m) => m.type === "left" && m.name === "carol");
    const first = await roomSend(alice, new Uint8Array([1])) as RoomSentMessage;
    deepEqual([first.relayed, first.queued], [["bob"], [{ name: "carol", qseq: 1 }]]);
    const second = await roomSend(alice, new Uint8Array([2])) as RoomSentMessage;
    deepEqual([second.relayed, second.queued], [["bob"], []]);
    deepEqual(second.refused, [{
      name: "carol",
      code: "QUEUE_FULL",
      message: 'Cannot queue for "carol": 1 messages wait for them; try when "carol" is online',
    }]);
    const big = error(await roomSend(alice, new Uint8Array(4097)));
    deepEqual([big.code, big.message], [
      "MESSAGE_TOO_LARGE",
      'Cannot send to room "club": 4097 bytes exceeds the 4096-byte limit',
    ]);
    // bob got both small ones, in order, and nothing of the refused one (closed by a last send).
    await roomSend(alice, new Uint8Array([3]));
    await bob.client!.next((m) => m.type === "deliver" && m.body[0] === 3);
    deepEqual(delivers(bob).map((m) => m.type === "deliver" && [...m.body]), [[1], [2], [3]]);
  } finally {
    await quitAll(...people);
    await server.stop();
  }
});
