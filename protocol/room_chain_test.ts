import { deepEqual, equal, notEqual, ok, rejects, throws } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, type Identity } from "./e2e.ts";
import { PeerstreamError } from "./errors.ts";
import {
  applyEntry,
  type ApplyOptions,
  canonicalJson,
  encodeEntry,
  type HashedEntry,
  hashEntry,
  isRoomId,
  type KeyPins,
  keyPins,
  MAX_ENTRY_B64,
  MAX_ENTRY_BYTES,
  newRoomId,
  parseEntry,
  readEntry,
  ROOM_CONTEXT,
  type RoomEntry,
  type RoomState,
  signEntry,
  verifyEntry,
} from "./room_chain.ts";

interface Person {
  name: string;
  identity: Identity;
  pins: KeyPins;
}

async function person(name: string): Promise<Person> {
  const identity = await generateIdentity();
  return { name, identity, pins: await keyPins(await exportPublicKeys(identity)) };
}

const [alice, bob, carol, dave] = await Promise.all(
  ["alice", "bob", "carol", "dave"].map(person),
);
const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";

/** An entry by `who`, following `state` (seq and prev filled in) unless fields say otherwise. */
async function make(
  who: Person,
  state: RoomState | undefined,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
): Promise<HashedEntry> {
  const entry: RoomEntry = {
    room: ROOM,
    seq: state === undefined ? 0 : state.seq + 1,
    prev: state === undefined ? "" : state.head,
    author: who.name,
    subject: "",
    keys: null,
    settings: null,
    time: 1_700_000_000_000,
    ...fields,
  };
  return await readEntry(await signEntry(entry, who.identity));
}

/** Makes an entry and applies it as signed by `who` (the checker verified `who`'s key). */
async function step(
  who: Person,
  state: RoomState | undefined,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
  options: ApplyOptions = {},
): Promise<RoomState> {
  return applyEntry(state, await make(who, state, fields), { signedBy: who.pins.sign, ...options });
}

const SETTINGS = { invite: "members", control: "all" } as const;

function create(options: ApplyOptions = {}) {
  return step(alice, undefined, { op: "create", keys: alice.pins, settings: SETTINGS }, options);
}

async function withBobInvited(): Promise<RoomState> {
  return await step(alice, await create(), { op: "invite", subject: "bob", keys: bob.pins });
}

async function withBob(): Promise<RoomState> {
  return await step(bob, await withBobInvited(), { op: "accept", subject: "bob" });
}

function assertRefused(fn: () => unknown, code: string, fragment: string) {
  throws(fn, (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, code, error.message);
    ok(error.message.includes(fragment), `${error.message} lacks ${fragment}`);
    return true;
  });
}

async function refused(
  state: Promise<RoomState> | RoomState | undefined,
  who: Person,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
  want: [string, string],
  options: ApplyOptions = {},
) {
  const before = await state;
  const hashed = await make(who, before, fields);
  assertRefused(
    () => applyEntry(before, hashed, { signedBy: who.pins.sign, ...options }),
    ...want,
  );
}

Deno.test("canonicalJson() sorts keys at every level and leaves no spaces", () => {
  const table: [unknown, string][] = [
    [{ b: 1, a: [{ d: null, c: "x" }] }, '{"a":[{"c":"x","d":null}],"b":1}'],
    [{ z: true, y: { x: "é" } }, '{"y":{"x":"é"},"z":true}'],
    [[], "[]"],
    [{}, "{}"],
    [{ a: undefined, b: 0 }, '{"b":0}'],
  ];
  for (const [value, want] of table) equal(canonicalJson(value), want);
});

Deno.test("encodeEntry() writes the context then the canonical JSON, byte for byte", () => {
  const entry: RoomEntry = {
    room: ROOM,
    seq: 0,
    prev: "",
    author: "alice",
    op: "create",
    subject: "",
    keys: { enc: "a".repeat(64), sign: "b".repeat(64) },
    settings: { invite: "owner", control: "host" },
    time: 5,
  };
  const want = 'peerstream-room-v3\0{"author":"alice","keys":{"enc":"' + "a".repeat(64) +
    '","sign":"' + "b".repeat(64) + '"},"op":"create","prev":"","room":"' + ROOM +
    '","seq":0,"settings":{"control":"host","invite":"owner"},"subject":"","time":5}';
  deepEqual(encodeEntry(entry), new TextEncoder().encode(want));
});

