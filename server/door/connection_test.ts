import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  MAX_FRAME_BYTES,
} from "../../protocol/frame.ts";
import {
  decodeMessage,
  encodeMediaFrames,
  encodeMessage,
  type Message,
} from "../../protocol/messages.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { Connection, isPeerGone, isProtocolViolation, protocolViolation } from "./connection.ts";
import type { Transport } from "./transport.ts";
import {
  concatBytes,
  deadline,
  readUntilEof,
  socketPair,
  until,
  writeAll,
} from "../../tests/_util.ts";

// Real sockets on 127.0.0.1; Deno's resource and op sanitizers stay on, so every test closes
// both ends and awaits every promise it starts.

/** Every message the connection yields until it ends. */
async function collect(connection: Connection): Promise<Message[]> {
  const out: Message[] = [];
  for await (const message of connection.messages()) out.push(message);
  return out;
}

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

function media(streamId: number, index: number, size: number): Uint8Array {
  return new Uint8Array(size).fill((streamId * 16 + index) & 0xff);
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

Deno.test("Connection.send() writes control messages ahead of queued media", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const chunks = 6;
  const written: Promise<void>[] = [];
  for (let i = 0; i < chunks; i++) {
    written.push(connection.sendMedia(1, { index: i, data: media(1, i, 32 * 1024) }));
  }
  ok(connection.send({ type: "ping", id: 42 }));
  ok(connection.send({ type: "pong", id: 43 }));
  await deadline(Promise.all(written));
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  equal(messages.length, chunks + 2);
  const order = messages.map((m) => m.type === "media" ? `m${m.index}` : m.type);
  const ping = order.indexOf("ping");
  // At most the one media chunk already in flight may precede the control messages.
  ok(ping >= 0 && ping <= 1, order.join(","));
  equal(order[ping + 1], "pong", order.join(","));
  // Media keeps its own order.
  deepEqual(
    order.filter((o) => o.startsWith("m")),
    Array.from({ length: chunks }, (_, i) => `m${i}`),
  );
  for (const message of messages) {
    if (message.type === "media") deepEqual(message.data, media(1, message.index, 32 * 1024));
  }
});

Deno.test("Connection.send() keeps the order of many control messages written together", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  for (let id = 0; id < 200; id++) ok(connection.send({ type: "ping", id }));
  await deadline(connection.flush());
  equal(connection.queuedBytes, 0);
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  deepEqual(messages, Array.from({ length: 200 }, (_, id) => ({ type: "ping", id })));
});

Deno.test("Connection.dropMedia() drops queued media of one stream only", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const written: Promise<void>[] = [];
  for (let i = 0; i < 4; i++) {
    written.push(connection.sendMedia(1, { index: i, data: media(1, i, 1000) }));
    written.push(connection.sendMedia(2, { index: i, data: media(2, i, 1000) }));
  }
  connection.dropMedia(1);
  // Dropped chunks resolve too, so a sender never waits forever.
  await deadline(Promise.all(written));
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  const got = messages.map((m) => m.type === "media" ? `${m.streamId}:${m.index}` : m.type);
  // Stream 1's first chunk was already being written when dropMedia() ran.
  deepEqual(got, ["1:0", "2:0", "2:1", "2:2", "2:3"]);
});

Deno.test("Connection.dropMedia() does nothing for a stream with no queued media", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  connection.dropMedia(5);
  const done = connection.sendMedia(2, { index: 0, data: media(2, 0, 10) });
  connection.dropMedia(5);
  await deadline(done);
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  equal(messages.length, 1);
});

Deno.test("Connection.flush() resolves at once when idle, and after all queued bytes are written", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  await deadline(connection.flush());
  equal(connection.bytesWritten, 0);
  const ping = encodeMessage({ type: "ping", id: 1 });
  connection.send({ type: "ping", id: 1 });
  const done = connection.sendMedia(3, { index: 0, data: media(3, 0, 100_000) });
  connection.sendMedia(3, { index: 1, data: media(3, 1, 10) });
  ok(connection.queuedBytes > 0);
  await deadline(connection.flush());
  await done;
  equal(connection.queuedBytes, 0);
  equal(
    connection.bytesWritten,
    ping.length + 2 * (FRAME_HEADER_BYTES + 8) + 100_000 + 10,
  );
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  deepEqual(messages.map((m) => m.type), ["ping", "media", "media"]);
});

