import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { MAX_LISTED_NAMES } from "./bounds.ts";
import { type Frame, FrameDecoder, FrameType, MAX_FRAME_BYTES } from "./frame.ts";
import {
  decodeMessage,
  encodeMediaFrames,
  encodeMessage,
  isClientMessage,
  isServerMessage,
  MAX_SEALED_BYTES,
  MEDIA_HEADER_BYTES,
  type Message,
  MESSAGE_TYPES,
  type MessageType,
} from "./messages.ts";
import { byteCuts, chunksAt, concatBytes, prng, randomCuts } from "../tests/_util.ts";

/** A JSON array of `count` names. */
function names(count: number): string {
  return JSON.stringify(Array.from({ length: count }, () => "n"));
}

/** Feeds `bytes` cut at `cuts` through a FrameDecoder and decodes every message. */
function decodeStream(bytes: Uint8Array, cuts: readonly number[]): Message[] {
  const decoder = new FrameDecoder();
  const messages: Message[] = [];
  for (const chunk of chunksAt(bytes, cuts)) {
    for (const frame of decoder.push(chunk)) messages.push(decodeMessage(frame));
  }
  equal(decoder.pendingBytes, 0);
  return messages;
}

const text = new TextEncoder();

function control(json: string): Frame {
  return { type: FrameType.Control, payload: new Uint8Array(text.encode(json)) };
}

function withBody(json: string, body: Uint8Array, jsonLength?: number): Frame {
  const bytes = text.encode(json);
  const payload = new Uint8Array(4 + bytes.length + body.length);
  new DataView(payload.buffer).setUint32(0, jsonLength ?? bytes.length);
  payload.set(bytes, 4);
  payload.set(body, 4 + bytes.length);
  return { type: FrameType.ControlWithBody, payload };
}

const KEY = "MCowBQYDK2VwAyEA" + "A".repeat(43) + "=";
const ROOM = "AAAAAAAAAAAAAAAAAAAA-_";

