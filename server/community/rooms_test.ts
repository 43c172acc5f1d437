import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, type Identity } from "../../protocol/e2e.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { type KeyPins, keyPins, type RoomEntry, signEntry } from "../../protocol/room_chain.ts";
import { checkRoomEntry } from "./room_entry_check.ts";
import type { RoomRecord, RoomStorage } from "./room_store.ts";
import {
  type CheckedEntry,
  type Pinned,
  ROOM_DEFAULTS,
  roomName,
  Rooms,
  type RoomServerLimits,
} from "./rooms.ts";

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

const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
const [alice, bob, carol, dave] = people;
const keysOf = (name: string) => people.find((p) => p.name === name)?.keys;
/** A person as a room knows them: name and pinned signing key. */
const me = (p: Person): Pinned => ({ name: p.name, sign: p.pins.sign });
const names = (audience: Pinned[]) => audience.map((p) => p.name).sort();
const SETTINGS = { invite: "members", control: "all" } as const;
const DAY = 24 * 3600 * 1000;
let nextRoom = 0;

/** A fresh room id. */
function roomId(): string {
  return `room${String(nextRoom++).padStart(18, "0")}`;
}

/** A storage in memory that records what a file would hold. */
function memoryStorage(): RoomStorage & { logs: Map<string, RoomRecord[]> } {
  const logs = new Map<string, RoomRecord[]>();
  return {
    logs,
    load: () => new Map([...logs].map(([k, v]) => [k, [...v]])),
    append: (room, record) => void logs.set(room, [...logs.get(room) ?? [], record]),
  };
}

/** Signs an entry by `who` following the room's head in `rooms`, and checks it as the server does. */
async function signed(
  rooms: Rooms | undefined,
  who: Person,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op" | "room">,
): Promise<CheckedEntry> {
  const state = rooms?.get(fields.room)?.state;
  const entry: RoomEntry = {
    seq: state === undefined ? 0 : state.seq + 1,
    prev: state === undefined ? "" : state.head,
    author: who.name,
    subject: fields.op === "accept" || fields.op === "decline" || fields.op === "leave"
      ? who.name
      : "",
    keys: null,
    settings: null,
    time: 1_700_000_000_000,
    ...fields,
  };
  const bytes = await signEntry(entry, who.identity);
  return await checkRoomEntry(bytes.toBase64(), { sender: who.name, keysOf });
}

function createEntry(rooms: Rooms | undefined, who: Person, room: string) {
  return signed(rooms, who, { op: "create", room, keys: who.pins, settings: SETTINGS });
}

function invite(rooms: Rooms, who: Person, room: string, subject: Person) {
  return signed(rooms, who, { op: "invite", room, subject: subject.name, keys: subject.pins });
}

/** A room by alice named `name`, with `members` invited and accepted. */
async function roomWith(rooms: Rooms, name: string, members: Person[], now = 0): Promise<string> {
  const room = roomId();
  rooms.create(name, await createEntry(rooms, alice, room), now);
  for (const member of members) {
    rooms.change(await invite(rooms, alice, room, member), now);
    rooms.change(await signed(rooms, member, { op: "accept", room }), now);
  }
  return room;
}

const code = (wanted: string, fragment = "") => (e: Error) =>
  e instanceof PeerstreamError && e.code === wanted && e.message.includes(fragment);

async function open(limits: Partial<RoomServerLimits> = {}, storage = memoryStorage()) {
  return { rooms: await Rooms.open(storage, limits), storage };
}

Deno.test("Rooms.create() stores the entry with its name and the creator's key, and lists the room", async () => {
  const { rooms, storage } = await open();
  const room = roomId();
  const change = rooms.create("friends", await createEntry(rooms, alice, room), 5);
  deepEqual(change.audience, [me(alice)]);
  const [record] = storage.logs.get(room)!;
  deepEqual([record.at, record.name, record.key], [5, "friends", alice.keys.signKey]);
  equal(record.entry.toBase64(), change.entry);
  const { state } = rooms.get(room)!;
  deepEqual(rooms.roomsOf(me(alice)), [{ room, name: "friends", seq: 0, head: state.head }]);
  deepEqual(rooms.roomsOf(me(bob)), []);
});

