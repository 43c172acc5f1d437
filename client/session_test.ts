import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, importPeerKeys, seal } from "../protocol/e2e.ts";
import {
  PROTOCOL_VERSION,
  type ServerMessage,
  type StreamSeekMessage,
} from "../protocol/messages.ts";
import { KnownPeers } from "./known_peers.ts";
import { until } from "../tests/_util.ts";
import {
  type ClientLimits,
  ClientSession,
  type MediaSink,
  type SessionClock,
  type SessionEvents,
} from "./session.ts";
import { FakeClock, FakeTransport, segmentOf, settle, streamStartOf } from "./session/_testing.ts";

/** A session over memory that has read the server's greeting, and its server end. */
async function greeted(
  options: {
    events?: SessionEvents;
    knownPeers?: KnownPeers;
    limits?: Partial<ClientLimits>;
    clock?: SessionClock;
  },
) {
  const transport = new FakeTransport();
  transport.push({
    type: "server-hello",
    version: PROTOCOL_VERSION,
    server: "test",
    challenge: new Uint8Array(32).toBase64(),
  });
  const session = await ClientSession.open(transport, {
    events: options.events,
    knownPeers: options.knownPeers,
    limits: options.limits,
    clock: options.clock,
  });
  return { transport, session };
}

/** A registered session over memory, and its server end. */
async function registered(
  options: {
    events?: SessionEvents;
    knownPeers?: KnownPeers;
    peers?: string[];
    ephemeral?: boolean;
    limits?: Partial<ClientLimits>;
    clock?: SessionClock;
  } = {},
) {
  const { transport, session } = await greeted(options);
  const identity = await generateIdentity();
  const welcome = session.register("alice", identity, { ephemeral: options.ephemeral });
  // Signing the challenge takes a while on a busy machine: a welcome before the hello is ignored.
  await until(() => transport.types().includes("hello"), { ms: 30_000, what: "the hello" });
  transport.push({ type: "welcome", name: "alice", peers: options.peers ?? [], maxSealedBytes: 1 });
  await welcome;
  return { transport, session, identity };
}

/** Answers the session's last request of a type. */
function answer(transport: FakeTransport, type: string, make: (id: number) => ServerMessage) {
  const request = transport.sent.findLast((m) => m.type === type) as { id: number } | undefined;
  ok(request, `no ${type} request`);
  transport.push(make(request.id));
}

/** Answers the session's last key lookup with a peer's keys, online. */
async function answerKey(
  transport: FakeTransport,
  name: string,
  keys: Awaited<ReturnType<typeof exportPublicKeys>>,
) {
  answer(transport, "key", (id) => ({ type: "key-info", re: id, name, ...keys, online: true }));
  await settle();
}

Deno.test("ClientSession.register() sends hello.ephemeral only for --ephemeral", async () => {
  const plain = await registered();
  const hello = plain.transport.sent.find((m) => m.type === "hello")!;
  equal("ephemeral" in hello, false);
  const ephemeral = await registered({ ephemeral: true });
  const hello2 = ephemeral.transport.sent.find((m) => m.type === "hello");
  equal(hello2?.type === "hello" && hello2.ephemeral, true);
  plain.session.close();
  ephemeral.session.close();
});

Deno.test("ClientSession acks each segment on receipt and never waits for its sink", async () => {
  const { transport, session } = await registered();
  const written: number[] = [];
  const sink: MediaSink = {
    // A sink that never finishes a write: the session must not wait for it.
    write: (data) => {
      written.push(data.length);
      return new Promise<void>(() => {}) as unknown as void;
    },
    close: () => {},
  };
  const play = session.play("testcard", { quality: 240, sink: () => sink });
  await settle();
  answer(transport, "play", (id) => streamStartOf(id, 7));
  await play;
  transport.push(segmentOf(0, 300, { streamId: 7, epoch: 0 }));
  transport.push({ type: "media", streamId: 7, index: 0, data: new Uint8Array(200) });
  transport.push({ type: "media", streamId: 7, index: 0, data: new Uint8Array(100) });
  transport.push(segmentOf(1, 50, { streamId: 7, epoch: 0 }));
  transport.push({ type: "media", streamId: 7, index: 1, data: new Uint8Array(50) });
  // A ping behind the media is answered all the same.
  transport.push({ type: "ping", id: 3 });
  await settle();
  deepEqual(written, [200, 100, 50]);
  deepEqual(
    transport.sent.filter((m) => m.type === "seg-ack" || m.type === "pong"),
    [
      { type: "seg-ack", streamId: 7, epoch: 0, index: 0 },
      { type: "seg-ack", streamId: 7, epoch: 0, index: 1 },
      { type: "pong", id: 3 },
    ],
  );
  session.close();
});

