import { deepEqual, equal, throws } from "node:assert/strict";
import {
  type AddAnswer,
  expiryInterval,
  fullError,
  parseAddReply,
  parseBoundKeys,
  parseTaken,
} from "./cluster_queue_wire.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { QUEUE_DEFAULTS } from "./offline_queue.ts";

Deno.test("parseAddReply() reads each answer of queue-add", () => {
  const cases: [unknown, AddAnswer][] = [
    [["OK", 1], { kind: "queued", qseq: 1 }],
    [["OK", 9_007_199_254_740_991], { kind: "queued", qseq: 9_007_199_254_740_991 }],
    [["ONLINE", "n2"], { kind: "online", node: "n2" }],
    // An unreadable presence entry: online, node unknown.
    [["ONLINE", ""], { kind: "online", node: "" }],
    [["OFFLINE"], { kind: "offline" }],
    [["FULL", "messages"], { kind: "full", bound: "messages" }],
    [["FULL", "bytes"], { kind: "full", bound: "bytes" }],
    [["FULL", "total"], { kind: "full", bound: "total" }],
  ];
  for (const [reply, answer] of cases) deepEqual(parseAddReply(reply), answer, String(reply));
});

Deno.test("parseAddReply() refuses any other shape", () => {
  const bad: unknown[] = [
    "OK",
    null,
    [],
    ["OK"],
    ["OK", -1],
    ["OK", 1.5],
    ["OK", 1, 2],
    ["ONLINE", 3],
    ["OFFLINE", "x"],
    ["FULL", "days"],
    ["CORRUPT", "k"],
  ];
  for (const reply of bad) {
    throws(() => parseAddReply(reply), TypeError, JSON.stringify(reply));
  }
});

Deno.test("fullError() words QUEUE_FULL as the single server does, per bound", () => {
  const limits = { ...QUEUE_DEFAULTS, maxMessages: 1000, maxBytes: 16 * 1024 * 1024 };
  const cases: ["messages" | "bytes" | "total", string][] = [
    ["messages", 'Cannot queue for "bob": 1,000 messages wait for them; try when "bob" is online'],
    [
      "bytes",
      'Cannot queue for "bob": 16,777,216 bytes of messages wait for them; try when "bob" is online',
    ],
    ["total", `Cannot queue for "bob": the server's queues are full; try when "bob" is online`],
  ];
  for (const [bound, message] of cases) {
    const error = fullError("bob", bound, limits);
    equal(error instanceof PeerstreamError, true);
    equal(error.code, "QUEUE_FULL");
    equal(error.message, message);
  }
});

Deno.test("parseTaken() reads messages and notices in order, bodies from base64", () => {
  const body = new Uint8Array([0, 1, 254, 255]);
  deepEqual(
    parseTaken([
      ["m", 1, "alice", "7", "1700000000000", body.toBase64()],
      ["d", 2, "carol", "4", "12", "1700000000001"],
      ["e", 3, "dave", "5", "13", "1700000000002"],
    ]),
    [
      { kind: "message", qseq: 1, from: "alice", re: 7, at: 1_700_000_000_000, body },
      { kind: "delivered", qseq: 2, to: "carol", ofQseq: 4, re: 12, at: 1_700_000_000_001 },
      { kind: "expired", qseq: 3, to: "dave", ofQseq: 5, re: 13, at: 1_700_000_000_002 },
    ],
  );
  deepEqual(parseTaken([]), []);
  // A room message keeps its room; "" is a 1:1 message.
  deepEqual(
    parseTaken([["m", 1, "a", "0", "0", "", "AAAAAAAAAAAAAAAAAAAAAA"], [
      "m",
      2,
      "a",
      "0",
      "0",
      "",
      "",
    ]]),
    [
      {
        kind: "message",
        qseq: 1,
        from: "a",
        re: 0,
        at: 0,
        body: new Uint8Array(),
        room: "AAAAAAAAAAAAAAAAAAAAAA",
      },
      { kind: "message", qseq: 2, from: "a", re: 0, at: 0, body: new Uint8Array() },
    ],
  );
  // An empty body is still a body.
  deepEqual(parseTaken([["m", 1, "a", "0", "0", ""]]), [
    { kind: "message", qseq: 1, from: "a", re: 0, at: 0, body: new Uint8Array() },
  ]);
});

Deno.test("parseTaken() refuses an entry read from Redis that is not one", () => {
  const bad: [unknown, RegExp][] = [
    [{}, /"reply" must be a list/],
    [["m"], /"entry" must be a list/],
    [[["m", 1, "a", "0", "0"]], /5 fields/],
    [[["x", 1, "a", "0", "0", ""]], /unknown entry kind/],
    [[["m", "one", "a", "0", "0", ""]], /"qseq"/],
    [[["m", 1, "a", "-1", "0", ""]], /"re"/],
    [[["m", 1, "a", "0", "1e3", ""]], /"at"/],
    [[["m", 1, "", "0", "0", ""]], /"from" must be a name/],
    [[["m", 1, "a\u001b[2J", "0", "0", ""]], /"from" must be a name/],
    [[["m", 1, "x".repeat(65), "0", "0", ""]], /"from" must be a name/],
    [[["m", 1, "a", "0", "0", "not base64!"]], /"body" must be base64/],
    [[["m", 1, "a", "0", "0", 5]], /"body" must be base64/],
    [[["d", 1, "a", "x", "0", "0"]], /"ofQseq"/],
    [[["m", 1, "a", "0", "0", "", "short"]], /"room" must be a room id/],
    [[["m", 1, "a", "0", "0", "", 5]], /"room" must be a room id/],
    [[["d", 1, "a", "0", "0", "0", "AAAAAAAAAAAAAAAAAAAAAA"]], /7 fields/],
  ];
  for (const [reply, message] of bad) {
    throws(
      () => parseTaken(reply),
      (e: Error) => e instanceof TypeError && message.test(e.message),
    );
  }
});

Deno.test("expiryInterval() is a tenth of the age, within 1 s and a minute", () => {
  const cases: [number, number][] = [
    [0, 1000],
    [1000, 1000],
    [10_000, 1000],
    [10_010, 1001],
    [600_000, 60_000],
    [600_010, 60_000],
    [14 * 24 * 3600 * 1000, 60_000],
  ];
  for (const [age, interval] of cases) equal(expiryInterval(age), interval, String(age));
});

Deno.test("parseBoundKeys() reads a bound name's keys, only when they are the bound key's", () => {
  const keys = { encKey: "E", signKey: "S" };
  deepEqual(parseBoundKeys(["S", JSON.stringify(keys)]), keys);
  // Not bound, or keys never stored (a binding older than this version).
  equal(parseBoundKeys(null), undefined);
  // Stored for a key the name is no longer bound to.
  equal(parseBoundKeys(["OTHER", JSON.stringify(keys)]), undefined);
  const bad: [unknown, RegExp][] = [
    ["S", /must be a list/],
    [["S"], /not an answer of bound-keys/],
    [["S", 1], /not an answer of bound-keys/],
    [["S", "{"], /not JSON/],
    [["S", "null"], /not public keys/],
    [["S", '{"encKey":"E"}'], /not public keys/],
    [["S", '{"encKey":"","signKey":"S"}'], /not public keys/],
    [["S", JSON.stringify({ encKey: "E".repeat(4097), signKey: "S" })], /not public keys/],
  ];
  for (const [reply, message] of bad) {
    throws(
      () => parseBoundKeys(reply),
      (e: Error) => e instanceof TypeError && message.test(e.message),
      JSON.stringify(reply),
    );
  }
});