/** At least one valid sample per message type; optional fields both present and absent. */
const SAMPLES: { [K in MessageType]: Extract<Message, { type: K }>[] } = {
  hello: [{ type: "hello", version: 1, name: "alice", encKey: KEY, signKey: KEY, proof: "c2ln" }],
  list: [{ type: "list", id: 0 }, { type: "list", id: 0xffff_ffff }],
  key: [{ type: "key", id: 7, name: "bob" }],
  send: [
    { type: "send", id: 1, to: "bob", body: new Uint8Array([0, 1, 0xfe, 0xff]) },
    { type: "send", id: 2, to: "bob", body: new Uint8Array(0) },
  ],
  receipt: [
    { type: "receipt", rid: "AAAAAAAAAAAAAAAA", ok: true },
    { type: "receipt", rid: "x-_9", ok: false, code: "BAD_SIGNATURE" },
  ],
  play: [
    { type: "play", id: 5, title: "big_buck_bunny", quality: "auto" },
    { type: "play", id: 6, title: "東京", quality: 720 },
  ],
  stop: [{ type: "stop", id: 8 }],
  quality: [{ type: "quality", id: 9, quality: 240 }, { type: "quality", id: 9, quality: "auto" }],
  "seg-ack": [{ type: "seg-ack", streamId: 1, epoch: 0, index: 42 }],
  pause: [{ type: "pause", id: 14 }],
  resume: [{ type: "resume", id: 15 }],
  seek: [{ type: "seek", id: 16, position: 0 }, { type: "seek", id: 17, position: 90.5 }],
  ping: [{ type: "ping", id: 10 }],
  pong: [{ type: "pong", id: 10 }],
  quit: [{ type: "quit" }],
  "server-hello": [{
    type: "server-hello",
    version: 1,
    server: "peerstream 0.1.0",
    challenge: "AAAA",
  }],
  welcome: [
    { type: "welcome", name: "alice", peers: [], maxSealedBytes: MAX_SEALED_BYTES },
    { type: "welcome", name: "zoë", peers: ["bob", "Łukasz"], maxSealedBytes: 1 },
  ],
  joined: [{ type: "joined", name: "carol" }],
  "peer-state": [
    { type: "peer-state", names: ["bob"], state: "unreachable" },
    { type: "peer-state", names: [], state: "reachable" },
  ],
  left: [
    { type: "left", name: "carol", reason: "quit" },
    { type: "left", name: "carol", reason: "kicked" },
  ],
  "key-info": [
    { type: "key-info", re: 7, name: "bob", encKey: KEY, signKey: KEY, online: false },
  ],
  videos: [
    { type: "videos", re: 0, videos: [] },
    {
      type: "videos",
      re: 1,
      videos: [
        {
          title: "cat",
          heights: [240, 480, 720],
          duration: 12.5,
          hasAudio: true,
          state: "ready",
          progress: 1,
        },
        {
          title: "dog",
          heights: [],
          duration: 0,
          hasAudio: false,
          state: "preparing",
          progress: 0.3,
        },
      ],
    },
  ],
  deliver: [
    { type: "deliver", rid: "r1", from: "alice", body: new Uint8Array([0x7b, 0x7d, 0]) },
    { type: "deliver", rid: "q7", from: "alice", body: new Uint8Array([1]), queued: true, qseq: 7 },
    { type: "deliver", rid: "r2", from: "alice", body: new Uint8Array([2]), room: ROOM },
  ],
  delivered: [
    { type: "delivered", re: 1, to: "bob" },
    { type: "delivered", re: 1, to: "bob", qseq: 0xffff_ffff },
  ],
  queued: [{ type: "queued", re: 3, to: "bob", qseq: 1 }],
  expired: [{ type: "expired", to: "bob", qseq: 2 }],
  ok: [{ type: "ok", re: 12 }],
  error: [
    { type: "error", code: "SHUTTING_DOWN", message: "Server is shutting down" },
    { type: "error", re: 13, code: "UNKNOWN_PEER", message: 'Cannot send to "x": no such peer' },
  ],
  "stream-start": [
    {
      type: "stream-start",
      re: 5,
      streamId: 1,
      title: "cat",
      duration: 60,
      codec: "h264",
      container: "mpegts",
      fps: 29.97,
      hasAudio: true,
      renditions: [
        { height: 240, width: 426, bitrate: 400_000 },
        { height: 720, width: 1280, bitrate: 2_500_000 },
      ],
      quality: "auto",
      position: 0,
      epoch: 0,
    },
    {
      type: "stream-start",
      re: 6,
      streamId: 2,
      title: "mjpeg",
      duration: 1,
      codec: "mjpeg",
      container: "mjpeg",
      fps: 10,
      hasAudio: false,
      renditions: [],
      quality: 480,
      position: 30,
      epoch: 2,
    },
  ],
  segment: [
    {
      type: "segment",
      streamId: 1,
      epoch: 0,
      index: 0,
      height: 240,
      bitrate: 400_000,
      start: 0,
      duration: 2,
      bytes: 100_000,
    },
  ],
  "stream-seek": [
    { type: "stream-seek", re: 16, streamId: 1, epoch: 1, position: 88, index: 44, paused: false },
  ],
  "stream-end": [
    { type: "stream-end", streamId: 1, reason: "finished" },
    { type: "stream-end", streamId: 1, reason: "error", re: 5, message: "ffmpeg exited" },
  ],
  shutdown: [{ type: "shutdown", message: "bye" }],
  "room-create": [{ type: "room-create", id: 1, name: "club", entry: "cGVlcg==" }],
  "room-change": [{ type: "room-change", id: 2, room: ROOM, entry: "cGVlcg==" }],
  "room-chain": [{ type: "room-chain", id: 3, room: ROOM, from: 0 }],
  "room-entries": [
    { type: "room-entries", re: 3, room: ROOM, entries: ["cGVlcg==", "cGVlcnM="] },
    { type: "room-entries", room: ROOM, entries: [] },
  ],
  "room-sent": [
    { type: "room-sent", re: 4, room: ROOM, relayed: [], queued: [], refused: [] },
    {
      type: "room-sent",
      re: 5,
      room: ROOM,
      relayed: ["bob"],
      queued: [{ name: "carol", qseq: 7 }],
      refused: [{ name: "dave", code: "QUEUE_FULL", message: 'Cannot queue for "dave"' }],
    },
  ],
  rooms: [
    { type: "rooms", rooms: [] },
    { type: "rooms", rooms: [{ room: ROOM, name: "club", seq: 4, head: "A".repeat(43) + "=" }] },
  ],
  "room-send": [{ type: "room-send", id: 4, room: ROOM, body: new Uint8Array([3, 2]) }],
  time: [{ type: "time", id: 9 }],
  "time-is": [{ type: "time-is", re: 9, server: 1_765_000_000_123.25 }],
  "room-control": [
    { type: "room-control", id: 10, room: ROOM, action: "play", title: "The Movie", position: 0 },
    { type: "room-control", id: 11, room: ROOM, action: "pause" },
    { type: "room-control", id: 12, room: ROOM, action: "seek", position: 61.5 },
  ],
  "room-playback": [
    {
      type: "room-playback",
      re: 10,
      room: ROOM,
      action: "play",
      by: "alice",
      title: "The Movie",
      epoch: 1,
      anchor: 1_765_000_000_000,
      position: 0,
      rate: 1,
    },
    {
      type: "room-playback",
      room: ROOM,
      action: "stop",
      epoch: 7,
      anchor: 1_765_000_000_500.5,
      position: 12.25,
      rate: 0,
    },
  ],
  media: [
    { type: "media", streamId: 1, index: 0, data: new Uint8Array([0x47, 0, 0x11, 0x10]) },
    { type: "media", streamId: 0xffff_ffff, index: 0xffff_ffff, data: new Uint8Array(0) },
  ],
};

