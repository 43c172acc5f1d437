import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  closePayload,
  encodeWsFrame,
  encodeWsHeader,
  MAX_CONTROL_PAYLOAD,
  websocketAccept,
  WS_OPCODE,
  type WsEvent,
  WsFrameDecoder,
} from "./ws_frame.ts";

const MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** A client frame: masked, with the header a browser would write. */
function clientFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; mask?: boolean; length?: number } = {},
): Uint8Array {
  const length = options.length ?? payload.length;
  const header = encodeWsHeader(opcode, length);
  if (options.fin === false) header[0] &= 0x7f;
  const masked = options.mask !== false;
  if (masked) header[1] |= 0x80;
  const frame = new Uint8Array(header.length + (masked ? 4 : 0) + payload.length);
  frame.set(header);
  if (masked) frame.set(MASK, header.length);
  const start = header.length + (masked ? 4 : 0);
  for (let i = 0; i < payload.length; i++) {
    frame[start + i] = payload[i] ^ (masked ? MASK[i & 3] : 0);
  }
  return frame;
}

function bytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

/** The data of all data events, joined, and the kinds of the other events. */
function summary(events: WsEvent[]): { data: Uint8Array; finals: number; others: string[] } {
  const parts = events.flatMap((e) => e.kind === "data" ? [e.payload] : []);
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return {
    data,
    finals: events.filter((e) => e.kind === "data" && e.final).length,
    others: events.filter((e) => e.kind !== "data").map((e) => e.kind),
  };
}

function pushAll(decoder: WsFrameDecoder, input: Uint8Array, step: number): WsEvent[] {
  const events: WsEvent[] = [];
  for (let i = 0; i < input.length; i += step) {
    events.push(...decoder.push(input.subarray(i, i + step)));
  }
  return events;
}

Deno.test("WsFrameDecoder.push() decodes binary frames at every length boundary, whole and byte by byte", () => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70_000]) {
    const payload = bytes(length);
    const frame = clientFrame(WS_OPCODE.binary, payload);
    for (const step of [frame.length, 1, 3]) {
      if (step === 1 && length > 70_000) continue;
      const events = pushAll(new WsFrameDecoder({ maxMessageBytes: 1 << 20 }), frame, step);
      const { data, finals, others } = summary(events);
      deepEqual(data, payload, `length ${length}, step ${step}`);
      equal(finals, 1, `length ${length}, step ${step}`);
      deepEqual(others, []);
    }
  }
});

Deno.test("WsFrameDecoder.push() takes a message exactly at the cap and refuses one byte more when the header is read", () => {
  const cap = 70_000;
  const at = new WsFrameDecoder({ maxMessageBytes: cap });
  equal(summary(at.push(clientFrame(WS_OPCODE.binary, bytes(cap)))).data.length, cap);
  // Only the header of a frame declaring cap + 1: refused before any payload arrives.
  const over = clientFrame(WS_OPCODE.binary, new Uint8Array(0), { length: cap + 1 });
  const decoder = new WsFrameDecoder({ maxMessageBytes: cap });
  throws(
    () => decoder.push(over),
    (e) => e instanceof RangeError && /70000-byte limit/.test(e.message),
  );
  // Poisoned after an error.
  throws(() => decoder.push(Uint8Array.of(0x82)), SyntaxError);
  // A 60 MiB declaration, fed one byte at a time: the error comes at the last header byte.
  const huge = clientFrame(WS_OPCODE.binary, new Uint8Array(0), { length: 60 * 2 ** 20 });
  const byByte = new WsFrameDecoder({ maxMessageBytes: cap });
  for (let i = 0; i < huge.length - 1; i++) deepEqual(byByte.push(huge.subarray(i, i + 1)), []);
  ok(byByte.bufferedBytes <= 14);
  throws(() => byByte.push(huge.subarray(huge.length - 1)), RangeError);
});

Deno.test("WsFrameDecoder.push() reads 64-bit lengths and refuses a top bit set or a non-minimal length", () => {
  const decoder = new WsFrameDecoder({ maxMessageBytes: 2 ** 40 });
  const header = clientFrame(WS_OPCODE.binary, new Uint8Array(0), { length: 2 ** 33 });
  deepEqual(decoder.push(header), []);
  equal(header[1] & 0x7f, 127);
  const topBit = header.slice();
  topBit[2] = 0x80;
  throws(() => new WsFrameDecoder({ maxMessageBytes: 2 ** 40 }).push(topBit), SyntaxError);
  const nonMinimal = Uint8Array.of(0x82, 0x80 | 126, 0, 5, ...MASK, 1, 2, 3, 4, 5);
  throws(
    () => new WsFrameDecoder({ maxMessageBytes: 100 }).push(nonMinimal),
    (e) => e instanceof SyntaxError && /minimally/.test(e.message),
  );
});

