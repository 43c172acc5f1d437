import { deepEqual, throws } from "node:assert/strict";
import { type Frame, FrameType } from "./frame.ts";
import { decodeMessage, encodeMessage } from "./messages.ts";
import { FrameDecoder } from "./frame.ts";
import { MAX_ENTRY_B64 } from "./room_chain.ts";
import { MAX_ENTRIES_PER_MESSAGE, MAX_ROOM_MEMBERS_LISTED } from "./room_messages.ts";

const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";
const HEAD = "A".repeat(43) + "=";

function control(value: unknown): Frame {
  return { type: FrameType.Control, payload: new TextEncoder().encode(JSON.stringify(value)) };
}

Deno.test("decodeMessage() takes room messages with fields exactly at their limits", () => {
  const entry = "A".repeat(MAX_ENTRY_B64);
  const table: unknown[] = [
    { type: "room-create", id: 0, name: "n".repeat(64), entry },
    { type: "room-change", id: 1, room: ROOM, entry: "" },
    { type: "room-chain", id: 1, room: ROOM, from: 0xffff_ffff },
    {
      type: "room-entries",
      room: ROOM,
      entries: Array(MAX_ENTRIES_PER_MESSAGE).fill("cGVlcg=="),
    },
    { type: "room-entries", re: 9, room: ROOM, entries: [] },
    { type: "room-entries", room: ROOM, entries: ["cGVlcg=="], name: "n".repeat(64) },
    { type: "rooms", rooms: [{ room: ROOM, name: "club", seq: 0, head: HEAD }] },
    {
      type: "room-sent",
      re: 3,
      room: ROOM,
      relayed: Array(MAX_ROOM_MEMBERS_LISTED).fill("bob"),
      queued: [{ name: "carol", qseq: 1 }],
      refused: [{ name: "dave", code: "QUEUE_FULL", message: "x".repeat(2048) }],
    },
    { type: "room-sent", re: 3, room: ROOM, relayed: [], queued: [], refused: [] },
  ];
  for (const message of table) deepEqual(decodeMessage(control(message)), message);
});

Deno.test("decodeMessage() refuses room messages one past a limit or of the wrong shape", () => {
  const table: [unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [
      { type: "room-create", id: 0, name: "club", entry: "A".repeat(MAX_ENTRY_B64 + 1) },
      RangeError,
      /"entry": longer/,
    ],
    [
      { type: "room-create", id: 0, name: "club", entry: "not base64!" },
      TypeError,
      /base64 room entry/,
    ],
    [{ type: "room-create", id: 0, name: "n".repeat(65), entry: "" }, RangeError, /"name"/],
    [{ type: "room-change", id: 0, room: "A".repeat(21), entry: "" }, TypeError, /room id/],
    [{ type: "room-change", id: 0, room: "A".repeat(21) + "=", entry: "" }, TypeError, /room id/],
    [{ type: "room-chain", id: 0, room: ROOM, from: -1 }, TypeError, /"from"/],
    [{ type: "room-chain", id: 0, room: ROOM }, TypeError, /Missing field "from"/],
    [
      { type: "room-entries", room: ROOM, entries: Array(MAX_ENTRIES_PER_MESSAGE + 1).fill("") },
      RangeError,
      /more than 256 items/,
    ],
    [
      { type: "rooms", rooms: [{ room: ROOM, name: "club", seq: 0, head: "x" }] },
      TypeError,
      /SHA-256/,
    ],
    [
      { type: "rooms", rooms: [{ room: ROOM, name: "club", seq: 0 }] },
      TypeError,
      /rooms\[0\]\.head/,
    ],
    [{ type: "room-send", id: 0, room: ROOM }, TypeError, /needs a binary body/],
    [
      {
        type: "room-sent",
        re: 1,
        room: ROOM,
        relayed: Array(MAX_ROOM_MEMBERS_LISTED + 1).fill("bob"),
        queued: [],
        refused: [],
      },
      RangeError,
      /more than 1000 items/,
    ],
    [
      { type: "room-sent", re: 1, room: ROOM, relayed: [], queued: [{ name: "c" }], refused: [] },
      TypeError,
      /queued\[0\]\.qseq/,
    ],
    [
      {
        type: "room-sent",
        re: 1,
        room: ROOM,
        relayed: [],
        queued: [],
        refused: [{ name: "d", code: "NO_SUCH_CODE", message: "" }],
      },
      TypeError,
      /refused\[0\]\.code/,
    ],
  ];
  for (const [message, error, pattern] of table) {
    throws(() => decodeMessage(control(message)), (e: unknown) => {
      if (!(e instanceof error) || !pattern.test(e.message)) throw e;
      return true;
    });
  }
});

Deno.test("encodeMessage() sends room-send and a room deliver as body frames", () => {
  const body = new Uint8Array([1, 2, 3]);
  for (
    const message of [
      { type: "room-send", id: 5, room: ROOM, body },
      { type: "deliver", rid: "r1", from: "alice", room: ROOM, body },
    ] as const
  ) {
    const [frame] = new FrameDecoder().push(encodeMessage(message));
    deepEqual(frame.type, FrameType.ControlWithBody);
    deepEqual(decodeMessage(frame), message);
  }
  throws(
    () => decodeMessage(control({ type: "deliver", rid: "r", from: "a", room: "bad", body: [] })),
    TypeError,
  );
});
