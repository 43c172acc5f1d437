/**
 * The message codec (`protocol/messages.ts`): every message type round-trips alone and in a stream
 * fed whole, byte by byte or cut randomly; hand-written byte vectors; sizes exactly at and past
 * each limit; client/server classification of every type; media cut into frames.
 * @module
 */

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
import { ALL, control, names, SAMPLES, text, withBody } from "../tests/_message_frames.ts";

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