Deno.test("WsFrameDecoder.push() refuses what RFC 6455 forbids a client", () => {
  const table: [string, Uint8Array, RegExp][] = [
    ["unmasked", clientFrame(WS_OPCODE.binary, bytes(3), { mask: false }), /masked/],
    ["reserved bit", Uint8Array.of(0xc2, 0x80, ...MASK), /reserved/],
    ["unknown opcode 3", Uint8Array.of(0x83, 0x80, ...MASK), /opcode 3/],
    ["unknown opcode 11", Uint8Array.of(0x8b, 0x80, ...MASK), /opcode 11/],
    ["fragmented ping", clientFrame(WS_OPCODE.ping, bytes(2), { fin: false }), /fragmented/],
    ["126-byte ping", clientFrame(WS_OPCODE.ping, bytes(MAX_CONTROL_PAYLOAD + 1)), /at most 125/],
    ["lone continuation", clientFrame(WS_OPCODE.continuation, bytes(2)), /no message/],
    [
      "new message mid-message",
      Uint8Array.of(
        ...clientFrame(WS_OPCODE.binary, bytes(2), { fin: false }),
        ...clientFrame(WS_OPCODE.binary, bytes(2)),
      ),
      /before the last one ended/,
    ],
    ["1-byte close", clientFrame(WS_OPCODE.close, Uint8Array.of(3)), /1-byte/],
    ["close code 1005", clientFrame(WS_OPCODE.close, closePayload(1005)), /code 1005/],
  ];
  for (const [what, input, message] of table) {
    throws(
      () => new WsFrameDecoder({ maxMessageBytes: 1000 }).push(input),
      (e) => e instanceof SyntaxError && message.test(e.message),
      what,
    );
  }
  // A control frame of exactly 125 bytes is fine.
  deepEqual(
    new WsFrameDecoder({ maxMessageBytes: 10 }).push(
      clientFrame(WS_OPCODE.ping, bytes(MAX_CONTROL_PAYLOAD)),
    ),
    [{ kind: "ping", payload: bytes(MAX_CONTROL_PAYLOAD) }],
  );
});

Deno.test("WsFrameDecoder.push() joins fragments with controls between them and caps the message over all fragments", () => {
  const a = bytes(100);
  const b = bytes(50);
  const input = Uint8Array.of(
    ...clientFrame(WS_OPCODE.binary, a, { fin: false }),
    ...clientFrame(WS_OPCODE.ping, Uint8Array.of(1, 2)),
    ...clientFrame(WS_OPCODE.continuation, b),
    ...clientFrame(WS_OPCODE.close, closePayload(1000, "bye")),
  );
  for (const step of [input.length, 1, 7]) {
    const events = pushAll(new WsFrameDecoder({ maxMessageBytes: 150 }), input, step);
    const { data, finals, others } = summary(events);
    deepEqual(data, Uint8Array.of(...a, ...b));
    equal(finals, 1);
    deepEqual(others, ["ping", "close"]);
    deepEqual(events.at(-1), { kind: "close", code: 1000, reason: "bye" });
  }
  const over = Uint8Array.of(
    ...clientFrame(WS_OPCODE.binary, a, { fin: false }),
    ...clientFrame(WS_OPCODE.continuation, b, { length: 51 }),
  );
  throws(() => new WsFrameDecoder({ maxMessageBytes: 150 }).push(over), RangeError);
  // Text is decoded as text: the transport decides what to do with it.
  const text = new WsFrameDecoder({ maxMessageBytes: 10 }).push(
    clientFrame(WS_OPCODE.text, new TextEncoder().encode("hi")),
  );
  deepEqual(text, [{
    kind: "data",
    text: true,
    payload: new TextEncoder().encode("hi"),
    final: true,
  }]);
});

Deno.test("encodeWsFrame() writes minimal unmasked headers at 125, 126, 65535 and 65536 bytes", () => {
  deepEqual(encodeWsHeader(WS_OPCODE.binary, 0), Uint8Array.of(0x82, 0));
  deepEqual(encodeWsHeader(WS_OPCODE.binary, 125), Uint8Array.of(0x82, 125));
  deepEqual(encodeWsHeader(WS_OPCODE.binary, 126), Uint8Array.of(0x82, 126, 0, 126));
  deepEqual(encodeWsHeader(WS_OPCODE.binary, 65535), Uint8Array.of(0x82, 126, 0xff, 0xff));
  deepEqual(
    encodeWsHeader(WS_OPCODE.binary, 65536),
    Uint8Array.of(0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0),
  );
  deepEqual(encodeWsFrame(WS_OPCODE.pong, Uint8Array.of(9)), Uint8Array.of(0x8a, 1, 9));
  throws(() => encodeWsHeader(WS_OPCODE.binary, -1), RangeError);
  equal(closePayload(1000, "x".repeat(300)).length, MAX_CONTROL_PAYLOAD);
});

Deno.test("websocketAccept() gives RFC 6455's example answer", async () => {
  equal(await websocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});
