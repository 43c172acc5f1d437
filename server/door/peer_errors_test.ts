import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { FrameDecoder, MAX_FRAME_BYTES } from "../../protocol/frame.ts";
import { encodeMessage } from "../../protocol/messages.ts";
import { decodeRead, isPeerGone, isProtocolViolation, peerFault } from "./peer_errors.ts";

const ping = (id: number) => encodeMessage({ type: "ping", id });

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

Deno.test("decodeRead() gives the messages a read completed, one byte at a time too", () => {
  const bytes = concat(ping(1), ping(2));
  deepEqual(decodeRead(new FrameDecoder(), bytes).messages.map((m) => m.type), ["ping", "ping"]);
  const decoder = new FrameDecoder();
  const seen: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const { messages, violation } = decodeRead(decoder, bytes.subarray(i, i + 1));
    equal(violation, undefined);
    for (const m of messages) if (m.type === "ping") seen.push(m.id);
  }
  deepEqual(seen, [1, 2]);
});

Deno.test("decodeRead() keeps the good messages ahead of a bad one and reports BAD_FRAME", () => {
  const bad = ping(3);
  // Corrupt the JSON of the third frame, after its header.
  bad[bad.length - 1] = 0x7b;
  const { messages, violation } = decodeRead(new FrameDecoder(), concat(ping(1), ping(2), bad));
  equal(messages.length, 2);
  ok(violation instanceof PeerstreamError);
  equal(violation.code, "BAD_FRAME");
  ok(isProtocolViolation(violation));
});

Deno.test("decodeRead() throws FRAME_TOO_LARGE for a declared length past the cap", () => {
  const header = new Uint8Array(8);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  throws(
    () => decodeRead(new FrameDecoder(), header),
    (error: unknown) => isProtocolViolation(error) && error.code === "FRAME_TOO_LARGE",
  );
});

Deno.test("isPeerGone() and peerFault() tell a leave, the peer's fault and ours apart", () => {
  const cases: [string, unknown, boolean, string | undefined][] = [
    ["reset", new Deno.errors.ConnectionReset("x"), true, undefined],
    ["broken pipe", new Deno.errors.BrokenPipe("x"), true, undefined],
    ["closed", new Deno.errors.BadResource("x"), true, undefined],
    ["not TLS", new Deno.errors.InvalidData("bad record"), false, "TLS failed: bad record"],
    ["ours", new TypeError("bug"), false, undefined],
  ];
  for (const [name, error, gone, fault] of cases) {
    equal(isPeerGone(error), gone, name);
    equal(peerFault(error), fault, name);
  }
});