Deno.test("ClientSession passes a jump to its sink and acks the new epoch's segments", async () => {
  const { transport, session } = await registered();
  const calls: string[] = [];
  const play = session.play("testcard", {
    quality: 240,
    position: 0,
    sink: () => ({
      write: (d) => void calls.push(`write ${d.length}`),
      close: (reason) => void calls.push(`close ${reason}`),
      segment: (s) => void calls.push(`segment ${s.epoch}/${s.index}`),
      seek: (s) => void calls.push(`seek ${s.epoch}/${s.index}`),
    }),
  });
  await settle();
  answer(transport, "play", (id) => streamStartOf(id, 7));
  await play;
  transport.push(segmentOf(0, 100, { streamId: 7, epoch: 0 }));
  transport.push({ type: "media", streamId: 7, index: 0, data: new Uint8Array(60) });
  const seeking = session.seek(6.5);
  await settle();
  equal(transport.sent.findLast((m) => m.type === "seek")?.type === "seek" && 6.5, 6.5);
  let seek: StreamSeekMessage | undefined;
  answer(transport, "seek", (id) =>
    seek = {
      type: "stream-seek",
      re: id,
      streamId: 7,
      epoch: 1,
      position: 6,
      index: 3,
      paused: false,
    });
  deepEqual(await seeking, seek);
  // The rest of the cut segment, had it come, belongs to no epoch; then epoch 1 starts.
  transport.push({ type: "media", streamId: 7, index: 0, data: new Uint8Array(40) });
  transport.push(segmentOf(3, 10, { streamId: 7, epoch: 1 }));
  transport.push({ type: "media", streamId: 7, index: 3, data: new Uint8Array(10) });
  transport.push({ type: "stream-end", streamId: 7, reason: "finished" });
  await settle();
  deepEqual(calls, [
    "segment 0/0",
    "write 60",
    "seek 1/3",
    "segment 1/3",
    "write 10",
    "close finished",
  ]);
  deepEqual(
    transport.sent.filter((m) => m.type === "seg-ack"),
    [{ type: "seg-ack", streamId: 7, epoch: 1, index: 3 }],
  );
  equal(session.stream, undefined);
  session.close();
});

Deno.test("ClientSession.setQuality() jumps only with a position; pause and resume are requests", async () => {
  const { transport, session } = await registered();
  const next = session.setQuality("auto");
  await settle();
  answer(transport, "quality", (id) => ({ type: "ok", re: id }));
  equal(await next, null);
  const now = session.setQuality(720, { position: 3.5 });
  await settle();
  const request = transport.sent.findLast((m) => m.type === "quality");
  deepEqual(request?.type === "quality" && [request.quality, request.position], [720, 3.5]);
  answer(transport, "quality", (id) => ({
    type: "stream-seek",
    re: id,
    streamId: 7,
    epoch: 1,
    position: 2,
    index: 1,
    paused: false,
  }));
  equal((await now)?.index, 1);
  const paused = session.pause();
  await settle();
  answer(transport, "pause", (id) => ({ type: "ok", re: id }));
  await paused;
  const resumed = session.resume();
  await settle();
  answer(transport, "resume", (id) => ({ type: "ok", re: id }));
  await resumed;
  deepEqual(transport.types().filter((t) => ["pause", "resume"].includes(t)), ["pause", "resume"]);
  session.close();
});

