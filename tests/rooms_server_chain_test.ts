/**
 * The server half of rooms (issue 20), the chain, with a real `serve` and raw protocol clients:
 * signed membership changes checked, stored in the data folder, pushed to members and kept over a
 * restart; a bad signature, a skipped seq or another author refused with nothing stored; two
 * changes raced on one head, one stored; an impostor on a member's freed name is not that member.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { type RoomSentMessage } from "../protocol/messages.ts";
import { type ServerProcess, startServer } from "./_helpers.ts";
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
} from "./_room_people.ts";
import { joinEphemeral, roomSend } from "./_rooms_server.ts";

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
