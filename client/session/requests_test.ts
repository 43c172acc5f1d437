import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { ClientMessage, ServerMessage } from "../../protocol/messages.ts";
import { ANSWERS, type RequestMessage, RequestTable } from "./requests.ts";
import { FakeClock, streamSeekOf, streamStartOf } from "./_testing.ts";

function table(timeoutMs = 60_000) {
  const clock = new FakeClock();
  const sent: ClientMessage[] = [];
  const requests = new RequestTable({ timeoutMs, clock, send: (m) => sent.push(m) });
  return { clock, sent, requests };
}

const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";

/** A request of each type that takes an answer. */
const REQUESTS: Record<keyof typeof ANSWERS, RequestMessage> = {
  list: { type: "list", id: 0 },
  key: { type: "key", id: 0, name: "bob" },
  send: { type: "send", id: 0, to: "bob", body: new Uint8Array([1]) },
  play: { type: "play", id: 0, title: "cat", quality: "auto" },
  stop: { type: "stop", id: 0 },
  quality: { type: "quality", id: 0, quality: 480 },
  pause: { type: "pause", id: 0 },
  resume: { type: "resume", id: 0 },
  seek: { type: "seek", id: 0, position: 10 },
  "room-create": { type: "room-create", id: 0, name: "club", entry: "" },
  "room-change": { type: "room-change", id: 0, room: ROOM, entry: "" },
  "room-chain": { type: "room-chain", id: 0, room: ROOM, from: 0 },
  "room-send": { type: "room-send", id: 0, room: ROOM, body: new Uint8Array([1]) },
  time: { type: "time", id: 0 },
  "room-control": { type: "room-control", id: 0, room: ROOM, action: "pause" },
};

/** An answer of each type a request may take, for request id `re`. */
function answerOf(type: string, re: number): ServerMessage {
  const answers: Record<string, ServerMessage> = {
    "videos": { type: "videos", re, videos: [] },
    "key-info": { type: "key-info", re, name: "bob", encKey: "e", signKey: "s", online: true },
    "delivered": { type: "delivered", re, to: "bob" },
    "queued": { type: "queued", re, to: "bob", qseq: 1 },
    "stream-start": streamStartOf(re),
    "stream-end": { type: "stream-end", re, streamId: 1, reason: "stopped" },
    "ok": { type: "ok", re },
    "stream-seek": streamSeekOf(re, 1),
    "room-entries": { type: "room-entries", re, room: ROOM, entries: [] },
    "room-sent": { type: "room-sent", re, room: ROOM, relayed: [], queued: [], refused: [] },
    "time-is": { type: "time-is", re, server: 1.5 },
    "room-playback": {
      type: "room-playback",
      re,
      room: ROOM,
      action: "pause",
      epoch: 2,
      anchor: 1,
      position: 3,
      rate: 0,
    },
  };
  return answers[type];
}

Deno.test("RequestTable.request() resolves with each answer type its request takes", async () => {
  for (const [type, takes] of Object.entries(ANSWERS)) {
    for (const answerType of takes) {
      const { sent, requests } = table();
      const answer = requests.request({ ...REQUESTS[type as keyof typeof ANSWERS] });
      const re = (sent[0] as { id: number }).id;
      equal(requests.answer(re, answerOf(answerType, re)), true);
      equal((await answer).type, answerType, `${type} takes ${answerType}`);
      equal(requests.size, 0);
    }
  }
});

Deno.test("RequestTable.request() rejects an answer of another type with BAD_MESSAGE", async () => {
  const cases: [keyof typeof ANSWERS, string][] = [
    ["list", "ok"],
    ["key", "videos"],
    ["send", "ok"],
    ["play", "ok"],
    ["pause", "stream-seek"],
    ["seek", "ok"],
  ];
  for (const [type, wrong] of cases) {
    const { sent, requests } = table();
    const answer = requests.request({ ...REQUESTS[type] });
    const re = (sent[0] as { id: number }).id;
    requests.answer(re, answerOf(wrong, re));
    await rejects(answer, (error: unknown) => {
      ok(error instanceof PeerstreamError);
      equal(error.code, "BAD_MESSAGE");
      ok(error.message.includes(`answered "${type}" with "${wrong}"`), error.message);
      return true;
    });
  }
});

Deno.test("RequestTable.request() times out at the limit, not a millisecond before", async () => {
  const { clock, sent, requests } = table(5_000);
  let outcome = "waiting";
  const answer = requests.request({ type: "list", id: 0 });
  answer.catch(() => {});
  answer.then(() => outcome = "answered", () => outcome = "timed out");
  clock.advance(4_999);
  await Promise.resolve();
  equal(outcome, "waiting");
  equal(requests.typeOf(sent[0].type === "list" ? sent[0].id : -1), "list");
  clock.advance(1);
  await rejects(answer, (error: unknown) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "UNAVAILABLE");
    ok(error.message.includes(`did not answer "list" within 5 s`), error.message);
    return true;
  });
  equal(outcome, "timed out");
  // A late answer finds nothing waiting.
  equal(requests.answer((sent[0] as { id: number }).id, answerOf("videos", 1)), false);
  equal(clock.pending, 0);
});

Deno.test("RequestTable ids count up, shared by requests and nextId()", () => {
  const { sent, requests } = table();
  requests.request({ type: "list", id: 0 }).catch(() => {});
  equal(requests.nextId(), 2);
  requests.request({ type: "pause", id: 0 }).catch(() => {});
  deepEqual(sent.map((m) => (m as { id: number }).id), [1, 3]);
  equal(requests.typeOf(1), "list");
  equal(requests.typeOf(2), undefined);
  equal(requests.typeOf(3), "pause");
});

Deno.test("RequestTable.fail() and failAll() reject what waits and stop its timers", async () => {
  const { clock, requests } = table();
  const first = requests.request({ type: "list", id: 0 });
  const second = requests.request({ type: "seek", id: 0, position: 1 });
  const third = requests.request({ type: "pause", id: 0 });
  equal(clock.pending, 3);
  equal(requests.fail(2, new PeerstreamError("NOT_PLAYING", "Cannot seek: nothing")), true);
  equal(requests.fail(2, new Error("twice")), false);
  await rejects(second, { code: "NOT_PLAYING" });
  requests.failAll(new PeerstreamError("UNAVAILABLE", "Lost connection to the server: gone"));
  await rejects(first, { code: "UNAVAILABLE" });
  await rejects(third, { code: "UNAVAILABLE" });
  equal(requests.size, 0);
  equal(clock.pending, 0);
});

Deno.test("RequestTable.answer() returns false for an id no request waits with", () => {
  const { requests } = table();
  equal(requests.answer(7, answerOf("ok", 7)), false);
  equal(requests.answer(0, answerOf("videos", 0)), false);
});