Deno.test("ClientSession looks a joining peer's key up only when it is a known peer, and says when it changed", async () => {
  const bob = await generateIdentity();
  const bobKeys = await exportPublicKeys(bob);
  const other = await importPeerKeys(await exportPublicKeys(await generateIdentity()));
  const known = new KnownPeers();
  // Met before with another key.
  known.check("bob", other.fingerprint);
  const changed: string[] = [];
  const { transport, session } = await registered({
    knownPeers: known,
    events: { keyChanged: (name) => void changed.push(name) },
  });
  transport.push({ type: "joined", name: "carol" });
  transport.push({ type: "joined", name: "bob" });
  await settle();
  const lookups = transport.sent.filter((m) => m.type === "key");
  deepEqual(lookups.map((m) => m.type === "key" && m.name), ["bob"], "no lookup for carol");
  await answerKey(transport, "bob", bobKeys);
  // WebCrypto checks the keys off the event loop: wait for it, however busy the machine.
  await until(() => changed.length > 0, { ms: 10_000, what: "the changed key is announced" });
  deepEqual(changed, ["bob"]);
  session.close();
});

Deno.test("ClientSession takes what arrives in the same read as its welcome: a joiner, a message", async () => {
  // A slow reader gets welcome and whatever followed it in one read; none of it may be lost.
  const bob = await generateIdentity();
  const bobKeys = await exportPublicKeys(bob);
  const alice = await generateIdentity();
  const messages: string[] = [];
  const joined: string[] = [];
  const { transport, session } = await greeted({
    events: {
      message: (m) => void messages.push(m.text),
      joined: (name) => void joined.push(name),
    },
  });
  const welcome = session.register("alice", alice);
  await until(() => transport.types().includes("hello"), { ms: 30_000, what: "the hello" });
  const body = await seal("right after your welcome", {
    from: "bob",
    to: "alice",
    identity: bob,
    recipient: await importPeerKeys(await exportPublicKeys(alice)),
  });
  transport.pushTogether(
    { type: "welcome", name: "alice", peers: ["bob"], maxSealedBytes: 96 * 1024 },
    { type: "joined", name: "carol" },
    { type: "deliver", rid: "r1", from: "bob", body },
  );
  await welcome;
  await settle();
  deepEqual(session.peers.names().toSorted(), ["bob", "carol"]);
  deepEqual(joined, ["carol"]);
  await answerKey(transport, "bob", bobKeys);
  await until(() => messages.length > 0, { ms: 10_000, what: "the message is opened" });
  deepEqual(messages, ["right after your welcome"]);
  const receipt = transport.sent.find((m) => m.type === "receipt");
  deepEqual(receipt, { type: "receipt", rid: "r1", ok: true });
  session.close();
});

Deno.test("ClientSession checks known peers already online at welcome", async () => {
  const known = new KnownPeers();
  known.check("bob", "0".repeat(64));
  const { transport, session } = await registered({ knownPeers: known, peers: ["bob", "dave"] });
  await settle();
  deepEqual(transport.sent.filter((m) => m.type === "key").map((m) => m.type === "key" && m.name), [
    "bob",
  ]);
  session.close();
});

Deno.test("ClientSession.open() works over any transport and closes it on a bad greeting", async () => {
  const transport = new FakeTransport();
  transport.push({ type: "ping", id: 1 });
  let failed = false;
  try {
    await ClientSession.open(transport, { timeoutMs: 1000 });
  } catch (error) {
    failed = /unexpected "ping" first/.test((error as Error).message);
  }
  ok(failed);
  ok(transport.closed);
});

Deno.test("ClientSession pings a silent server, then gives up on one that stays silent", async () => {
  // On a fake clock: signing the hello on a busy machine takes no time out of the silence.
  const clock = new FakeClock();
  let closed: { expected: boolean; message: string } | undefined;
  const { transport } = await registered({
    limits: { keepaliveMs: 60, silenceMs: 600 },
    clock,
    events: { closed: (info) => closed = info },
  });
  const pings = () => transport.types().filter((t) => t === "ping").length;
  clock.advance(60);
  await settle();
  equal(pings(), 0, "silent for exactly keepaliveMs: no ping yet");
  clock.advance(40);
  await settle();
  equal(pings(), 1);
  clock.advance(200);
  await settle();
  equal(pings(), 1, "one ping per silence");
  // An answer resets the silence: the next silence is pinged again.
  transport.push({ type: "pong", id: 1 });
  await settle();
  clock.advance(100);
  await settle();
  equal(pings(), 2);
  equal(closed === undefined, true, "not given up before silenceMs");
  clock.advance(600);
  await until(() => closed !== undefined, { ms: 10_000, what: "the session to give up" });
  ok(closed !== undefined);
  equal(closed.expected, false);
  equal(closed.message, "the server sent nothing for 1 s");
  equal(transport.closed, true);
});

