/**
 * `Connection` reading real sockets on 127.0.0.1: every message in one write or one byte at a time,
 * a clean end when the peer closes at once, mid-frame or locally, a BAD_FRAME or FRAME_TOO_LARGE
 * violation for malformed or oversized frames, and a frame of exactly MAX_FRAME_BYTES.
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { FRAME_HEADER_BYTES, FrameType, MAX_FRAME_BYTES } from "../../protocol/frame.ts";
import { encodeMessage, type Message } from "../../protocol/messages.ts";
import { Connection, isProtocolViolation } from "./connection.ts";
import { concatBytes, deadline, socketPair, writeAll } from "../../tests/_util.ts";
import { collect } from "../../tests/_connection.ts";

// Real sockets on 127.0.0.1; Deno's resource and op sanitizers stay on, so every test closes
// both ends and awaits every promise it starts.

/** A raw frame with any type byte and payload. */
function rawFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  view.setUint8(4, type);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

const SAMPLE: readonly Message[] = [
  { type: "ping", id: 1 },
  { type: "list", id: 2 },
  { type: "send", id: 3, to: "bob", body: new Uint8Array([0, 1, 2, 255]) },
  { type: "play", id: 4, title: "dog", quality: 720 },
  { type: "quit" },
];

/** Messages decoded from the wire, with binary fields as plain arrays for comparison. */
function plain(messages: readonly Message[]): unknown[] {
  return messages.map((m) =>
    Object.fromEntries(
      Object.entries(m).map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v]),
    )
  );
}

Deno.test("Connection.messages() yields every message sent in one write, then ends at EOF", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const bytes = concatBytes(SAMPLE.map(encodeMessage));
  await writeAll(client, bytes);
  client.close();
  deepEqual(plain(await deadline(collect(connection))), plain(SAMPLE));
  equal(connection.bytesRead, bytes.length);
  connection.close();
});

Deno.test("Connection.messages() yields every message sent one byte at a time", async () => {
  const { server, client } = await socketPair();
  client.setNoDelay(true);
  const connection = new Connection(server);
  const bytes = concatBytes(SAMPLE.map(encodeMessage));
  const received = deadline(collect(connection));
  for (let i = 0; i < bytes.length; i++) {
    await writeAll(client, bytes.subarray(i, i + 1));
    // Give the reader a turn so that reads really see partial frames.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  client.close();
  deepEqual(plain(await received), plain(SAMPLE));
  connection.close();
});

Deno.test("Connection.messages() ends without throwing when the peer closes at once", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  client.close();
  deepEqual(await deadline(collect(connection)), []);
  connection.close();
});

Deno.test("Connection.messages() ends without throwing when the peer closes mid-frame", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const ping = encodeMessage({ type: "ping", id: 9 });
  await writeAll(client, concatBytes([ping, ping.subarray(0, 3)]));
  client.close();
  deepEqual(await deadline(collect(connection)), [{ type: "ping", id: 9 }]);
  connection.close();
});

Deno.test("Connection.messages() ends without throwing when the connection is closed locally", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const received = collect(connection);
  // Let the read start, then close our end under it.
  await new Promise((resolve) => setTimeout(resolve, 10));
  connection.close();
  deepEqual(await deadline(received), []);
  client.close();
});

const MALFORMED: readonly [string, Uint8Array, string, ErrorConstructor][] = [
  [
    "JSON that does not parse",
    rawFrame(FrameType.Control, new TextEncoder().encode("not json")),
    "not UTF-8 JSON",
    SyntaxError,
  ],
  [
    "invalid UTF-8",
    rawFrame(FrameType.Control, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
    "not UTF-8 JSON",
    SyntaxError,
  ],
  ["an unknown frame type", rawFrame(9, new Uint8Array(2)), "unknown frame type 9", TypeError],
  [
    "an unknown message type",
    rawFrame(FrameType.Control, new TextEncoder().encode('{"type":"nope"}')),
    "unknown type",
    TypeError,
  ],
  [
    "a missing field",
    rawFrame(FrameType.Control, new TextEncoder().encode('{"type":"ping"}')),
    '"id"',
    TypeError,
  ],
  [
    "a media frame shorter than its header",
    rawFrame(FrameType.Media, new Uint8Array(3)),
    "shorter",
    RangeError,
  ],
];

Deno.test("Connection.messages() throws a BAD_FRAME protocol violation for a malformed frame", async () => {
  for (const [label, frame, fragment, causeClass] of MALFORMED) {
    const { server, client } = await socketPair();
    const connection = new Connection(server);
    const received: Message[] = [];
    // A good message ahead of the bad frame in the same write is still delivered.
    await writeAll(client, concatBytes([encodeMessage({ type: "ping", id: 1 }), frame]));
    await rejects(
      deadline((async () => {
        for await (const message of connection.messages()) received.push(message);
      })()),
      (error: unknown) => {
        ok(isProtocolViolation(error), `${label}: ${error}`);
        equal(error.name, "PeerstreamError");
        equal(error.code, "BAD_FRAME", label);
        ok(error.message.includes(fragment), `${label}: "${error.message}" lacks "${fragment}"`);
        ok(error.cause instanceof causeClass, `${label}: cause ${error.cause}`);
        return true;
      },
    );
    deepEqual(received, [{ type: "ping", id: 1 }], label);
    connection.close();
    client.close();
  }
});

Deno.test("Connection.messages() throws FRAME_TOO_LARGE for an oversized length before the payload", async () => {
  for (const length of [MAX_FRAME_BYTES + 1, 0xffff_ffff]) {
    const { server, client } = await socketPair();
    const connection = new Connection(server);
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    new DataView(header.buffer).setUint32(0, length);
    header[4] = FrameType.Control;
    // Only the header is sent and the socket stays open: the check must not wait for a payload.
    await writeAll(client, header);
    await rejects(deadline(collect(connection)), (error: unknown) => {
      ok(isProtocolViolation(error), String(error));
      equal(error.code, "FRAME_TOO_LARGE");
      ok(error.message.includes(`declared length ${length}`), error.message);
      ok(error.message.includes(`${MAX_FRAME_BYTES}-byte limit`), error.message);
      ok(error.cause instanceof RangeError);
      return true;
    });
    equal(connection.bytesRead, FRAME_HEADER_BYTES);
    connection.close();
    client.close();
  }
});

Deno.test("Connection.messages() accepts a frame of exactly MAX_FRAME_BYTES", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const header = new Uint8Array(FRAME_HEADER_BYTES + 8);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES);
  header[4] = FrameType.Media;
  new DataView(header.buffer).setUint32(FRAME_HEADER_BYTES, 7); // stream id
  const received = deadline(collect(connection));
  await writeAll(client, concatBytes([header, new Uint8Array(MAX_FRAME_BYTES - 8)]));
  client.close();
  const messages = await received;
  equal(messages.length, 1);
  const [only] = messages;
  ok(only.type === "media");
  equal(only.streamId, 7);
  equal(only.data.length, MAX_FRAME_BYTES - 8);
  connection.close();
});
