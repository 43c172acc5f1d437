import { deepEqual, equal, notStrictEqual, ok, throws } from "node:assert/strict";
import {
  encodeFrame,
  type Frame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTooLargeError,
  FrameType,
  MAX_FRAME_BYTES,
  readUint32,
  writeUint32,
} from "./frame.ts";
import { byteCuts, chunksAt, concatBytes, prng, randomCuts } from "../tests/_util.ts";

/** Feeds `bytes` in the given chunks and collects every frame. */
function feed(
  bytes: Uint8Array,
  cuts: readonly number[],
): { frames: Frame[]; decoder: FrameDecoder } {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  for (const chunk of chunksAt(bytes, cuts)) frames.push(...decoder.push(chunk));
  return { frames, decoder };
}

const SAMPLES: readonly Frame[] = [
  { type: FrameType.Control, payload: new Uint8Array(0) },
  { type: FrameType.ControlWithBody, payload: new Uint8Array([0xab]) },
  { type: FrameType.Media, payload: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) },
  { type: 0, payload: new Uint8Array(0) },
  { type: 255, payload: new Uint8Array(300).map((_, i) => i & 0xff) },
];

Deno.test("encodeFrame() writes a 5-byte header then the payload", async (t) => {
  const table: { name: string; type: number; payload: number[]; bytes: number[] }[] = [
    { name: "empty payload", type: 1, payload: [], bytes: [0, 0, 0, 0, 1] },
    { name: "1-byte payload", type: 3, payload: [0xff], bytes: [0, 0, 0, 1, 3, 0xff] },
    { name: "JSON {}", type: 1, payload: [0x7b, 0x7d], bytes: [0, 0, 0, 2, 1, 0x7b, 0x7d] },
    {
      name: "256-byte payload uses the second length byte",
      type: 2,
      payload: new Array(256).fill(7),
      bytes: [0, 0, 1, 0, 2, ...new Array(256).fill(7)],
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      const frame = encodeFrame(row.type, new Uint8Array(row.payload));
      deepEqual([...frame], row.bytes);
      equal(frame.buffer.byteLength, row.bytes.length);
    });
  }
});

Deno.test("encodeFrame() returns a fresh buffer when given a view into a larger one", () => {
  const backing = new Uint8Array([9, 9, 1, 2, 9]);
  const frame = encodeFrame(1, backing.subarray(2, 4));
  deepEqual([...frame], [0, 0, 0, 2, 1, 1, 2]);
  notStrictEqual(frame.buffer, backing.buffer);
  backing[2] = 0;
  equal(frame[5], 1);
});

Deno.test("encodeFrame() accepts a payload of exactly MAX_FRAME_BYTES", () => {
  const frame = encodeFrame(FrameType.Media, new Uint8Array(MAX_FRAME_BYTES));
  equal(frame.length, FRAME_HEADER_BYTES + MAX_FRAME_BYTES);
  deepEqual([...frame.subarray(0, 5)], [0, 0x10, 0, 0, 3]);
});

Deno.test("encodeFrame() throws RangeError when the payload is MAX_FRAME_BYTES + 1", () => {
  throws(
    () => encodeFrame(FrameType.Media, new Uint8Array(MAX_FRAME_BYTES + 1)),
    (error: unknown) =>
      error instanceof RangeError && error.message.includes(`${MAX_FRAME_BYTES + 1} bytes`) &&
      error.message.includes("limit"),
  );
});

Deno.test("FrameDecoder.push() decodes hand-written byte vectors", async (t) => {
  const table: { name: string; bytes: number[]; frames: { type: number; payload: number[] }[] }[] =
    [
      { name: "nothing", bytes: [], frames: [] },
      { name: "empty payload", bytes: [0, 0, 0, 0, 1], frames: [{ type: 1, payload: [] }] },
      {
        name: "1-byte payload",
        bytes: [0, 0, 0, 1, 3, 0x42],
        frames: [{ type: 3, payload: [0x42] }],
      },
      {
        name: "JSON {}",
        bytes: [0, 0, 0, 2, 1, 0x7b, 0x7d],
        frames: [{ type: 1, payload: [0x7b, 0x7d] }],
      },
      {
        name: "three frames in one chunk",
        bytes: [0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 9, 0, 0, 0, 2, 3, 7, 8],
        frames: [
          { type: 1, payload: [] },
          { type: 2, payload: [9] },
          { type: 3, payload: [7, 8] },
        ],
      },
      {
        name: "unknown type byte is passed through",
        bytes: [0, 0, 0, 1, 0xee, 0],
        frames: [{ type: 0xee, payload: [0] }],
      },
    ];
  for (const row of table) {
    await t.step(row.name, () => {
      const frames = new FrameDecoder().push(new Uint8Array(row.bytes));
      deepEqual(frames.map((f) => ({ type: f.type, payload: [...f.payload] })), row.frames);
    });
  }
});

