import { deepEqual, equal, ok } from "node:assert/strict";
import {
  generateHistoryKey,
  type HistoryEntry,
  openEntry,
  parseEntry,
  sealEntry,
} from "./history_entry.ts";

const IN: HistoryEntry = {
  dir: "in",
  peer: "ann",
  text: "the password is marmalade",
  at: 1e12,
  trust: "known",
};
const OUT: HistoryEntry = {
  dir: "out",
  peer: "ann",
  text: "secret plans",
  at: 1e12 + 1,
  state: "delivered",
};

Deno.test("parseEntry() keeps a valid entry and refuses what is not one", () => {
  deepEqual(parseEntry(IN), IN);
  deepEqual(parseEntry(OUT), OUT);
  const refused: unknown[] = [
    null,
    "text",
    [],
    { ...IN, dir: "sideways" },
    { ...IN, peer: 1 },
    { ...IN, text: undefined },
    { ...IN, at: Number.NaN },
    { ...IN, at: "yesterday" },
  ];
  for (const value of refused) equal(parseEntry(value), undefined, JSON.stringify(value));
  // Unknown or mistyped optional fields are dropped, not trusted.
  deepEqual(parseEntry({ ...IN, trust: "absolute", extra: 1 }), {
    dir: "in",
    peer: "ann",
    text: "the password is marmalade",
    at: 1e12,
  });
  deepEqual(parseEntry({ ...OUT, state: 5, lookalike: "anne" }), {
    dir: "out",
    peer: "ann",
    text: "secret plans",
    at: 1e12 + 1,
    lookalike: "anne",
  });
});

Deno.test("parseEntry() keeps a room's lines, and refuses a change line outside a room", () => {
  const change: HistoryEntry = {
    dir: "change",
    peer: "",
    text: "bob invited carol",
    at: 1,
    room: "r1",
  };
  const said: HistoryEntry = { ...IN, room: "r1" };
  deepEqual(parseEntry(change), change);
  deepEqual(parseEntry(said), said);
  equal(parseEntry({ ...change, room: undefined }), undefined);
  equal(parseEntry({ ...said, room: 7 }), undefined);
});

Deno.test("sealEntry() stores no plaintext, and openEntry() opens it back with the same key and name only", async () => {
  const key = await generateHistoryKey();
  equal(key.extractable, false);
  const sealed = await sealEntry(key, "ben", IN);
  const bytes = new TextDecoder("latin1").decode(new Uint8Array(sealed.data));
  ok(!bytes.includes("marmalade"));
  ok(!bytes.includes("ann"));
  equal(sealed.iv.length, 12);
  deepEqual(await openEntry(key, sealed), IN);
  // Two seals of the same entry differ (a fresh IV each).
  const again = await sealEntry(key, "ben", IN);
  ok(!new Uint8Array(again.data).every((b, i) => b === new Uint8Array(sealed.data)[i]));

  const other = await generateHistoryKey();
  equal(await openEntry(other, sealed), undefined, "another key");
  equal(await openEntry(key, { ...sealed, name: "carl" }), undefined, "moved to another name");
  const tampered = new Uint8Array(sealed.data.slice(0));
  tampered[0] ^= 1;
  equal(await openEntry(key, { ...sealed, data: tampered.buffer }), undefined, "tampered");
  for (const junk of [null, 1, {}, { name: "ben", iv: [1], data: sealed.data }]) {
    equal(await openEntry(key, junk), undefined, JSON.stringify(junk));
  }
});