Deno.test("parseEntry() round-trips a signed entry from bytes and from base64", async () => {
  const hashed = await make(alice, undefined, {
    op: "create",
    keys: alice.pins,
    settings: SETTINGS,
  });
  deepEqual(parseEntry(hashed.bytes).entry, hashed.entry);
  deepEqual(parseEntry(hashed.bytes.toBase64()).entry, hashed.entry);
  equal(hashed.signature.length, 64);
  deepEqual(hashed.signed, encodeEntry(hashed.entry));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", hashed.bytes));
  equal(hashed.hash, digest.toBase64());
});

/** A signed-looking entry whose JSON is `json` (the signature is 64 zero bytes). */
function raw(json: string): Uint8Array {
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(ROOM_CONTEXT.length + body.length + 64);
  out.set(ROOM_CONTEXT);
  out.set(body, ROOM_CONTEXT.length);
  return out;
}

Deno.test("parseEntry() refuses malformed entries with CHAIN_INVALID naming what", () => {
  const good: Record<string, unknown> = {
    author: "bob",
    keys: null,
    op: "leave",
    prev: "A".repeat(43) + "=",
    room: ROOM,
    seq: 3,
    settings: null,
    subject: "bob",
    time: 1,
  };
  const json = (change: Record<string, unknown>) => canonicalJson({ ...good, ...change });
  // The good one parses (its signature is checked elsewhere).
  equal(parseEntry(raw(json({}))).entry.op, "leave");
  const table: [Uint8Array | string, string][] = [
    [new Uint8Array(0), "too short"],
    [new Uint8Array(MAX_ENTRY_BYTES + 1), "2049 bytes exceeds the 2048-byte limit"],
    [new Uint8Array(MAX_ENTRY_BYTES), "not a peerstream-room-v3 entry"],
    [raw("not json"), "not UTF-8 JSON"],
    [raw(JSON.stringify({ ...good, author: "bob" }).replace(":", ": ")), "not in canonical form"],
    [raw(JSON.stringify({ seq: 3, ...good })), "not in canonical form"],
    [raw(json({ extra: 1 })), 'field "extra" is not part of it'],
    [raw(json({ time: undefined })), 'field "time"'],
    [raw(json({ room: "short" })), 'field "room"'],
    [raw(json({ seq: -1 })), 'field "seq"'],
    [raw(json({ seq: 1.5 })), 'field "seq"'],
    [raw(json({ seq: 2 ** 32 })), 'field "seq" is larger'],
    [raw(json({ prev: "" })), 'field "prev" must be empty exactly at seq 0'],
    [raw(json({ prev: "xyz" })), 'field "prev" is not a hash'],
    [raw(json({ author: "" })), 'field "author" is empty'],
    [raw(json({ author: "x".repeat(65) })), 'field "author" is not a name'],
    [raw(json({ op: "delete" })), 'field "op"'],
    [raw(json({ subject: "carol" })), 'field "subject" must be the author for "leave"'],
    [raw(json({ keys: { enc: "a".repeat(64), sign: "b".repeat(64) } })), 'field "keys" must be'],
    [raw(json({ settings: SETTINGS })), 'field "settings" must be null'],
    [raw(json({ op: "invite", subject: "carol" })), 'field "keys" is not two key fingerprints'],
    [
      raw(json({ op: "invite", subject: "carol", keys: { enc: "A".repeat(64), sign: "b" } })),
      'field "keys" is not two',
    ],
    [raw(json({ op: "remove", subject: "bob" })), 'must name someone else for "remove"'],
    [raw(json({ op: "handover", subject: "" })), 'must name someone else for "handover"'],
    [raw(json({ op: "settings", subject: "", settings: { invite: "all" } })), '"settings" is not'],
    [raw(json({ op: "create", subject: "", keys: alice.pins, settings: SETTINGS })), "seq 0"],
    [raw(json({ seq: 0, prev: "" })), 'seq 0 must be "create"'],
    [raw(json({ time: -1 })), 'field "time"'],
    ["@@@", "not base64"],
    ["A".repeat(MAX_ENTRY_B64 + 4), `exceeds the ${MAX_ENTRY_B64} limit`],
  ];
  for (const [input, fragment] of table) {
    assertRefused(() => parseEntry(input), "CHAIN_INVALID", fragment);
  }
});