Deno.test("Connection.close() is idempotent and calls onClose once", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  let closes = 0;
  connection.onClose = () => closes++;
  equal(connection.closed, false);
  ok(connection.remote.startsWith("127.0.0.1:"));
  equal(connection.remoteHost, "127.0.0.1");
  connection.close();
  connection.close();
  equal(closes, 1);
  equal(connection.closed, true);
  // After close, sends are refused and nothing waits.
  equal(connection.send({ type: "ping", id: 1 }), false);
  await deadline(connection.sendMedia(1, { index: 0, data: new Uint8Array(4) }));
  await deadline(connection.flush());
  equal(connection.queuedBytes, 0);
  connection.close();
  equal(closes, 1);
  equal(connection.closeReason, "closed by the server", "the first reason given stays");
  // The peer sees EOF.
  equal(await deadline(client.read(new Uint8Array(16))), null);
  client.close();
});

Deno.test("Connection.send() closes the connection when queued control bytes pass the bound", async () => {
  const { server, client } = await socketPair();
  const size = encodeMessage({ type: "ping", id: 1 }).length;
  const connection = new Connection(server, { maxQueuedControlBytes: size });
  let closes = 0;
  connection.onClose = () => closes++;
  // The first is taken for writing at once; the second waits (exactly at the bound).
  equal(connection.send({ type: "ping", id: 1 }), true);
  equal(connection.send({ type: "ping", id: 2 }), true);
  equal(connection.closeReason, undefined);
  equal(connection.send({ type: "ping", id: 3 }), false);
  equal(connection.closed, true);
  equal(closes, 1);
  equal(connection.closeReason, `SLOW_CONSUMER: over ${size} bytes of control data queued`);
  await deadline(connection.flush());
  await deadline(readUntilEof(client));
  client.close();
});

Deno.test("isPeerGone() is true for errors that mean the peer went away", () => {
  const gone = [
    Deno.errors.BrokenPipe,
    Deno.errors.ConnectionReset,
    Deno.errors.ConnectionAborted,
    Deno.errors.BadResource,
    Deno.errors.Interrupted,
    Deno.errors.NotConnected,
    Deno.errors.UnexpectedEof,
  ];
  for (const ErrorClass of gone) equal(isPeerGone(new ErrorClass("x")), true, ErrorClass.name);
});

Deno.test("isPeerGone() is false for other errors and non-errors", () => {
  const other: unknown[] = [
    new Error("x"),
    new TypeError("x"),
    new Deno.errors.PermissionDenied("x"),
    new Deno.errors.TimedOut("x"),
    new Deno.errors.ConnectionRefused("x"),
    new Deno.errors.NotFound("x"),
    protocolViolation("x"),
    undefined,
    null,
    "BrokenPipe",
    { name: "BrokenPipe" },
  ];
  for (const value of other) equal(isPeerGone(value), false, String(value));
});

Deno.test("Connection.bufferedBytes stays small for an idle peer and grows with what it sends", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const reading = collect(connection);
  // An idle or handshaking peer costs a few kilobytes: no 64 KiB read or write buffer up front.
  ok(connection.bufferedBytes <= 8 * 1024, `${connection.bufferedBytes} bytes idle`);
  // A peer that declared a frame of almost 1 MiB and sent 40 bytes of it costs about as much again.
  const big = encodeMessage({ type: "send", id: 1, to: "bob", body: new Uint8Array(1_000_000) });
  await writeAll(client, big.subarray(0, 40));
  // Judged once the header was read (the decoder holds a frame begun), not after a pause.
  await until(() => connection.bufferedBytes > connection.readBufferBytes, {
    ms: 10_000,
    what: "the header to be read",
  });
  ok(connection.bufferedBytes <= 8 * 1024, `${connection.bufferedBytes} bytes after a header`);
  // A busy peer gets bigger reads.
  await writeAll(client, big.subarray(40));
  await new Promise((r) => setTimeout(r, 50));
  client.close();
  equal((await deadline(reading)).length, 1);
  ok(connection.readBufferBytes === 64 * 1024, `${connection.readBufferBytes}-byte reads`);
  connection.close();
});

/**
 * An in-memory transport whose writes wait until the test lets them go, and then take at most
 * `perWrite` bytes: a slow socket, one step at a time.
 */
class SteppedTransport implements Transport {
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  /** The bytes each write was offered, and took. */
  readonly offered: number[] = [];
  readonly taken: Uint8Array[] = [];
  #waiting: (() => void)[] = [];
  #arrived: (() => void) | null = null;

  constructor(readonly perWrite: number) {}

  read(): Promise<number | null> {
    return Promise.resolve(null);
  }

