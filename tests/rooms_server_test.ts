/**
 * The server half of rooms (issue 20) with a real `serve` and raw protocol clients: the chain of
 * signed membership entries checked, stored in the data folder and pushed to members; `rooms`
 * after `welcome`; `room-send` fanned out once per member online and queued for those offline;
 * refusals with their codes; the limits at their boundary; a room spanning two cluster nodes.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, signChallenge } from "../protocol/e2e.ts";
import { PROTOCOL_VERSION, type RoomSentMessage } from "../protocol/messages.ts";
import { LOOPBACK_LIMITS, type ServerProcess, startServer } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";
import { startCluster } from "./_cluster.ts";
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
  pushed,
  quitAll,
  request,
  ROOM,
  SETTINGS,
} from "./_room_people.ts";

Deno.test("rooms: create, invite, accept, remove and handover are pushed to members and survive a restart", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-rooms-" });
  let server: ServerProcess = await startServer({ data });
  const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map(person));
  try {
    for (const who of [alice, bob, carol]) await join(server.port, who);
    const chain = new Chain();
    await create(chain, alice);
    await invite(chain, alice, bob);
    // The push names the room, so that bob, just invited, can show it.
    const invited = await pushed(bob, chain.entries[1]);
    equal(invited.type === "room-entries" && invited.name, "club");
    await change(chain, bob, await chain.sign(bob, { op: "accept" }));
    await pushed(alice, chain.entries[2]);
    await invite(chain, bob, carol);
    await pushed(alice, chain.entries[3]);
    await pushed(carol, chain.entries[3]);
    await change(chain, carol, await chain.sign(carol, { op: "accept" }));
    await change(chain, alice, await chain.sign(alice, { op: "remove", subject: "carol" }));
    // The removed member is told too, and so is every member online.
    await pushed(carol, chain.entries[5]);
    await pushed(bob, chain.entries[5]);
    await change(chain, alice, await chain.sign(alice, { op: "handover", subject: "bob" }));
    await pushed(bob, chain.entries[6]);
    await quitAll(alice, bob, carol);
    equal(await server.stop(), 0);

    server = await startServer({ data });
    const summary = [{ room: ROOM, name: "club", seq: 6, head: chain.head }];
    await join(server.port, carol);
    for (const [who, rooms] of [[bob, summary], [alice, summary]] as const) {
      const client = await join(server.port, who);
      const listed = await client.next((m) => m.type === "rooms", { timeoutMs: 30_000 });
      deepEqual(listed, { type: "rooms", rooms });
      // `rooms` comes right after `welcome`.
      equal(
        client.messages.indexOf(listed),
        client.messages.findIndex((m) => m.type === "welcome") + 1,
      );
    }
    const answer = await request(bob, { type: "room-chain", room: ROOM, from: 0 });
    deepEqual(answer, {
      type: "room-entries",
      re: (answer as { re: number }).re,
      room: ROOM,
      name: "club",
      entries: chain.entries,
    });
    // The new owner may act as one: bob removes alice after the restart.
    await change(chain, bob, await chain.sign(bob, { op: "remove", subject: "alice" }));
    await pushed(alice, chain.entries[7]);
    deepEqual(
      error(await request(carol, { type: "room-chain", room: ROOM, from: 0 })).code,
      "NOT_A_MEMBER",
    );
    // carol, removed, is in no room: no `rooms` list came before that answer.
    deepEqual(carol.client!.messages.filter((m) => m.type === "rooms"), []);
  } finally {
    await quitAll(alice, bob, carol);
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("rooms: an entry with a bad signature, a skipped seq or another author is refused and nothing is stored", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-rooms-" });
  let server = await startServer({ data });
  const [alice, bob, mallory] = await Promise.all(["alice", "bob", "mallory"].map(person));
  try {
    for (const who of [alice, bob, mallory]) await join(server.port, who);
    const chain = new Chain();
    await create(chain, alice);
    const bobPins = await pins(bob);
    const cases: [string, Person, string, string][] = [
      [
        "signed by another key",
        alice,
        await chain.sign(alice, { op: "invite", subject: "bob", keys: bobPins }, mallory.identity),
        "is not signed by the key",
      ],
      [
        "a skipped seq",
        alice,
        await chain.sign(alice, { op: "invite", subject: "bob", keys: bobPins, seq: 2 }),
        "expected 1",
      ],
      [
        "a wrong prev",
        alice,
        await chain.sign(alice, {
          op: "invite",
          subject: "bob",
          keys: bobPins,
          prev: "A".repeat(43) + "=",
        }),
        "names a previous entry",
      ],
      [
        "pins that are not the invitee's",
        alice,
        await chain.sign(alice, { op: "invite", subject: "bob", keys: await pins(mallory) }),
        "not theirs",
      ],
    ];
    for (const [what, who, entry, fragment] of cases) {
      const refused = error(await request(who, { type: "room-change", room: ROOM, entry }));
      equal(refused.code, "CHAIN_INVALID", what);
      ok(refused.message.includes(fragment), `${what}: ${refused.message}`);
    }
    // mallory sends alice's own valid entry as if it were hers, and invites herself unasked.
    const valid = await chain.sign(alice, { op: "invite", subject: "bob", keys: bobPins });
    equal(
      error(await request(mallory, { type: "room-change", room: ROOM, entry: valid })).code,
      "NOT_ALLOWED",
    );
    const self = await chain.sign(mallory, { op: "invite", subject: "bob", keys: bobPins });
    equal(
      error(await request(mallory, { type: "room-change", room: ROOM, entry: self })).code,
      "NOT_A_MEMBER",
    );
    // The valid entry is still next in line: the refusals left no gap. Its push to bob closes
    // the window: no refused entry reached him before it.
    await change(chain, alice, valid);
    await pushed(bob, valid);
    deepEqual(
      bob.client!.messages.filter((m) => m.type === "room-entries").map((m) =>
        m.type === "room-entries" && m.entries
      ),
      [[valid]],
    );
    // Nothing refused was stored: the file holds the create and the invite, and so does the
    // chain after a restart.
    await quitAll(alice, bob, mallory);
    equal(await server.stop(), 0);
    const lines = (await Deno.readTextFile(`${data}/rooms/${ROOM}.log`)).trim().split("\n");
    equal(lines.length, 2);
    server = await startServer({ data });
    await join(server.port, bob);
    const answer = await request(bob, { type: "room-chain", room: ROOM, from: 0 });
    deepEqual(answer.type === "room-entries" && answer.entries, chain.entries);
  } finally {
    await quitAll(alice, bob, mallory);
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

/** A room of alice (owner), bob and carol; dave is not in it. */
async function roomOfThree(port: number) {
  const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
  const [alice, bob, carol] = people;
  for (const who of people) await join(port, who);
  const chain = new Chain();
  await create(chain, alice);
  for (const member of [bob, carol]) {
    await invite(chain, alice, member);
    await change(chain, member, await chain.sign(member, { op: "accept" }));
  }
  return { people, chain };
}

