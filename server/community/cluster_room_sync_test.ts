import { deepEqual, equal, rejects } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, type Identity } from "../../protocol/e2e.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { type KeyPins, keyPins, type RoomEntry, signEntry } from "../../protocol/room_chain.ts";
import { RedisServer } from "../../tests/_redis.ts";
import { ClusterRoomLog, parseRoomNotice } from "./cluster_rooms.ts";
import { ClusterRooms, RoomNotices } from "./cluster_room_sync.ts";
import { RedisLink } from "./redis_link.ts";
import { checkRoomEntry } from "./room_entry_check.ts";
import type { CheckedEntry, RoomChange, Rooms } from "./rooms.ts";

interface Person {
  name: string;
  identity: Identity;
  keys: PublicKeysText;
  pins: KeyPins;
}

async function person(name: string): Promise<Person> {
  const identity = await generateIdentity();
  const keys = await exportPublicKeys(identity);
  return { name, identity, keys, pins: await keyPins(keys) };
}

const people = await Promise.all(["alice", "bob", "carol"].map(person));
const [alice, bob, carol] = people;
const keysOf = (name: string) => people.find((p) => p.name === name)?.keys;
const ROOM = "clusterroom00000000000";

/** Signs an entry by `who` after the head `rooms` holds, checked as the server does. */
async function signed(
  rooms: Rooms,
  who: Person,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
): Promise<CheckedEntry> {
  const state = rooms.get(ROOM)?.state;
  const entry: RoomEntry = {
    room: ROOM,
    seq: state === undefined ? 0 : state.seq + 1,
    prev: state === undefined ? "" : state.head,
    author: who.name,
    subject: fields.op === "accept" ? who.name : "",
    keys: null,
    settings: null,
    time: 1_700_000_000_000,
    ...fields,
  };
  const bytes = await signEntry(entry, who.identity);
  return await checkRoomEntry(bytes.toBase64(), { sender: who.name, keysOf });
}