Deno.test("FrameDecoder.push() returns the same frames when input is whole, byte by byte or cut randomly", async (t) => {
  const stream = concatBytes(SAMPLES.map((s) => encodeFrame(s.type, s.payload)));
  await t.step("whole", () => {
    const { frames, decoder } = feed(stream, []);
    deepEqual(frames, SAMPLES);
    equal(decoder.pendingBytes, 0);
  });
  await t.step("one byte at a time", () => {
    const { frames, decoder } = feed(stream, byteCuts(stream.length));
    deepEqual(frames, SAMPLES);
    equal(decoder.pendingBytes, 0);
  });
  await t.step("random cuts, 500 seeded iterations", () => {
    const random = prng(0x5eed);
    for (let i = 0; i < 500; i++) {
      const cuts = randomCuts(stream.length, random);
      const { frames, decoder } = feed(stream, cuts);
      deepEqual(frames, SAMPLES, `cuts ${JSON.stringify(cuts)}`);
      equal(decoder.pendingBytes, 0);
    }
  });
});

Deno.test("FrameDecoder.push() decodes a frame of exactly MAX_FRAME_BYTES split in chunks", () => {
  const payload = new Uint8Array(MAX_FRAME_BYTES).map((_, i) => i * 31);
  const stream = encodeFrame(FrameType.Media, payload);
  const { frames, decoder } = feed(stream, [3, 5, 6, 1000, 500_000, stream.length - 1]);
  equal(frames.length, 1);
  equal(frames[0].type, FrameType.Media);
  deepEqual(frames[0].payload, payload);
  equal(decoder.pendingBytes, 0);
});

Deno.test("FrameDecoder.push() throws RangeError on a declared length of MAX_FRAME_BYTES + 1 before the payload arrives", () => {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  header[4] = FrameType.Control;
  const decoder = new FrameDecoder();
  throws(
    () => decoder.push(header),
    (error: unknown) =>
      error instanceof RangeError &&
      error.message.includes(`declared length ${MAX_FRAME_BYTES + 1}`),
  );
});

Deno.test("FrameDecoder.push() throws RangeError on 0xffffffff declared after the header arrives byte by byte", () => {
  const decoder = new FrameDecoder();
  for (const byte of [0xff, 0xff, 0xff, 0xff]) deepEqual(decoder.push(new Uint8Array([byte])), []);
  equal(decoder.pendingBytes, 4);
  throws(
    () => decoder.push(new Uint8Array([1])),
    (error: unknown) => error instanceof RangeError && error.message.includes("4294967295"),
  );
});

Deno.test("FrameDecoder.push() keeps throwing RangeError when the stream is broken", () => {
  const decoder = new FrameDecoder();
  const good = encodeFrame(1, new Uint8Array([0x7b, 0x7d]));
  equal(decoder.push(good).length, 1);
  throws(() => decoder.push(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1])), RangeError);
  for (const chunk of [good, new Uint8Array(0), new Uint8Array([0, 0, 0, 0, 1])]) {
    throws(
      () => decoder.push(chunk),
      (error: unknown) => error instanceof RangeError && error.message.includes("already broken"),
    );
  }
});

Deno.test("FrameDecoder.push() throws RangeError when a good frame and an oversized header share a chunk", () => {
  // A good frame and a bad header in one chunk: the throw wins and the good frame is lost with the
  // stream, which is fine since the connection must be closed anyway.
  const good = encodeFrame(1, new Uint8Array([1]));
  const bad = new Uint8Array([0xff, 0, 0, 0, 1]);
  throws(() => new FrameDecoder().push(concatBytes([good, bad])), RangeError);
});

Deno.test("FrameDecoder.pendingBytes counts bytes of the incomplete frame", () => {
  const decoder = new FrameDecoder();
  equal(decoder.pendingBytes, 0);
  const stream = concatBytes([
    encodeFrame(1, new Uint8Array([1, 2, 3])),
    encodeFrame(2, new Uint8Array([4])),
  ]);
  const expected = [1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 0];
  for (let i = 0; i < stream.length; i++) {
    decoder.push(stream.subarray(i, i + 1));
    equal(decoder.pendingBytes, expected[i], `after byte ${i}`);
  }
  equal(decoder.push(new Uint8Array([0, 0, 0])).length, 0);
  equal(decoder.pendingBytes, 3);
});

Deno.test("FrameDecoder.push() returns payloads that do not alias the input chunk", () => {
  const chunk = encodeFrame(1, new Uint8Array([1, 2, 3]));
  const [frame] = new FrameDecoder().push(chunk);
  chunk.fill(0);
  deepEqual([...frame.payload], [1, 2, 3]);
  equal(frame.payload.byteOffset, 0);
  equal(frame.payload.buffer.byteLength, 3);
});