const ALL: Message[] = Object.values(SAMPLES).flat();

Deno.test("MESSAGE_TYPES lists exactly the types that have samples here", () => {
  deepEqual([...MESSAGE_TYPES].sort(), Object.keys(SAMPLES).sort());
});

Deno.test("decodeMessage() returns the original when each message type is encoded alone", async (t) => {
  for (const message of ALL) {
    await t.step(`${message.type} ${JSON.stringify(Object.keys(message))}`, () => {
      const frames = new FrameDecoder().push(encodeMessage(message));
      equal(frames.length, 1);
      deepEqual(decodeMessage(frames[0]), message);
    });
  }
});

Deno.test("decodeMessage() returns every message when the stream is fed whole, byte by byte or cut randomly", async (t) => {
  const stream = concatBytes(ALL.map(encodeMessage));
  await t.step("whole", () => deepEqual(decodeStream(stream, []), ALL));
  await t.step("one byte at a time", () => {
    deepEqual(decodeStream(stream, byteCuts(stream.length)), ALL);
  });
  await t.step("random cuts, 300 seeded iterations", () => {
    const random = prng(20240601);
    for (let i = 0; i < 300; i++) {
      const cuts = randomCuts(stream.length, random, { min: 1, max: 20 });
      deepEqual(decodeStream(stream, cuts), ALL, `cuts ${JSON.stringify(cuts)}`);
    }
  });
});

Deno.test("encodeMessage() writes hand-written byte vectors", async (t) => {
  await t.step("quit as a control frame", () => {
    const json = [...text.encode('{"type":"quit"}')];
    deepEqual([...encodeMessage({ type: "quit" })], [0, 0, 0, 15, 1, ...json]);
  });
  await t.step("send as a body frame: u32 JSON length, JSON, body", () => {
    const json = [...text.encode('{"type":"send","id":1,"to":"b"}')];
    equal(json.length, 31);
    deepEqual(
      [...encodeMessage({ type: "send", id: 1, to: "b", body: new Uint8Array([0xee, 0xff]) })],
      [0, 0, 0, 37, 2, 0, 0, 0, 31, ...json, 0xee, 0xff],
    );
  });
  await t.step("media as stream id, index, data", () => {
    deepEqual(
      [...encodeMessage({ type: "media", streamId: 1, index: 2, data: new Uint8Array([0xaa]) })],
      [0, 0, 0, 9, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa],
    );
  });
});