function roomSend(who: Person, body: Uint8Array, room = ROOM) {
  return request(who, { type: "room-send", room, body });
}

const delivers = (who: Person) => who.client!.messages.filter((m) => m.type === "deliver");

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

/** Joins with an ephemeral name (held only while connected; free for anyone once it leaves). */
async function joinEphemeral(port: number, who: Person): Promise<RawClient> {
  const client = await RawClient.connect(port, { timeoutMs: 30_000 });
  const keys = await exportPublicKeys(who.identity);
  const challenge = Uint8Array.fromBase64(client.greeting.challenge);
  const proof = (await signChallenge(who.identity, challenge, who.name)).toBase64();
  await client.write({
    type: "hello",
    version: PROTOCOL_VERSION,
    name: who.name,
    ...keys,
    proof,
    ephemeral: true,
  });
  const answer = await client.next((m) => m.type === "welcome" || m.type === "error");
  equal(answer.type, "welcome", JSON.stringify(answer));
  who.client = client;
  return client;
}

Deno.test("rooms: someone who takes a member's freed name with another key is not that member", async () => {
  const server = await startServer();
  const [alice, bob] = await Promise.all(["alice", "bob"].map(person));
  const impostor: Person = { name: "bob", identity: await generateIdentity() };
  try {
    await join(server.port, alice);
    await joinEphemeral(server.port, bob);
    const chain = new Chain();
    await create(chain, alice);
    await invite(chain, alice, bob);
    await change(chain, bob, await chain.sign(bob, { op: "accept" }));
    await quitAll(bob);
    await alice.client!.next((m) => m.type === "left" && m.name === "bob");
    // The ephemeral name is free: another key takes it.
    const client = await joinEphemeral(server.port, impostor);
    const sent = await roomSend(alice, new Uint8Array([1])) as RoomSentMessage;
    deepEqual([sent.relayed, sent.queued], [[], []]);
    deepEqual(sent.refused.map((r) => [r.name, r.code]), [["bob", "KEY_CHANGED"]]);
    equal(error(await roomSend(impostor, new Uint8Array([2]))).code, "NOT_A_MEMBER");
    const chainAsked = await request(impostor, { type: "room-chain", room: ROOM, from: 0 });
    equal(error(chainAsked).code, "NOT_A_MEMBER");
    // No `rooms` list came to them before that answer: they are in no room.
    deepEqual(client.messages.filter((m) => m.type === "rooms"), []);
    // Nor may they act as bob in the chain: a leave signed with their own key is refused.
    const leave = await chain.sign(impostor, { op: "leave" });
    const refused = error(
      await request(impostor, { type: "room-change", room: ROOM, entry: leave }),
    );
    deepEqual([refused.code, refused.message.includes("the key the chain pins")], [
      "NOT_ALLOWED",
      true,
    ]);
    // A later change is not pushed to the impostor either; a 1:1 message to "bob" closes the
    // window (it is for whoever holds the name).
    await change(chain, alice, await chain.sign(alice, { op: "remove", subject: "bob" }));
    await alice.client!.write({ type: "send", id: 999, to: "bob", body: new Uint8Array([9]) });
    await client.next((m) => m.type === "deliver" && m.room === undefined);
    deepEqual(
      client.messages.filter((m) => m.type === "room-entries" || m.type === "deliver").map((m) =>
        m.type
      ),
      ["deliver"],
    );
  } finally {
    await quitAll(alice, bob, impostor);
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

Deno.test("rooms: two changes raced on one head: exactly one is stored, the other is refused CHAIN_INVALID", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-rooms-" });
  const server = await startServer({ data });
  const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
  const [alice, bob, carol, dave] = people;
  try {
    for (const who of people) await join(server.port, who);
    const chain = new Chain();
    await create(chain, alice);
    await invite(chain, alice, bob);
    await change(chain, bob, await chain.sign(bob, { op: "accept" }));
    // Both sign the next entry on the same head, and send at once.
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
    const kinds = answers.map((a) => a.type === "error" ? a.code : a.type).sort();
    deepEqual(kinds, ["CHAIN_INVALID", "room-entries"]);
    const won = answers[0].type === "room-entries" ? byAlice : byBob;
    // The invitee of the stored change may read it: the chain goes on with it alone.
    const asker = won === byAlice ? carol : dave;
    const seen = await request(asker, { type: "room-chain", room: ROOM, from: 3 });
    deepEqual(seen.type === "room-entries" && seen.entries, [won]);
    const lines = (await Deno.readTextFile(`${data}/rooms/${ROOM}.log`)).trim().split("\n");
    equal(lines.length, 4);
  } finally {
    await quitAll(...people);
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});