Deno.test("FrameDecoder.bufferedBytes grows with the bytes received, never from the declared length alone", async (t) => {
  // [declared payload length, payload bytes sent (in one chunk after the header), most bytes held]
  const table: [string, number, number, number][] = [
    ["0 declared, 0 sent", 0, 0, FRAME_HEADER_BYTES],
    ["limit declared, 0 sent", MAX_FRAME_BYTES, 0, FRAME_HEADER_BYTES + 1024],
    ["limit declared, 1 byte sent", MAX_FRAME_BYTES, 1, FRAME_HEADER_BYTES + 1024],
    ["limit declared, 1 KiB sent", MAX_FRAME_BYTES, 1024, FRAME_HEADER_BYTES + 2 * 1024],
    ["limit declared, 100 KiB sent", MAX_FRAME_BYTES, 100 * 1024, FRAME_HEADER_BYTES + 200 * 1024],
    [
      "limit declared, limit - 1 sent",
      MAX_FRAME_BYTES,
      MAX_FRAME_BYTES - 1,
      FRAME_HEADER_BYTES +
      MAX_FRAME_BYTES,
    ],
    ["10 declared, 3 sent: never more than declared", 10, 3, FRAME_HEADER_BYTES + 10],
  ];
  for (const [name, declared, sent, most] of table) {
    await t.step(name, () => {
      const header = new Uint8Array(FRAME_HEADER_BYTES);
      new DataView(header.buffer).setUint32(0, declared);
      header[4] = FrameType.Control;
      const decoder = new FrameDecoder();
      decoder.push(header);
      decoder.push(new Uint8Array(sent));
      ok(decoder.bufferedBytes <= most, `${decoder.bufferedBytes} > ${most}`);
      ok(decoder.bufferedBytes >= decoder.pendingBytes);
    });
  }
});

Deno.test("FrameDecoder.bufferedBytes stays within twice the bytes received when a frame trickles in", async (t) => {
  const payload = new Uint8Array(MAX_FRAME_BYTES).map((_, i) => i * 7);
  const stream = encodeFrame(FrameType.Media, payload);
  for (const step of [1, 1000, 4096, 65_536]) {
    await t.step(`${step} bytes at a time`, () => {
      const decoder = new FrameDecoder();
      const frames: Frame[] = [];
      // One byte at a time over a whole MiB is slow: check the bound densely at the start only.
      for (let at = 0; at < stream.length; at += step) {
        frames.push(...decoder.push(stream.subarray(at, at + step)));
        if (frames.length === 0) {
          const held = decoder.pendingBytes;
          ok(
            decoder.bufferedBytes <= Math.max(FRAME_HEADER_BYTES + 1024, 2 * held),
            `${decoder.bufferedBytes} held for ${held} received`,
          );
        }
        if (step === 1 && at > 20_000) {
          frames.push(...decoder.push(stream.subarray(at + step)));
          break;
        }
      }
      equal(frames.length, 1);
      deepEqual(frames[0].payload, payload);
      equal(frames[0].payload.buffer.byteLength, MAX_FRAME_BYTES);
      equal(decoder.bufferedBytes, 0);
    });
  }
});

Deno.test("writeUint32() and readUint32() are big-endian and unsigned up to 2^32 - 1", () => {
  const bytes = new Uint8Array(6);
  for (const value of [0, 1, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff]) {
    writeUint32(bytes, 2, value);
    equal(readUint32(bytes, 2), value);
  }
  writeUint32(bytes, 1, 0x01020304);
  deepEqual([...bytes.subarray(1, 5)], [1, 2, 3, 4]);
});

Deno.test("FrameDecoder.push() gives whole frames their own bytes: reusing the read buffer is safe", () => {
  const chunk = new Uint8Array([
    ...encodeFrame(FrameType.Control, new Uint8Array([1, 2, 3])),
    ...encodeFrame(FrameType.Control, new Uint8Array([4, 5])),
  ]);
  const frames = new FrameDecoder().push(chunk);
  chunk.fill(0);
  deepEqual(frames.map((f) => [...f.payload]), [[1, 2, 3], [4, 5]]);
});

Deno.test("FrameDecoder.push() throws FrameTooLargeError carrying the declared length, whole or byte by byte", () => {
  for (const chunks of [[[0xff, 0xff, 0xff, 0xff, 1]], [[0xff], [0xff, 0xff], [0xff], [1]]]) {
    const decoder = new FrameDecoder();
    let caught: unknown;
    try {
      for (const chunk of chunks) decoder.push(new Uint8Array(chunk));
    } catch (error) {
      caught = error;
    }
    ok(caught instanceof FrameTooLargeError, String(caught));
    ok(caught instanceof RangeError);
    equal(caught.declared, 0xffffffff);
  }
  const atLimit = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(atLimit.buffer).setUint32(0, MAX_FRAME_BYTES);
  deepEqual(new FrameDecoder().push(atLimit), []);
});