Deno.test("decodeMessage() decodes a hand-written media frame of exactly its 8-byte header", () => {
  deepEqual(
    decodeMessage({ type: FrameType.Media, payload: new Uint8Array([0, 0, 1, 0, 0, 0, 0, 3]) }),
    { type: "media", streamId: 256, index: 3, data: new Uint8Array(0) },
  );
});

Deno.test("encodeMessage() accepts media of exactly MAX_FRAME_BYTES - 8 bytes", () => {
  const data = new Uint8Array(MAX_FRAME_BYTES - MEDIA_HEADER_BYTES).fill(0x47);
  const [frame] = new FrameDecoder().push(
    encodeMessage({ type: "media", streamId: 1, index: 1, data }),
  );
  deepEqual(decodeMessage(frame), { type: "media", streamId: 1, index: 1, data });
});

Deno.test("encodeMessage() throws RangeError when a frame would exceed MAX_FRAME_BYTES", async (t) => {
  await t.step("media of MAX_FRAME_BYTES - 7 bytes", () => {
    const data = new Uint8Array(MAX_FRAME_BYTES - MEDIA_HEADER_BYTES + 1);
    throws(
      () => encodeMessage({ type: "media", streamId: 1, index: 1, data }),
      (error: unknown) => error instanceof RangeError && error.message.includes("limit"),
    );
  });
  await t.step("send whose body fills the frame", () => {
    const body = new Uint8Array(MAX_FRAME_BYTES);
    throws(
      () => encodeMessage({ type: "send", id: 1, to: "bob", body }),
      (error: unknown) => error instanceof RangeError && error.message.includes("limit"),
    );
  });
  await t.step("shutdown whose message fills the frame", () => {
    const message = "x".repeat(MAX_FRAME_BYTES);
    throws(
      () => encodeMessage({ type: "shutdown", message }),
      (error: unknown) => error instanceof RangeError && error.message.includes("limit"),
    );
  });
});

Deno.test("decodeMessage() leaves a body over MAX_SEALED_BYTES to the server's check", () => {
  const body = new Uint8Array(MAX_SEALED_BYTES + 1).fill(2);
  const message = decodeMessage(
    new FrameDecoder().push(encodeMessage({ type: "send", id: 1, to: "bob", body }))[0],
  );
  equal(message.type === "send" && message.body.length, MAX_SEALED_BYTES + 1);
});

Deno.test("decodeMessage() accepts a body of exactly MAX_SEALED_BYTES", () => {
  const body = new Uint8Array(MAX_SEALED_BYTES).fill(1);
  const message = decodeMessage(withBody('{"type":"send","id":1,"to":"bob"}', body));
  deepEqual(message, { type: "send", id: 1, to: "bob", body });
});

Deno.test("decodeMessage() accepts values exactly at each field limit", async (t) => {
  const table: { name: string; frame: Frame }[] = [
    {
      name: "name of 64 characters",
      frame: control(`{"type":"joined","name":"${"n".repeat(64)}"}`),
    },
    { name: "id of 2^32 - 1", frame: control('{"type":"list","id":4294967295}') },
    { name: "quality 0", frame: control('{"type":"quality","id":1,"quality":0}') },
    { name: "quality 10000", frame: control('{"type":"quality","id":1,"quality":10000}') },
    {
      name: "error message of 2048 characters",
      frame: control(`{"type":"error","code":"INTERNAL","message":"${"m".repeat(2048)}"}`),
    },
    {
      name: "welcome listing MAX_LISTED_NAMES peers",
      frame: control(
        `{"type":"welcome","name":"a","peers":${names(MAX_LISTED_NAMES)},"maxSealedBytes":1}`,
      ),
    },
    {
      name: "peer-state listing MAX_LISTED_NAMES names",
      frame: control(
        `{"type":"peer-state","names":${names(MAX_LISTED_NAMES)},"state":"reachable"}`,
      ),
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      decodeMessage(row.frame);
    });
  }
});

type ErrorClass = typeof TypeError | typeof RangeError | typeof SyntaxError;