Deno.test("Rooms.change() walks invite, accept, handover, remove and leave, telling whom it concerns", async () => {
  const { rooms } = await open();
  const room = roomId();
  rooms.create("club", await createEntry(rooms, alice, room), 0);
  let change = rooms.change(await invite(rooms, alice, room, bob), 0);
  deepEqual(names(change.audience), ["alice", "bob"]);
  deepEqual(rooms.roomsOf(me(bob)).map((r) => r.room), [room]);
  rooms.change(await signed(rooms, bob, { op: "accept", room }), 0);
  rooms.change(await invite(rooms, bob, room, carol), 0);
  rooms.change(await signed(rooms, carol, { op: "accept", room }), 0);
  deepEqual([...rooms.membersFor(room, me(carol)).keys()], ["alice", "bob", "carol"]);
  rooms.change(await signed(rooms, alice, { op: "handover", room, subject: "bob" }), 0);
  equal(rooms.get(room)!.state.owner, "bob");
  change = rooms.change(await signed(rooms, bob, { op: "remove", room, subject: "carol" }), 0);
  // The removed member learns of it too.
  deepEqual(names(change.audience), ["alice", "bob", "carol"]);
  deepEqual(rooms.roomsOf(me(carol)), []);
  throws(() => rooms.membersFor(room, me(carol)), code("NOT_A_MEMBER", "not a member"));
  rooms.change(await signed(rooms, alice, { op: "leave", room }), 0);
  deepEqual([...rooms.membersFor(room, me(bob)).keys()], ["bob"]);
  equal(rooms.get(room)!.state.seq, 7);
});

Deno.test("Rooms.change() refuses a skipped seq or a repeated one (a race) and stores nothing", async () => {
  const { rooms, storage } = await open();
  const room = roomId();
  rooms.create("race", await createEntry(rooms, alice, room), 0);
  const first = await invite(rooms, alice, room, bob);
  const raced = await invite(rooms, alice, room, carol);
  rooms.change(first, 0);
  throws(() => rooms.change(raced, 0), code("CHAIN_INVALID", "follows 1; expected 2"));
  const skipped = await signed(rooms, alice, {
    op: "invite",
    room,
    subject: "carol",
    keys: carol.pins,
    seq: 3,
  });
  throws(() => rooms.change(skipped, 0), code("CHAIN_INVALID", "expected 2"));
  equal(storage.logs.get(room)!.length, 2);
  throws(
    () =>
      rooms.change({
        ...first,
        hashed: { ...first.hashed, entry: { ...first.hashed.entry, room: roomId() } },
      }, 0),
    code("ROOM_NOT_FOUND", "no such room"),
  );
});

Deno.test("Rooms.create() refuses a name taken or confusable, an invalid name and an id in use", async () => {
  const { rooms } = await open();
  const room = roomId();
  const created = await createEntry(rooms, alice, room);
  rooms.create("friends", created, 0);
  const cases: [string, string, string][] = [
    ["friends", "NAME_TAKEN", "a room of that name exists"],
    ["Friends", "NAME_CONFUSABLE", 'looks like the room "friends"'],
    ["frIends", "NAME_CONFUSABLE", 'looks like the room "friends"'],
    ["", "NAME_INVALID", "Invalid room name"],
    ["two words", "NAME_INVALID", "Invalid room name"],
  ];
  for (const [name, wanted, fragment] of cases) {
    const entry = await createEntry(rooms, bob, roomId());
    throws(() => rooms.create(name, entry, 0), code(wanted, fragment), name);
  }
  throws(() => rooms.create("other", created, 0), code("CHAIN_INVALID", "is in use"));
  equal(rooms.size, 1);
});