Deno.test("signEntry() refuses an entry whose shape parseEntry() would refuse", async () => {
  const entry = { room: ROOM, seq: 0, prev: "", author: "alice", op: "create" } as RoomEntry;
  await rejects(() => signEntry(entry, alice.identity), TypeError);
});

Deno.test("verifyEntry() takes the author's key only, and no changed byte", async () => {
  const hashed = await make(alice, undefined, {
    op: "create",
    keys: alice.pins,
    settings: SETTINGS,
  });
  equal(await verifyEntry(hashed, alice.identity.sign.publicKey), true);
  equal(await verifyEntry(hashed, bob.identity.sign.publicKey), false);
  const flipped = hashed.bytes.slice();
  flipped[flipped.length - 1] ^= 1;
  equal(await verifyEntry(parseEntry(flipped), alice.identity.sign.publicKey), false);
  // The same entry with another author's name, signed by alice: bob's key refuses it.
  const forged = await make(alice, undefined, {
    op: "create",
    author: "bob",
    keys: bob.pins,
    settings: SETTINGS,
  });
  equal(await verifyEntry(forged, bob.identity.sign.publicKey), false);
});

Deno.test("hashEntry() changes with any byte of the signed entry", async () => {
  const hashed = await make(alice, undefined, {
    op: "create",
    keys: alice.pins,
    settings: SETTINGS,
  });
  const flipped = hashed.bytes.slice();
  flipped[flipped.length - 1] ^= 1;
  notEqual((await hashEntry(parseEntry(flipped))).hash, hashed.hash);
  equal(hashed.hash.length, 44);
});

Deno.test("keyPins() are the SHA-256 of each SPKI key, and refuse non-base64", async () => {
  const text = await exportPublicKeys(alice.identity);
  const sign = await crypto.subtle.digest("SHA-256", Uint8Array.fromBase64(text.signKey));
  equal(alice.pins.sign, new Uint8Array(sign).toHex());
  notEqual(alice.pins.enc, alice.pins.sign);
  await rejects(() => keyPins({ encKey: "@", signKey: "@" }), /not base64/);
});

Deno.test("newRoomId() makes 22 base64url characters; isRoomId() checks exactly that", () => {
  const ids = new Set(Array.from({ length: 20 }, newRoomId));
  equal(ids.size, 20);
  for (const id of ids) ok(isRoomId(id), id);
  const table: [unknown, boolean][] = [
    [ROOM, true],
    ["A".repeat(21), false],
    ["A".repeat(23), false],
    ["A".repeat(21) + "+", false],
    ["A".repeat(21) + "-", true],
    [22, false],
  ];
  for (const [value, want] of table) equal(isRoomId(value), want, String(value));
});

Deno.test("applyEntry() builds a room: create, invite, accept, settings, handover, leave", async () => {
  const created = await create();
  deepEqual(
    [created.seq, created.owner, [...created.members.keys()], created.invitees.size],
    [0, "alice", ["alice"], 0],
  );
  deepEqual(created.members.get("alice"), alice.pins);
  const invited = await withBobInvited();
  deepEqual(invited.invitees.get("bob"), { keys: bob.pins, by: "alice" });
  const joined = await step(bob, invited, { op: "accept", subject: "bob" });
  deepEqual([...joined.members.keys()], ["alice", "bob"]);
  equal(joined.invitees.size, 0);
  // Each step leaves the state before it untouched.
  equal(invited.members.size, 1);
  equal(invited.invitees.size, 1);
  // bob (a member) invites carol; carol declines; dave is invited and accepts.
  let s = await step(bob, joined, { op: "invite", subject: "carol", keys: carol.pins });
  s = await step(carol, s, { op: "decline", subject: "carol" });
  equal(s.invitees.has("carol"), false);
  s = await step(alice, s, { op: "invite", subject: "dave", keys: dave.pins });
  s = await step(dave, s, { op: "accept", subject: "dave" });
  s = await step(alice, s, { op: "settings", settings: { invite: "owner", control: "host" } });
  deepEqual(s.settings, { invite: "owner", control: "host" });
  s = await step(alice, s, { op: "handover", subject: "bob" });
  equal(s.owner, "bob");
  s = await step(alice, s, { op: "leave", subject: "alice" });
  s = await step(bob, s, { op: "remove", subject: "dave" });
  deepEqual([s.seq, s.owner, [...s.members.keys()]], [10, "bob", ["bob"]]);
});