Deno.test("ClientSession.register() on a lost connection rejects at once with UNAVAILABLE", async () => {
  const { session } = await greeted({});
  session.close();
  await session.done;
  const identity = await generateIdentity();
  await rejects(session.register("alice", identity), (error: Error & { code?: string }) => {
    equal(error.code, "UNAVAILABLE");
    ok(error.message.startsWith("Cannot register: not connected to the server"), error.message);
    return true;
  });
});

Deno.test("ClientSession hands on a later queued of a room message, then that member's receipt, as the room message's", async () => {
  const queued: [number, string, number][] = [];
  const receipts: [number, string][] = [];
  const notices: string[] = [];
  const { transport, session } = await registered({
    events: {
      roomQueued: (re, to, qseq) => void queued.push([re, to, qseq]),
      roomDelivered: (re, to) => void receipts.push([re, to]),
      queueNotice: (kind, to) => void notices.push(`${kind} ${to}`),
    },
  });
  // In a cluster room-sent listed bob under relayed (request 41, answered already); he was
  // offline on his node, so a queued with the room-send's id follows, then his receipt.
  transport.push({ type: "queued", re: 41, to: "bob", qseq: 5 });
  transport.push({ type: "delivered", re: 0, to: "bob", qseq: 5 });
  // A 1:1 message's receipt after it stays a queue notice.
  transport.push({ type: "delivered", re: 0, to: "bob", qseq: 6 });
  await until(() => notices.length === 1, { ms: 10_000, what: "the 1:1 receipt" });
  deepEqual(queued, [[41, "bob", 5]]);
  deepEqual(receipts, [[41, "bob"]]);
  deepEqual(notices, ["delivered bob"]);
  session.close();
});

Deno.test("ClientSession hands on a delivered that answers no pending request as a room receipt, and says when rooms are listed", async () => {
  const receipts: [number, string][] = [];
  let listed = 0;
  const { transport, session } = await registered({
    events: {
      roomDelivered: (re, to) => void receipts.push([re, to]),
      roomsListed: () => void listed++,
    },
  });
  transport.push({ type: "rooms", rooms: [] });
  // room-sent answered request 41 already; each member's receipt follows with its id.
  transport.push({ type: "delivered", re: 41, to: "bob" });
  transport.push({ type: "delivered", re: 41, to: "carol" });
  await until(() => receipts.length === 2, { ms: 10_000, what: "the receipts" });
  deepEqual(receipts, [[41, "bob"], [41, "carol"]]);
  equal(listed, 1);
  session.close();
});

Deno.test("ClientSession.watch.time() is answered by time-is; room-playback, pushed or answering, reaches roomPlayback", async () => {
  const playbacks: string[] = [];
  const { transport, session } = await registered({
    events: { roomPlayback: (m) => void playbacks.push(`${m.action} ${m.epoch} ${m.re ?? "-"}`) },
  });
  const time = session.watch.time();
  await settle();
  answer(transport, "time", (id) => ({ type: "time-is", re: id, server: 1234.5 }));
  equal(await time, 1234.5);
  const room = "AAAAAAAAAAAAAAAAAAAAAA";
  const base = { type: "room-playback", room, anchor: 1, position: 2 } as const;
  transport.push({ ...base, action: "state", epoch: 1, title: "film", rate: 1 });
  transport.push({ ...base, action: "pause", by: "bob", epoch: 2, title: "film", rate: 0, re: 77 });
  await until(() => playbacks.length === 2, { ms: 10_000, what: "the playbacks" });
  deepEqual(playbacks, ["state 1 -", "pause 2 77"]);
  session.close();
});
