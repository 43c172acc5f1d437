import { deepEqual, throws } from "node:assert/strict";
import { type Frame, FrameType } from "./frame.ts";
import { decodeMessage, encodeMessage, PROTOCOL_VERSION } from "./messages.ts";
import { FrameDecoder } from "./frame.ts";

const text = new TextEncoder();

function control(json: string): Frame {
  return { type: FrameType.Control, payload: text.encode(json) };
}

function withBody(json: string, body: Uint8Array): Frame {
  const bytes = text.encode(json);
  const payload = new Uint8Array(4 + bytes.length + body.length);
  new DataView(payload.buffer).setUint32(0, bytes.length);
  payload.set(bytes, 4);
  payload.set(body, 4 + bytes.length);
  return { type: FrameType.ControlWithBody, payload };
}

Deno.test("PROTOCOL_VERSION is 3: offline delivery changed the messages", () => {
  deepEqual(PROTOCOL_VERSION, 3);
});

Deno.test("decodeMessage() takes the queue's messages and fields at their limits", () => {
  const cases: [Frame, unknown][] = [
    [control('{"type":"queued","re":0,"to":"bob","qseq":0}'), {
      type: "queued",
      re: 0,
      to: "bob",
      qseq: 0,
    }],
    [control('{"type":"expired","to":"bob","qseq":4294967295}'), {
      type: "expired",
      to: "bob",
      qseq: 0xffff_ffff,
    }],
    [control('{"type":"delivered","re":1,"to":"bob","qseq":5}'), {
      type: "delivered",
      re: 1,
      to: "bob",
      qseq: 5,
    }],
  ];
  for (const [frame, want] of cases) deepEqual(decodeMessage(frame), want);
  const deliver = decodeMessage(
    withBody(
      '{"type":"deliver","rid":"q1","from":"a","queued":true,"qseq":1}',
      new Uint8Array([9]),
    ),
  );
  deepEqual(deliver, {
    type: "deliver",
    rid: "q1",
    from: "a",
    queued: true,
    qseq: 1,
    body: new Uint8Array([9]),
  });
});

Deno.test("decodeMessage() refuses malformed queue messages with the field named", () => {
  const cases: [Frame, ErrorConstructor, string][] = [
    [control('{"type":"queued","re":1,"to":"bob"}'), TypeError, 'Missing field "qseq"'],
    [control('{"type":"queued","re":1,"to":"bob","qseq":-1}'), TypeError, '"qseq"'],
    [control('{"type":"queued","re":1,"to":"bob","qseq":1.5}'), TypeError, '"qseq"'],
    [control('{"type":"queued","re":1,"to":"bob","qseq":4294967296}'), RangeError, '"qseq"'],
    [control(`{"type":"queued","re":1,"to":"${"b".repeat(65)}","qseq":1}`), RangeError, '"to"'],
    [control('{"type":"queued","re":1,"to":"bob","qseq":1,"x":1}'), TypeError, '"x"'],
    [control('{"type":"expired","to":"bob"}'), TypeError, 'Missing field "qseq"'],
    [control('{"type":"delivered","re":1,"to":"bob","qseq":"1"}'), TypeError, '"qseq"'],
    [
      withBody('{"type":"deliver","rid":"q1","from":"a","queued":1}', new Uint8Array(1)),
      TypeError,
      '"queued": expected a boolean',
    ],
    [
      withBody('{"type":"deliver","rid":"q1","from":"a","qseq":-2}', new Uint8Array(1)),
      TypeError,
      '"qseq"',
    ],
  ];
  for (const [frame, error, fragment] of cases) {
    throws(
      () => decodeMessage(frame),
      (e: Error) => e instanceof error && e.message.includes(fragment),
    );
  }
});

Deno.test("encodeMessage() round-trips a queued deliver split one byte at a time", () => {
  const message = {
    type: "deliver" as const,
    rid: "q12",
    from: "alice",
    body: new Uint8Array([1, 2, 3]),
    queued: true,
    qseq: 12,
  };
  const bytes = encodeMessage(message);
  const decoder = new FrameDecoder();
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    for (const frame of decoder.push(bytes.subarray(i, i + 1))) out.push(decodeMessage(frame));
  }
  deepEqual(out, [message]);
});
