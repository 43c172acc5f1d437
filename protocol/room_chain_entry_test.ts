/**
 * A room chain's entries (`protocol/room_chain.ts`): canonical JSON, the signed bytes, parsing
 * round trips and every malformed entry refused with CHAIN_INVALID, signing, verifying by the
 * author's key only, hashing, key pins, and room ids.
 * @module
 */

import { deepEqual, equal, notEqual, ok, rejects } from "node:assert/strict";
import { exportPublicKeys } from "./e2e.ts";
import {
  canonicalJson,
  encodeEntry,
  hashEntry,
  isRoomId,
  keyPins,
  MAX_ENTRY_B64,
  MAX_ENTRY_BYTES,
  newRoomId,
  parseEntry,
  ROOM_CONTEXT,
  type RoomEntry,
  signEntry,
  verifyEntry,
} from "./room_chain.ts";

import { alice, assertRefused, bob, make, ROOM, SETTINGS } from "../tests/_room_chain.ts";

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