/** A node: its link, its rooms, and the changes it learned from other nodes. */
async function node(redis: RedisServer) {
  const learned: RoomChange[] = [];
  // Notices that arrive while the node loads wait for it: the load reads past them anyway.
  const held: { rooms?: ClusterRooms } = {};
  const pending: Promise<void>[] = [];
  const link = await RedisLink.open({
    url: redis.url,
    onMessage: (_channel, message) => {
      const notice = parseRoomNotice(message);
      if (notice !== undefined && held.rooms !== undefined) {
        pending.push(held.rooms.notice(notice));
      }
    },
    onDown: () => {},
    onReady: () => {},
  }, ["t:rooms"]);
  const rooms = held.rooms = await ClusterRooms.open(new ClusterRoomLog(link, "t:"), {
    onLearned: (change) => learned.push(change),
  });
  /** Waits until the node holds `count` entries of the room. */
  const holds = async (count: number) => {
    const deadline = Date.now() + 20_000;
    while (rooms.rooms.count(ROOM) < count) {
      if (Date.now() > deadline) throw new Error(`holds ${rooms.rooms.count(ROOM)}, not ${count}`);
      await Promise.all(pending);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { link, rooms, learned, holds };
}

Deno.test("ClusterRooms: a room made on one node is learned by another, and one seq raced from both is stored once", async () => {
  const redis = await RedisServer.start();
  const a = await node(redis);
  const b = await node(redis);
  try {
    const create = await signed(a.rooms.rooms, alice, {
      op: "create",
      keys: alice.pins,
      settings: { invite: "members", control: "all" },
    });
    await a.rooms.apply((rooms) => rooms.stageCreate("club", create, 1));
    await b.holds(1);
    equal(b.rooms.rooms.get(ROOM)?.name, "club");
    const invite = await signed(a.rooms.rooms, alice, {
      op: "invite",
      subject: bob.name,
      keys: bob.pins,
    });
    await a.rooms.apply((rooms) => rooms.stageChange(invite, 2));
    await b.holds(2);
    // Bob, on node B, accepts there; node A learns it and would push it to its members.
    const accept = await signed(b.rooms.rooms, bob, { op: "accept" });
    await b.rooms.apply((rooms) => rooms.stageChange(accept, 3));
    await a.holds(3);
    deepEqual(
      a.learned.map((c) => [c.entry, c.audience.map((p) => p.name).sort()]),
      [[accept.hashed.bytes.toBase64(), ["alice", "bob"]]],
    );
    deepEqual(
      b.learned.map((c) => c.entry),
      [create, invite].map((e) => e.hashed.bytes.toBase64()),
    );
    // Both nodes hold seq 2 as head: Alice (A) invites Carol while Bob (B) leaves, at seq 3.
    const [fromA, fromB] = [
      await signed(a.rooms.rooms, alice, { op: "invite", subject: carol.name, keys: carol.pins }),
      await signed(b.rooms.rooms, bob, { op: "leave", subject: bob.name }),
    ];
    const race = await Promise.allSettled([
      a.rooms.apply((rooms) => rooms.stageChange(fromA, 4)),
      b.rooms.apply((rooms) => rooms.stageChange(fromB, 5)),
    ]);
    deepEqual(race.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const lost = race.find((r) => r.status === "rejected") as PromiseRejectedResult;
    equal(lost.reason instanceof PeerstreamError && lost.reason.code, "CHAIN_INVALID");
    await a.holds(4);
    await b.holds(4);
    equal(a.rooms.rooms.get(ROOM)!.state.head, b.rooms.rooms.get(ROOM)!.state.head);
    equal(a.rooms.rooms.count(ROOM), 4);
    // A node started now loads the same chain.
    const c = await node(redis);
    try {
      equal(c.rooms.rooms.get(ROOM)!.state.head, a.rooms.rooms.get(ROOM)!.state.head);
    } finally {
      await c.link.close();
    }
    // The loser's change, signed again after the head it now holds, is stored.
    const loser = race[0].status === "rejected" ? a : b;
    const again = loser === a
      ? await signed(a.rooms.rooms, alice, { op: "invite", subject: carol.name, keys: carol.pins })
      : await signed(b.rooms.rooms, bob, { op: "leave", subject: bob.name });
    await loser.rooms.apply((rooms) => rooms.stageChange(again, 6));
    await a.holds(5);
    await b.holds(5);
    await rejects(
      () => a.rooms.apply((rooms) => rooms.stageChange(again, 7)),
      (e: Error) => e instanceof PeerstreamError && e.code === "CHAIN_INVALID",
    );
  } finally {
    await a.link.close();
    await b.link.close();
    await redis.close();
  }
});

Deno.test("ClusterRooms.resync() reads what a node missed, and RoomNotices applies notices that came before the rooms loaded", async () => {
  const redis = await RedisServer.start();
  const a = await node(redis);
  // Node C hears nothing on the channel: it misses every notice, as across an outage.
  const deaf = await RedisLink.open({
    url: redis.url,
    onMessage: () => {},
    onDown: () => {},
    onReady: () => {},
  }, []);
  try {
    const c = await ClusterRooms.open(new ClusterRoomLog(deaf, "t:"));
    const create = await signed(a.rooms.rooms, alice, {
      op: "create",
      keys: alice.pins,
      settings: { invite: "members", control: "all" },
    });
    await a.rooms.apply((rooms) => rooms.stageCreate("club", create, 1));
    const invite = await signed(a.rooms.rooms, alice, {
      op: "invite",
      subject: bob.name,
      keys: bob.pins,
    });
    await a.rooms.apply((rooms) => rooms.stageChange(invite, 2));
    equal(c.rooms.count(ROOM), 0);
    await c.resync();
    equal(c.rooms.count(ROOM), 2);
    equal(c.rooms.get(ROOM)!.state.head, a.rooms.rooms.get(ROOM)!.state.head);
    // Notices kept while a node's rooms load are applied once attached; one the load covered
    // already is skipped (learning it twice would break the chain and be logged).
    const d = await ClusterRooms.open(new ClusterRoomLog(deaf, "t:"));
    const early = new RoomNotices();
    const failures: string[] = [];
    early.notice(new TextEncoder().encode(`${ROOM} 1`));
    early.notice(new TextEncoder().encode("not a notice"));
    const accept = await signed(a.rooms.rooms, bob, { op: "accept" });
    await a.rooms.apply((rooms) => rooms.stageChange(accept, 3));
    early.notice(new TextEncoder().encode(`${ROOM} 2`));
    early.attach(d, (error) => failures.push(error));
    const deadline = Date.now() + 20_000;
    while (d.rooms.count(ROOM) < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    equal(d.rooms.count(ROOM), 3);
    deepEqual(failures, []);
    // Bounded while the rooms load: past the cap nothing more is kept, and the node reads every
    // room's tail once attached instead.
    const e = await ClusterRooms.open(new ClusterRoomLog(deaf, "t:"));
    const capped = new RoomNotices({ maxEarly: 1 });
    for (const seq of [1, 2, 3]) capped.notice(new TextEncoder().encode(`${ROOM} ${seq}`));
    equal(capped.held, 1);
    const lateFailures: string[] = [];
    capped.attach(e, (error) => lateFailures.push(error));
    equal(capped.held, 0);
    // The resync it starts reads what the node holds already: no failure, nothing learnt twice.
    await e.resync();
    equal(e.rooms.count(ROOM), 3);
    deepEqual(lateFailures, []);
  } finally {
    await deaf.close();
    await a.link.close();
    await redis.close();
  }
});

Deno.test("ClusterRooms: two nodes creating rooms of one name at once: one is refused NAME_TAKEN and learns the other", async () => {
  const redis = await RedisServer.start();
  const a = await node(redis);
  const b = await node(redis);
  try {
    const settings = { invite: "members", control: "all" } as const;
    const other = "clusterroom11111111111";
    const [byAlice, byBob] = [
      await signed(a.rooms.rooms, alice, { op: "create", keys: alice.pins, settings }),
      await signed(b.rooms.rooms, bob, { op: "create", room: other, keys: bob.pins, settings }),
    ];
    const race = await Promise.allSettled([
      a.rooms.apply((rooms) => rooms.stageCreate("club", byAlice, 1)),
      // A look-alike of the same name is the same name.
      b.rooms.apply((rooms) => rooms.stageCreate("cIub", byBob, 1)),
    ]);
    deepEqual(race.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const lost = race.find((r) => r.status === "rejected") as PromiseRejectedResult;
    equal(lost.reason instanceof PeerstreamError && lost.reason.code, "NAME_TAKEN");
    const [winner, loser] = race[0].status === "fulfilled" ? [ROOM, b] : [other, a];
    // The refused node holds the winner's room now, and nothing of its own.
    equal(loser.rooms.rooms.count(winner), 1);
    equal(loser.rooms.rooms.size, 1);
  } finally {
    await a.link.close();
    await b.link.close();
    await redis.close();
  }
});
