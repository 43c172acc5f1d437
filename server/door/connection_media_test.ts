/**
 * `Connection` writing media through a stepped in-memory transport (a slow socket, one write at a
 * time): an item offered in one write without copies, a control message waiting only for the frame
 * in progress, and dropMedia() ending media at its current frame.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { FrameDecoder } from "../../protocol/frame.ts";
import { decodeMessage, encodeMediaFrames, type Message } from "../../protocol/messages.ts";
import { Connection } from "./connection.ts";
import type { Transport } from "./transport.ts";
import { concatBytes } from "../../tests/_util.ts";

// Real sockets on 127.0.0.1; Deno's resource and op sanitizers stay on, so every test closes
// both ends and awaits every promise it starts.

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