Deno.test("applyEntry() refuses a break in the chain with CHAIN_INVALID", async () => {
  const base = await withBob();
  const table: [Partial<RoomEntry>, string][] = [
    [{ seq: base.seq + 2 }, `follows ${base.seq}; expected ${base.seq + 1}`],
    [{ seq: base.seq }, `follows ${base.seq}`],
    [{ prev: "B".repeat(43) + "=" }, "names a previous entry that is not"],
    [{ room: "B".repeat(22) }, "belongs to room"],
  ];
  for (const [change, fragment] of table) {
    await refused(base, bob, { op: "leave", subject: "bob", ...change }, [
      "CHAIN_INVALID",
      fragment,
    ]);
  }
  // A chain that does not start with create.
  const invite = await make(alice, base, { op: "invite", subject: "carol", keys: carol.pins });
  assertRefused(() => applyEntry(undefined, invite), "CHAIN_INVALID", 'must start with "create"');
});

Deno.test("applyEntry() refuses each op to whoever the table does not give it", async () => {
  const table: [
    string,
    () => Promise<RoomState> | undefined,
    Person,
    Partial<RoomEntry> & Pick<RoomEntry, "op">,
    [string, string],
    ApplyOptions?,
  ][] = [
    ["create signed by a key it does not pin", () => undefined, alice, {
      op: "create",
      keys: bob.pins,
      settings: SETTINGS,
    }, ["NOT_ALLOWED", "not signed by the key it pins"]],
    ["invite by a non-member", withBob, carol, {
      op: "invite",
      subject: "dave",
      keys: dave.pins,
    }, ["NOT_A_MEMBER", '"carol" is not a member']],
    ["invite by an invitee", withBobInvited, bob, {
      op: "invite",
      subject: "dave",
      keys: dave.pins,
    }, ["NOT_A_MEMBER", '"bob" is not a member']],
    ["invite of a member", withBob, alice, {
      op: "invite",
      subject: "bob",
      keys: bob.pins,
    }, ["NOT_ALLOWED", '"bob" is already a member']],
    ["invite of an invitee", withBobInvited, alice, {
      op: "invite",
      subject: "bob",
      keys: bob.pins,
    }, ["NOT_ALLOWED", "already invited"]],
    ["accept without an invite", create, carol, {
      op: "accept",
      subject: "carol",
    }, ["NOT_ALLOWED", '"carol" is not invited']],
    ["accept by a member", withBob, bob, { op: "accept", subject: "bob" }, [
      "NOT_ALLOWED",
      '"bob" is not invited',
    ]],
    [
      "accept signed by another key than pinned",
      withBobInvited,
      bob,
      {
        op: "accept",
        subject: "bob",
      },
      ["NOT_ALLOWED", "not signed by the key the invite pinned"],
      { signedBy: carol.pins.sign },
    ],
    [
      "decline signed by another key than pinned",
      withBobInvited,
      bob,
      {
        op: "decline",
        subject: "bob",
      },
      ["NOT_ALLOWED", "not signed by the key the invite pinned"],
      { signedBy: "" },
    ],
    [
      "invite signed by another key than the member's pinned one",
      withBob,
      bob,
      {
        op: "invite",
        subject: "carol",
        keys: carol.pins,
      },
      ["NOT_ALLOWED", 'not signed by the key the chain pins for "bob"'],
      {
        signedBy: dave.pins.sign,
      },
    ],
    ["remove without a verified signer", withBob, alice, { op: "remove", subject: "bob" }, [
      "NOT_ALLOWED",
      "not signed by the key the chain pins",
    ], { signedBy: undefined }],
    ["leave by the owner", withBob, alice, { op: "leave", subject: "alice" }, [
      "NOT_ALLOWED",
      "hand the room over first",
    ]],
    ["leave by a non-member", withBob, carol, { op: "leave", subject: "carol" }, [
      "NOT_A_MEMBER",
      '"carol" is not a member',
    ]],
    ["leave by an invitee", withBobInvited, bob, { op: "leave", subject: "bob" }, [
      "NOT_A_MEMBER",
      '"bob" is not a member',
    ]],
    ["remove by a member", withBob, bob, { op: "remove", subject: "alice" }, [
      "NOT_ALLOWED",
      'only the owner "alice" may remove',
    ]],
    ["remove of a non-member", withBob, alice, { op: "remove", subject: "carol" }, [
      "NOT_A_MEMBER",
      'remove "carol"',
    ]],
    ["remove of an invitee", withBobInvited, alice, { op: "remove", subject: "bob" }, [
      "NOT_A_MEMBER",
      'remove "bob"',
    ]],
    ["handover by a member", withBob, bob, { op: "handover", subject: "alice" }, [
      "NOT_ALLOWED",
      "only the owner",
    ]],
    ["handover to an invitee", withBobInvited, alice, { op: "handover", subject: "bob" }, [
      "NOT_A_MEMBER",
      'handover "bob"',
    ]],
    ["settings by a member", withBob, bob, { op: "settings", settings: SETTINGS }, [
      "NOT_ALLOWED",
      "only the owner",
    ]],
    ["settings by a non-member", withBob, carol, { op: "settings", settings: SETTINGS }, [
      "NOT_A_MEMBER",
      '"carol" is not a member',
    ]],
  ];
  for (const [label, state, who, fields, want, options] of table) {
    try {
      await refused(state(), who, fields, want, options);
    } catch (error) {
      throw new Error(`${label}: ${error}`, { cause: error });
    }
  }
});