  async write(bytes: Uint8Array): Promise<number> {
    this.offered.push(bytes.length);
    await new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      this.#arrived?.();
    });
    const n = Math.min(this.perWrite, bytes.length);
    this.taken.push(bytes.slice(0, n));
    return n;
  }

  close(): void {}

  /** Lets the next write go (waiting for it to be made), then lets the writer run on. */
  async step(): Promise<void> {
    if (this.#waiting.length === 0) {
      await new Promise<void>((resolve) => (this.#arrived = resolve));
      this.#arrived = null;
    }
    this.#waiting.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** Steps until `done` settles. */
  async drain(done: Promise<unknown>): Promise<void> {
    let settled = false;
    done.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    while (!settled) await this.step();
  }

  /** Everything written, decoded. */
  messages(): Message[] {
    const decoder = new FrameDecoder();
    return decoder.push(concatBytes(this.taken)).map(decodeMessage);
  }
}

/** Three media frames of 1,000 bytes each (13 + 1,000 bytes on the wire apiece). */
function threeFrames(streamId: number): Uint8Array {
  const data = new Uint8Array(3000).map((_, i) => i & 0xff);
  return encodeMediaFrames(streamId, 4, data, { chunkBytes: 1000 });
}

Deno.test("Connection.sendMediaFrames() offers all of an item in one write and copies nothing", async () => {
  const frames = threeFrames(1);
  const before = frames.slice();
  const transports = [new SteppedTransport(1 << 20), new SteppedTransport(1 << 20)];
  for (const transport of transports) {
    const connection = new Connection(transport);
    const done = connection.sendMediaFrames(1, frames);
    await transport.drain(done);
    deepEqual(transport.offered, [frames.length]);
    deepEqual(concatBytes(transport.taken), frames);
    equal(connection.bytesWritten, frames.length);
    equal(connection.queuedBytes, 0);
  }
  deepEqual(frames, before, "the shared bytes are untouched");
});

Deno.test("Connection.send() waits only for the media frame in progress, not the whole item", async () => {
  const transport = new SteppedTransport(500);
  const connection = new Connection(transport);
  const done = connection.sendMediaFrames(1, threeFrames(1));
  await transport.step(); // 500 bytes of frame 0 (1,013 bytes) are out, the next write waits.
  ok(connection.send({ type: "ping", id: 9 }));
  await transport.drain(Promise.all([done, connection.flush()]));
  // The whole item was offered, then its rest (that write was waiting when ping came); once ping
  // waited, only the rest of frame 0.
  deepEqual(transport.offered.slice(0, 3), [3039, 2539, 13]);
  const order = transport.messages().map((m) => m.type === "media" ? m.data.length : m.type);
  deepEqual(order, [1000, "ping", 1000, 1000]);
});

Deno.test("Connection.dropMedia() ends media being written with its current frame", async (t) => {
  for (const steps of [0, 1, 2, 3]) {
    await t.step(`after ${steps} write(s) of 500 bytes`, async () => {
      const transport = new SteppedTransport(500);
      const connection = new Connection(transport);
      const done = connection.sendMediaFrames(1, threeFrames(1));
      const other = connection.sendMediaFrames(2, threeFrames(2));
      for (let i = 0; i < steps; i++) await transport.step();
      connection.dropMedia(1);
      ok(connection.send({ type: "pong", id: 1 }));
      await transport.drain(Promise.all([done, other, connection.flush()]));
      const got = transport.messages().map((m) =>
        m.type === "media" ? `${m.streamId}:${m.data.length}` : m.type
      );
      // A write of stream 1 is always waiting when dropMedia() runs: it takes its 500 bytes, and
      // the frame it ends in (frames end at 1,013, 2,026, 3,039 bytes) goes out whole.
      const ended = 500 * (steps + 1) < 1013 ? ["1:1000"] : ["1:1000", "1:1000"];
      deepEqual(got, [...ended, "pong", "2:1000", "2:1000", "2:1000"]);
    });
  }
});

Deno.test("isProtocolViolation() is true only for the codes that close a connection for breaking the protocol", () => {
  const table: [unknown, boolean][] = [
    [protocolViolation("x"), true],
    [protocolViolation("x", { code: "FRAME_TOO_LARGE" }), true],
    [protocolViolation("x", { code: "HANDSHAKE_TIMEOUT" }), true],
    [new PeerstreamError("BAD_FRAME", "x"), true],
    [new PeerstreamError("UNAVAILABLE", "x"), false],
    [new PeerstreamError("INTERNAL", "x"), false],
    [new PeerstreamError("VIDEO_FAILED", "x"), false],
    [new SyntaxError("x"), false],
    [{ code: "BAD_FRAME", message: "x" }, false],
    [undefined, false],
  ];
  for (const [value, expected] of table) equal(isProtocolViolation(value), expected, String(value));
  equal(protocolViolation("x").code, "BAD_FRAME", "the default code");
});