Deno.test("room limits refuse with ROOM_LIMIT exactly past each bound", async () => {
  // Members plus invitees: 3 allowed; alice and bob are 2, carol's invite makes 3, dave's is one more.
  {
    const { rooms } = await open({ maxMembers: 3 });
    const room = await roomWith(rooms, "three", [bob]);
    rooms.change(await invite(rooms, alice, room, carol), 0);
    await rejects(
      async () => rooms.change(await invite(rooms, alice, room, dave), 0),
      code("ROOM_LIMIT", "the most is 3"),
    );
  }
  // Rooms per person: bob may be in 2; a third accept (or create) is refused.
  {
    const { rooms } = await open({ roomsPerPerson: 2 });
    await roomWith(rooms, "one", [bob]);
    await roomWith(rooms, "two", [bob]);
    const room = roomId();
    rooms.create("three", await createEntry(rooms, carol, room), 0);
    rooms.change(await invite(rooms, carol, room, bob), 0);
    await rejects(
      async () => rooms.change(await signed(rooms, bob, { op: "accept", room }), 0),
      code("ROOM_LIMIT", '"bob" is in 2 rooms'),
    );
    await rejects(
      async () => rooms.create("four", await createEntry(rooms, bob, roomId()), 0),
      code("ROOM_LIMIT", '"bob" is in 2 rooms'),
    );
  }
  // Pending invitations: dave may hold 1.
  {
    const { rooms } = await open({ invitesPerPerson: 1 });
    const one = await roomWith(rooms, "one", []);
    const two = await roomWith(rooms, "two", []);
    rooms.change(await invite(rooms, alice, one, dave), 0);
    await rejects(
      async () => rooms.change(await invite(rooms, alice, two, dave), 0),
      code("ROOM_LIMIT", "1 invitations pending"),
    );
  }
  // Rooms created per key per day: 2, counted over the last 24 hours.
  {
    const { rooms } = await open({ createsPerKeyPerDay: 2 });
    rooms.create("one", await createEntry(rooms, alice, roomId()), 0);
    rooms.create("two", await createEntry(rooms, alice, roomId()), 1000);
    await rejects(
      async () => rooms.create("three", await createEntry(rooms, alice, roomId()), DAY - 1),
      code("ROOM_LIMIT", "created 2 rooms in the last 24 hours"),
    );
    rooms.create("three", await createEntry(rooms, alice, roomId()), DAY);
  }
  // Entries per chain: 3 (seq 0 to 2); seq 3 is refused.
  {
    const { rooms } = await open({ maxEntries: 3 });
    const room = await roomWith(rooms, "short", [bob]);
    await rejects(
      async () => rooms.change(await invite(rooms, alice, room, carol), 0),
      code("ROOM_LIMIT", "3 entries"),
    );
  }
});

Deno.test("Rooms.open() loads what was stored: state, names, people's rooms, and creations per key", async () => {
  const storage = memoryStorage();
  const first = await Rooms.open(storage, { createsPerKeyPerDay: 2 });
  const room = await roomWith(first, "kept", [bob, carol]);
  first.change(await signed(first, alice, { op: "remove", room, subject: "carol" }), 0);
  first.create("second", await createEntry(first, alice, roomId()), 0);
  const again = await Rooms.open(storage, { createsPerKeyPerDay: 2 });
  deepEqual(again.get(room), first.get(room));
  deepEqual(again.roomsOf(me(bob)), first.roomsOf(me(bob)));
  deepEqual(again.roomsOf(me(carol)), []);
  await rejects(
    async () => again.create("Kept", await createEntry(again, dave, roomId()), 0),
    code("NAME_CONFUSABLE"),
  );
  await rejects(
    async () => again.create("third", await createEntry(again, alice, roomId()), 0),
    code("ROOM_LIMIT", "created 2 rooms"),
  );
});

Deno.test("Rooms.open() refuses a stored chain that does not check, naming the room", async () => {
  const storage = memoryStorage();
  const rooms = await Rooms.open(storage);
  const room = await roomWith(rooms, "broken", [bob]);
  const records = storage.logs.get(room)!;
  storage.logs.set(room, [records[0], records[2]]);
  await rejects(Rooms.open(storage), code("INTERNAL", `Cannot load room "${room}"`));
});

Deno.test("Rooms.entries() answers members and invitees from a seq, and refuses others", async () => {
  const { rooms } = await open();
  const room = await roomWith(rooms, "chain", [bob]);
  rooms.change(await invite(rooms, bob, room, carol), 0);
  equal(rooms.entries(room, { asker: me(alice), from: 0 }).length, 4);
  deepEqual(
    rooms.entries(room, { asker: me(carol), from: 2 }),
    rooms.entries(room, { asker: me(bob), from: 0 }).slice(2),
  );
  deepEqual(rooms.entries(room, { asker: me(bob), from: 4 }), []);
  throws(() => rooms.entries(room, { asker: me(dave), from: 0 }), code("NOT_A_MEMBER"));
  throws(() => rooms.entries(roomId(), { asker: me(alice), from: 0 }), code("ROOM_NOT_FOUND"));
});