Deno.test("applyEntry() lets only the owner invite in an owner-invites room", async () => {
  let s = await withBob();
  s = await step(alice, s, { op: "settings", settings: { invite: "owner", control: "all" } });
  await refused(s, bob, { op: "invite", subject: "carol", keys: carol.pins }, [
    "NOT_ALLOWED",
    'only the owner "alice" may invite',
  ]);
  s = await step(alice, s, { op: "invite", subject: "carol", keys: carol.pins });
  ok(s.invitees.has("carol"));
});

Deno.test("applyEntry() refuses a removed member's later entries", async () => {
  let s = await withBob();
  s = await step(alice, s, { op: "remove", subject: "bob" });
  await refused(s, bob, { op: "invite", subject: "carol", keys: carol.pins }, [
    "NOT_A_MEMBER",
    '"bob" is not a member',
  ]);
  // The old owner, after a handover, has lost the owner's ops.
  let h = await withBob();
  h = await step(alice, h, { op: "handover", subject: "bob" });
  await refused(h, alice, { op: "remove", subject: "bob" }, ["NOT_ALLOWED", 'owner "bob"']);
});

Deno.test("applyEntry() counts members and invitees against maxMembers at the boundary", async () => {
  const limits = { maxMembers: 3 };
  let s = await withBob(); // 2 of 3
  s = await step(alice, s, { op: "invite", subject: "carol", keys: carol.pins }, limits); // 3 of 3
  await refused(s, alice, { op: "invite", subject: "dave", keys: dave.pins }, [
    "ROOM_LIMIT",
    "the most is 3",
  ], limits);
  // A decline frees the place.
  s = await step(carol, s, { op: "decline", subject: "carol" }, limits);
  s = await step(alice, s, { op: "invite", subject: "dave", keys: dave.pins }, limits);
  ok(s.invitees.has("dave"));
});

Deno.test("applyEntry() keeps at most maxEntries entries", async () => {
  const limits = { maxEntries: 3 };
  let s = await create(limits);
  s = await step(alice, s, { op: "invite", subject: "bob", keys: bob.pins }, limits);
  s = await step(bob, s, { op: "accept", subject: "bob" }, limits); // seq 2: the third entry
  await refused(s, bob, { op: "leave", subject: "bob" }, ["ROOM_LIMIT", "3 entries"], limits);
});