const MALFORMED: { name: string; frame: Frame; error: ErrorClass; fragment: string }[] = [
  // frame layer
  ...[0, 4, 255].map((type) => ({
    name: `unknown frame type ${type}`,
    frame: { ...control('{"type":"quit"}'), type },
    error: TypeError,
    fragment: `unknown frame type ${type}`,
  })),
  {
    name: "body frame shorter than its 4-byte JSON length",
    frame: { type: FrameType.ControlWithBody, payload: new Uint8Array([0, 0, 0]) },
    error: RangeError,
    fragment: "shorter than 4 bytes",
  },
  {
    name: "JSON length in a body frame exceeding the frame",
    frame: withBody('{"type":"send","id":1,"to":"b"}', new Uint8Array(2), 34),
    error: RangeError,
    fragment: "JSON length 34 exceeds the frame",
  },
  {
    name: "JSON length 0xffffffff in a body frame",
    frame: withBody("", new Uint8Array(0), 0xffff_ffff),
    error: RangeError,
    fragment: "exceeds the frame",
  },
  ...[0, 7].map((length) => ({
    name: `media frame of ${length} bytes, shorter than its 8-byte header`,
    frame: { type: FrameType.Media, payload: new Uint8Array(length) },
    error: RangeError,
    fragment: "shorter than its header",
  })),
  // watching together
  {
    name: "room-control with an unknown action",
    frame: control(`{"type":"room-control","id":1,"room":"${ROOM}","action":"rewind"}`),
    error: TypeError,
    fragment: `"action": expected one of "play"`,
  },
  {
    name: "room-playback with rate 2",
    frame: control(
      `{"type":"room-playback","room":"${ROOM}","action":"seek","epoch":1,"anchor":5,"position":1,"rate":2}`,
    ),
    error: TypeError,
    fragment: `"rate": expected one of 0, 1`,
  },
  {
    name: "time-is with a negative server time",
    frame: control('{"type":"time-is","re":1,"server":-5}'),
    error: TypeError,
    fragment: `"server": expected a non-negative number`,
  },
  // UTF-8 and JSON
  {
    name: "bad UTF-8",
    frame: { type: FrameType.Control, payload: new Uint8Array([0xff, 0xfe]) },
    error: SyntaxError,
    fragment: "not UTF-8 JSON",
  },
  {
    name: "truncated UTF-8 sequence inside a JSON string",
    frame: {
      type: FrameType.Control,
      payload: concatBytes(
        [text.encode('{"type":"joined","name":"'), [0xc3], text.encode('"}')].map(
          (p) => new Uint8Array(p),
        ),
      ),
    },
    error: SyntaxError,
    fragment: "not UTF-8 JSON",
  },
  { name: "empty payload", frame: control(""), error: SyntaxError, fragment: "not UTF-8 JSON" },
  { name: "bad JSON", frame: control('{"type":"list",'), error: SyntaxError, fragment: "JSON" },
  {
    name: "bad JSON in a body frame",
    frame: withBody("{send}", new Uint8Array(1)),
    error: SyntaxError,
    fragment: "JSON",
  },
  ...["[]", "[1]", "1", "null", '"list"', "true"].map((json) => ({
    name: `JSON that is ${json}`,
    frame: control(json),
    error: TypeError,
    fragment: "expected a JSON object",
  })),
  // message type
  ...['"nope"', '"media"', '"constructor"', '"toString"', "5", "null"].map((type) => ({
    name: `unknown message type ${type}`,
    frame: control(`{"type":${type}}`),
    error: TypeError,
    fragment: "unknown type",
  })),
  {
    name: "missing message type",
    frame: control('{"id":1}'),
    error: TypeError,
    fragment: "unknown type undefined",
  },
  // missing fields
  {
    name: "missing id",
    frame: control('{"type":"list"}'),
    error: TypeError,
    fragment: 'Missing field "id"',
  },
  {
    name: "missing reason",
    frame: control('{"type":"left","name":"bob"}'),
    error: TypeError,
    fragment: 'Missing field "reason"',
  },
  {
    name: "missing nested field",
    frame: control(
      '{"type":"videos","re":1,"videos":[{"heights":[],"duration":1,"hasAudio":true,"state":"ready","progress":1}]}',
    ),
    error: TypeError,
    fragment: 'Missing field "videos[0].title"',
  },
  {
    name: "null in place of a required field",
    frame: control('{"type":"list","id":null}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  // wrong types
  {
    name: "id as a string",
    frame: control('{"type":"list","id":"1"}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  {
    name: "name as a number",
    frame: control('{"type":"joined","name":5}'),
    error: TypeError,
    fragment: '"name": expected a string',
  },
  {
    name: "ok as a string",
    frame: control('{"type":"receipt","rid":"r1","ok":"yes"}'),
    error: TypeError,
    fragment: '"ok": expected a boolean',
  },
  {
    name: "peers as a string",
    frame: control('{"type":"welcome","name":"a","peers":"b","maxSealedBytes":1}'),
    error: TypeError,
    fragment: '"peers": expected an array',
  },
  {
    name: "peer name as a number",
    frame: control('{"type":"welcome","name":"a","peers":["b",2],"maxSealedBytes":1}'),
    error: TypeError,
    fragment: '"peers[1]": expected a string',
  },
  {
    name: "rendition as a number",
    frame: control(
      '{"type":"stream-start","re":1,"streamId":1,"title":"t","duration":1,"codec":"h264","container":"mpegts","fps":1,"hasAudio":true,"renditions":[5],"quality":"auto"}',
    ),
    error: TypeError,
    fragment: '"renditions[0]": expected an object',
  },
  {
    name: "leave reason outside the enum",
    frame: control('{"type":"left","name":"bob","reason":"bored"}'),
    error: TypeError,
    fragment: '"reason": expected one of "quit"',
  },
  {
    name: "negative duration",
    frame: control(
      '{"type":"segment","streamId":1,"epoch":0,"index":0,"height":1,"bitrate":1,"start":0,"duration":-1,"bytes":1}',
    ),
    error: TypeError,
    fragment: '"duration": expected a non-negative number',
  },
  // extra fields
  {
    name: "extra field",
    frame: control('{"type":"list","id":1,"extra":true}'),
    error: TypeError,
    fragment: 'Invalid field "extra": not part of this message',
  },
  ...["constructor", "toString", "__proto__", "hasOwnProperty"].map((key) => ({
    name: `extra field named like an Object.prototype member, "${key}"`,
    frame: control(`{"type":"list","id":1,"${key}":1}`),
    error: TypeError,
    fragment: `Invalid field "${key}": not part of this message`,
  })),
  {
    name: "extra nested field",
    frame: control(
      '{"type":"videos","re":1,"videos":[{"title":"t","heights":[],"duration":1,"hasAudio":true,"state":"ready","progress":1,"x":1}]}',
    ),
    error: TypeError,
    fragment: '"videos[0].x": not part of this message',
  },
  {
    name: "body as a JSON field",
    frame: withBody('{"type":"deliver","rid":1,"from":"a","body":"AA=="}', new Uint8Array(1)),
    error: TypeError,
    fragment: '"body": not part of this message',
  },
  // limits
  {
    name: "name of 65 characters",
    frame: control(`{"type":"joined","name":"${"n".repeat(65)}"}`),
    error: RangeError,
    fragment: '"name": longer than 64 characters',
  },
  {
    name: "error message of 2049 characters",
    frame: control(`{"type":"error","code":"INTERNAL","message":"${"m".repeat(2049)}"}`),
    error: RangeError,
    fragment: '"message": longer than 2048 characters',
  },
  {
    name: "17 renditions",
    frame: control(
      `{"type":"stream-start","re":1,"streamId":1,"title":"t","duration":1,"codec":"h264","container":"mpegts","fps":1,"hasAudio":true,"renditions":[${
        new Array(17).fill('{"height":1,"width":1,"bitrate":1}').join(",")
      }],"quality":"auto"}`,
    ),
    error: RangeError,
    fragment: '"renditions": more than 16 items',
  },
  {
    name: "welcome listing MAX_LISTED_NAMES + 1 peers",
    frame: control(
      `{"type":"welcome","name":"a","peers":${names(MAX_LISTED_NAMES + 1)},"maxSealedBytes":1}`,
    ),
    error: RangeError,
    fragment: `"peers": more than ${MAX_LISTED_NAMES} items`,
  },
  {
    name: "peer-state listing MAX_LISTED_NAMES + 1 names",
    frame: control(
      `{"type":"peer-state","names":${names(MAX_LISTED_NAMES + 1)},"state":"reachable"}`,
    ),
    error: RangeError,
    fragment: `"names": more than ${MAX_LISTED_NAMES} items`,
  },
  {
    name: "negative id",
    frame: control('{"type":"ping","id":-1}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  {
    name: "fractional id",
    frame: control('{"type":"ping","id":1.5}'),
    error: TypeError,
    fragment: '"id": expected a non-negative integer',
  },
  {
    name: "id of 2^32",
    frame: control('{"type":"ping","id":4294967296}'),
    error: RangeError,
    fragment: '"id": larger than 4294967295',
  },
  // bodies
  {
    name: "body on a control type",
    frame: withBody('{"type":"list","id":1}', new Uint8Array(1)),
    error: TypeError,
    fragment: '"list" cannot have a binary body',
  },
  {
    name: "empty body on a control type",
    frame: withBody('{"type":"quit"}', new Uint8Array(0)),
    error: TypeError,
    fragment: '"quit" cannot have a binary body',
  },
  {
    name: "missing body on send",
    frame: control('{"type":"send","id":1,"to":"bob"}'),
    error: TypeError,
    fragment: '"send" needs a binary body',
  },
  {
    name: "missing body on deliver",
    frame: control('{"type":"deliver","rid":1,"from":"bob"}'),
    error: TypeError,
    fragment: '"deliver" needs a binary body',
  },
  // error codes
  {
    name: "unknown error code",
    frame: control('{"type":"error","code":"NOPE","message":"m"}'),
    error: TypeError,
    fragment: '"code": unknown error code',
  },
  {
    name: "lower-case error code",
    frame: control('{"type":"error","code":"internal","message":"m"}'),
    error: TypeError,
    fragment: '"code": unknown error code',
  },
  {
    name: "unknown error code in a receipt",
    frame: control('{"type":"receipt","rid":"r1","ok":false,"code":42}'),
    error: TypeError,
    fragment: '"code": unknown error code',
  },
  // quality
  ...['"best"', '"AUTO"', "-1", "1.5", "true"].map((quality) => ({
    name: `quality ${quality}`,
    frame: control(`{"type":"play","id":1,"title":"t","quality":${quality}}`),
    error: TypeError,
    fragment: '"quality": expected a non-negative integer',
  })),
  {
    name: "quality 10001",
    frame: control('{"type":"quality","id":1,"quality":10001}'),
    error: RangeError,
    fragment: '"quality": larger than 10000',
  },
];

Deno.test("decodeMessage() throws the right error class and message when the frame is malformed", async (t) => {
  for (const row of MALFORMED) {
    await t.step(row.name, () => {
      throws(
        () => decodeMessage(row.frame),
        (error: unknown) => {
          if (!(error instanceof row.error) || error.constructor !== row.error) {
            throw new Error(`expected ${row.error.name}, got ${String(error)}`);
          }
          if (!error.message.includes(row.fragment)) {
            throw new Error(`expected "${row.fragment}" in "${error.message}"`);
          }
          return true;
        },
      );
    });
  }
});

Deno.test("decodeMessage() names at most 64 characters of a hostile field name or type, escaped", async (t) => {
  const huge = "k".repeat(1024 * 1024 - 64);
  const table: { name: string; frame: Frame; fragment: string }[] = [
    {
      name: "a field name of almost 1 MiB",
      frame: control(`{"type":"list","id":1,"${huge}":1}`),
      fragment: `Invalid field "${"k".repeat(64)}"…(+${
        huge.length - 64
      }): not part of this message`,
    },
    {
      name: "a type of almost 1 MiB",
      frame: control(`{"type":"${huge}"}`),
      fragment: `unknown type "${"k".repeat(64)}"…(+${huge.length - 64})`,
    },
    {
      name: "a field name with an escape sequence and a line break",
      frame: control('{"type":"list","id":1,"\\u001b[2J\\njoin #1":1}'),
      fragment: 'Invalid field "\\x1b[2J\\njoin #1": not part of this message',
    },
    {
      name: "a nested field name of 100 characters",
      frame: control(
        `{"type":"videos","re":1,"videos":[{"title":"t","heights":[],"duration":1,"hasAudio":true,"state":"ready","progress":1,"${
          "x".repeat(100)
        }":1}]}`,
      ),
      fragment: `"videos[0].${"x".repeat(54)}"…(+46): not part of this message`,
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      throws(
        () => decodeMessage(row.frame),
        (error: unknown) => {
          ok(error instanceof TypeError, String(error));
          ok(error.message.length < 200, `${error.message.length} characters`);
          // deno-lint-ignore no-control-regex -- no control may reach a log or a terminal
          ok(!/[\u0000-\u001f]/.test(error.message), JSON.stringify(error.message));
          ok(error.message.includes(row.fragment), `expected ${row.fragment} in ${error.message}`);
          return true;
        },
      );
    });
  }
});

Deno.test("decodeMessage() keeps the cause when the JSON does not parse", () => {
  throws(
    () => decodeMessage(control("{")),
    (error: unknown) => error instanceof SyntaxError && error.cause instanceof SyntaxError,
  );
});

Deno.test("isClientMessage() and isServerMessage() classify every message type", async (t) => {
  const both = new Set<MessageType>(["ping", "pong"]);
  const client = new Set<MessageType>([
    "hello",
    "list",
    "key",
    "send",
    "receipt",
    "play",
    "stop",
    "quality",
    "pause",
    "resume",
    "seek",
    "seg-ack",
    "quit",
    "room-create",
    "room-change",
    "room-chain",
    "room-send",
    "time",
    "room-control",
  ]);
  for (const message of ALL) {
    await t.step(message.type, () => {
      const isBoth = both.has(message.type);
      equal(isClientMessage(message), isBoth || client.has(message.type));
      equal(isServerMessage(message), isBoth || !client.has(message.type));
    });
  }
});

Deno.test("encodeMediaFrames() cuts media into frames of at most chunkBytes, at the boundaries", () => {
  const chunk = 100;
  for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 1]) {
    const data = new Uint8Array(size).map((_, i) => i % 251);
    const bytes = encodeMediaFrames(7, 3, data, { chunkBytes: chunk });
    const frames = Math.ceil(size / chunk);
    equal(bytes.length, frames * (5 + MEDIA_HEADER_BYTES) + size, `size ${size}`);
    // Decoded one byte at a time, or in one piece: the same frames, each as encodeMessage makes it.
    for (const cuts of [[], byteCuts(bytes.length)]) {
      const messages = decodeStream(bytes, cuts);
      equal(messages.length, frames, `size ${size}`);
      const pieces = messages.map((m) => m.type === "media" ? m : null);
      ok(pieces.every((m) => m !== null && m.streamId === 7 && m.index === 3));
      ok(pieces.every((m) => m!.data.length <= chunk && m!.data.length > 0));
      deepEqual(concatBytes(pieces.map((m) => m!.data)), data);
    }
    if (size > 0) {
      const first = data.subarray(0, chunk);
      deepEqual(
        bytes.subarray(0, 5 + MEDIA_HEADER_BYTES + first.length),
        encodeMessage({ type: "media", streamId: 7, index: 3, data: first }),
      );
    }
  }
});

Deno.test("encodeMediaFrames() defaults to 64 KiB frames and refuses a chunk size out of range", () => {
  const bytes = encodeMediaFrames(1, 0, new Uint8Array(64 * 1024 + 1));
  equal(bytes.length, 2 * (5 + MEDIA_HEADER_BYTES) + 64 * 1024 + 1);
  for (const chunkBytes of [0, 1.5, MAX_FRAME_BYTES - MEDIA_HEADER_BYTES + 1]) {
    throws(
      () => encodeMediaFrames(1, 0, new Uint8Array(10), { chunkBytes }),
      (error: unknown) => error instanceof RangeError && error.message.includes("chunk"),
    );
  }
  equal(
    encodeMediaFrames(1, 0, new Uint8Array(10), {
      chunkBytes: MAX_FRAME_BYTES - MEDIA_HEADER_BYTES,
    }).length,
    5 + MEDIA_HEADER_BYTES + 10,
  );
});