Deno.test("checkRoomEntry() refuses a bad signature, another's entry, and keys that are not the person's", async () => {
  const room = roomId();
  const entry: RoomEntry = {
    room,
    seq: 0,
    prev: "",
    op: "create",
    author: "alice",
    subject: "",
    keys: alice.pins,
    settings: SETTINGS,
    time: 1,
  };
  // Signed by bob's key, claiming to be alice's.
  const forged = (await signEntry(entry, bob.identity)).toBase64();
  await rejects(
    checkRoomEntry(forged, { sender: "alice", keysOf }),
    code("CHAIN_INVALID", "not signed by the key"),
  );
  const good = (await signEntry(entry, alice.identity)).toBase64();
  await rejects(
    checkRoomEntry(good, { sender: "bob", keysOf }),
    code("NOT_ALLOWED", "send only entries you signed"),
  );
  const pinsBob = (await signEntry({ ...entry, keys: bob.pins }, alice.identity)).toBase64();
  await rejects(
    checkRoomEntry(pinsBob, { sender: "alice", keysOf }),
    code("CHAIN_INVALID", "pins keys that are not yours"),
  );
  const inviteBase = {
    ...entry,
    seq: 1,
    prev: "A".repeat(43) + "=",
    op: "invite" as const,
    settings: null,
  };
  const wrongPins =
    (await signEntry({ ...inviteBase, subject: "bob", keys: carol.pins }, alice.identity))
      .toBase64();
  await rejects(
    checkRoomEntry(wrongPins, { sender: "alice", keysOf }),
    code("CHAIN_INVALID", "not theirs"),
  );
  const stranger =
    (await signEntry({ ...inviteBase, subject: "zed", keys: carol.pins }, alice.identity))
      .toBase64();
  await rejects(checkRoomEntry(stranger, { sender: "alice", keysOf }), code("UNKNOWN_PEER"));
  await rejects(checkRoomEntry("AAAA", { sender: "alice", keysOf }), code("CHAIN_INVALID"));
  const checked = await checkRoomEntry(good, { sender: "alice", keysOf });
  deepEqual([checked.signedBy, checked.signKey], [alice.pins.sign, alice.keys.signKey]);
});

Deno.test("roomName() applies the peer name rules", () => {
  equal(roomName("zoe\u0308"), "zo\u00eb");
  throws(() => roomName("x".repeat(33)), code("NAME_INVALID", "Invalid room name"));
  equal(ROOM_DEFAULTS.maxMembers, 100);
});

Deno.test("Rooms: a name held by another key than the one pinned is not the member", async () => {
  const { rooms } = await open();
  const room = await roomWith(rooms, "pinned", [bob]);
  rooms.change(await invite(rooms, alice, room, carol), 0);
  const other = (p: Person): Pinned => ({ name: p.name, sign: dave.pins.sign });
  throws(
    () => rooms.membersFor(room, other(bob)),
    code("NOT_A_MEMBER", "not a member with this key"),
  );
  throws(() => rooms.entries(room, { asker: other(carol), from: 0 }), code("NOT_A_MEMBER"));
  deepEqual(rooms.roomsOf(other(bob)), []);
  deepEqual(rooms.roomsOf(other(carol)), []);
  equal(rooms.roomsOf(me(carol)).length, 1);
  const change = rooms.change(
    await signed(rooms, alice, { op: "remove", room, subject: "bob" }),
    0,
  );
  deepEqual(change.audience.find((p) => p.name === "bob"), me(bob));
});

Deno.test("Rooms refuse ROOM_LIMIT past the bytes of entries all rooms hold, exactly at the bound", async () => {
  // Sizes of the same entries measured on a first server: the same fields give the same length.
  const { rooms: probe } = await open();
  const id = await roomWith(probe, "sized", [bob]);
  const sizes = probe.entries(id, { asker: me(alice), from: 0 }).map((e) => e.length);
  // Room for the create and the invite exactly: bob's accept is one entry past the bound.
  const { rooms, storage } = await open({ totalBytes: sizes[0] + sizes[1] });
  const room = roomId();
  rooms.create("sized", await createEntry(rooms, alice, room), 0);
  rooms.change(await invite(rooms, alice, room, bob), 0);
  await rejects(
    async () => rooms.change(await signed(rooms, bob, { op: "accept", room }), 0),
    code("ROOM_LIMIT", "the server's rooms are full"),
  );
  await rejects(
    async () => rooms.create("other", await createEntry(rooms, carol, roomId()), 0),
    code("ROOM_LIMIT", "the server's rooms are full"),
  );
  equal(storage.logs.get(room)!.length, 2);
  // What is loaded counts too.
  const again = await Rooms.open(storage, { totalBytes: sizes[0] + sizes[1] });
  await rejects(
    async () => again.change(await signed(again, bob, { op: "accept", room }), 0),
    code("ROOM_LIMIT"),
  );
});
