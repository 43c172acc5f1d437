/**
 * The table of bad inputs for `tests/robustness_bad_input_test.ts`: each row is a state (before
 * or after hello), the bytes a client sends, the error code the server must answer with and
 * whether it closes the connection; framing, messages, names, keys, titles and rates.
 * @module
 */

import { type PublicKeysText, signChallenge } from "../protocol/e2e.ts";
import { encodeFrame, FrameType, MAX_FRAME_BYTES } from "../protocol/frame.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import { encodeMessage, type Message, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { TEST_CACHE } from "./_helpers.ts";
import type { RawClient } from "./_raw_client.ts";
import { identity } from "./_robustness.ts";

const te = new TextEncoder();

function frame(type: number, payload: Uint8Array | string): Uint8Array {
  return encodeFrame(type, typeof payload === "string" ? te.encode(payload) : payload);
}
function header(length: number, type: number): Uint8Array {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(0, length);
  out[4] = type;
  return out;
}
function bodyFrame(json: object, body: Uint8Array): Uint8Array {
  const j = te.encode(JSON.stringify(json));
  const payload = new Uint8Array(4 + j.length + body.length);
  new DataView(payload.buffer).setUint32(0, j.length);
  payload.set(j, 4);
  payload.set(body, 4 + j.length);
  return frame(FrameType.ControlWithBody, payload);
}

/** One bad input and what the server must answer to it. */
export interface Row {
  name: string;
  /** State the connection is in before the input. */
  state: "greeting" | "registered";
  /** The bad input; a function for inputs that need the connection (its challenge). */
  input: (c: RawClient) => Promise<Uint8Array> | Uint8Array;
  code: ErrorCode;
  /** The server closes the connection after it. */
  closes?: boolean;
  /** Setup run on the connection first (e.g. start a stream). */
  setup?: (c: RawClient) => Promise<void>;
  /** Send it this many times (only when it does not close). @default {50; 2 before hello} */
  repeat?: number;
}

/**
 * The bad inputs, in the order they are sent.
 * @param otherKeys the public keys of an identity that signs no row's proof
 * @returns the rows
 */
export function badInputRows(otherKeys: PublicKeysText): Row[] {
  const hello = (over: Record<string, unknown>) => (c: RawClient) =>
    (async () => {
      const me = await identity();
      const keys = await (await import("../protocol/e2e.ts")).exportPublicKeys(me);
      const name = (over.name as string | undefined) ?? "rowuser";
      const proof = (await signChallenge(me, Uint8Array.fromBase64(c.greeting.challenge), name))
        .toBase64();
      return encodeMessage(
        { type: "hello", version: PROTOCOL_VERSION, name, ...keys, proof, ...over } as Message,
      );
    })();
  const m = (message: Message) => () => encodeMessage(message);
  return [
    // ---- framing: every one closes the connection ----
    {
      name: "unknown frame type",
      state: "greeting",
      input: () => frame(9, "{}"),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "declared length limit + 1",
      state: "greeting",
      input: () => header(MAX_FRAME_BYTES + 1, 1),
      code: "FRAME_TOO_LARGE",
      closes: true,
    },
    {
      name: "declared length 0xffffffff",
      state: "registered",
      input: () => header(0xffff_ffff, 1),
      code: "FRAME_TOO_LARGE",
      closes: true,
    },
    {
      name: "invalid UTF-8",
      state: "greeting",
      input: () => frame(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "not JSON",
      state: "greeting",
      input: () => frame(1, "hello"),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "empty control frame",
      state: "greeting",
      input: () => frame(1, ""),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "JSON array",
      state: "registered",
      input: () => frame(1, "[]"),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "unknown message type",
      state: "greeting",
      input: () => frame(1, '{"type":"nope"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "inherited name as type",
      state: "greeting",
      input: () => frame(1, '{"type":"constructor"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "missing field",
      state: "registered",
      input: () => frame(1, '{"type":"list"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "extra field",
      state: "registered",
      input: () => frame(1, '{"type":"list","id":1,"x":1}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "__proto__ field",
      state: "registered",
      input: () => frame(1, '{"type":"list","id":1,"__proto__":{"x":1}}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "id is a string",
      state: "registered",
      input: () => frame(1, '{"type":"list","id":"1"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "negative id",
      state: "registered",
      input: () => frame(1, '{"type":"stop","id":-1}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "id above u32",
      state: "registered",
      input: () => frame(1, '{"type":"stop","id":4294967296}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "send without a body frame",
      state: "registered",
      input: () => frame(1, '{"type":"send","id":1,"to":"owner"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "list with a body",
      state: "registered",
      input: () => bodyFrame({ type: "list", id: 1 }, new Uint8Array(3)),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "body frame under 4 bytes",
      state: "registered",
      input: () => frame(2, new Uint8Array([0, 0])),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "body frame JSON length past the end",
      state: "registered",
      input: () => frame(2, new Uint8Array([0, 0, 1, 0, 0x7b])),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "media frame shorter than its header",
      state: "registered",
      input: () => frame(3, new Uint8Array(4)),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "sealed body over the default 96 KiB limit: refused, connection kept",
      state: "registered",
      input: () => bodyFrame({ type: "send", id: 1, to: "owner" }, new Uint8Array(96 * 1024 + 1)),
      code: "MESSAGE_TOO_LARGE",
      closes: false,
    },
    {
      name: "hello version 1 (the old protocol)",
      state: "greeting",
      input: hello({ version: 1 }),
      code: "VERSION_MISMATCH",
      closes: true,
    },
    // ---- messages: answered, the connection stays ----
    {
      name: "media frame from a client",
      state: "registered",
      input: () => frame(3, new Uint8Array(12)),
      code: "BAD_MESSAGE",
    },
    {
      name: "server-only message",
      state: "greeting",
      input: m({ type: "joined", name: "x" }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "send before hello",
      state: "greeting",
      input: () => encodeMessage({ type: "send", id: 7, to: "owner", body: new Uint8Array(100) }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "list before hello",
      state: "greeting",
      input: m({ type: "list", id: 1 }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "seg-ack before hello",
      state: "greeting",
      input: m({ type: "seg-ack", streamId: 1, epoch: 0, index: 0 }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "receipt before hello",
      state: "greeting",
      input: m({ type: "receipt", rid: "r12345", ok: true }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "second hello",
      state: "registered",
      input: hello({ name: "again" }),
      code: "ALREADY_REGISTERED",
    },
    { name: "empty name", state: "greeting", input: hello({ name: "" }), code: "NAME_INVALID" },
    {
      name: "name with a space",
      state: "greeting",
      input: hello({ name: "a b" }),
      code: "NAME_INVALID",
    },
    {
      name: "name of 33 characters",
      state: "greeting",
      input: hello({ name: "x".repeat(33) }),
      code: "NAME_INVALID",
    },
    {
      name: "path-like name",
      state: "greeting",
      input: hello({ name: "../owner" }),
      code: "NAME_INVALID",
    },
    {
      name: "control character in name",
      state: "greeting",
      input: hello({ name: "a\u0007b" }),
      code: "NAME_INVALID",
    },
    {
      name: "zalgo name",
      state: "greeting",
      input: hello({ name: "q\u0316\u0317\u0318" }),
      code: "NAME_INVALID",
    },
    {
      name: "encKey is not a key",
      state: "greeting",
      input: hello({ encKey: "AAAA" }),
      code: "KEY_INVALID",
    },
    {
      name: "signKey is not base64",
      state: "greeting",
      input: hello({ signKey: "@@@" }),
      code: "KEY_INVALID",
    },
    {
      name: "proof is garbage",
      state: "greeting",
      input: hello({ proof: btoa("x".repeat(64)) }),
      code: "KEY_INVALID",
    },
    {
      name: "proof is not base64",
      state: "greeting",
      input: hello({ proof: "%%%" }),
      code: "KEY_INVALID",
    },
    {
      name: "proof by another signing key",
      state: "greeting",
      input: hello({ signKey: otherKeys.signKey }),
      code: "KEY_INVALID",
    },
    {
      name: "proof signed for another name",
      state: "greeting",
      input: async (c) => {
        const me = await identity();
        const keys = await (await import("../protocol/e2e.ts")).exportPublicKeys(me);
        const proof = await signChallenge(me, Uint8Array.fromBase64(c.greeting.challenge), "alice");
        return encodeMessage({
          type: "hello",
          version: PROTOCOL_VERSION,
          name: "mallory",
          ...keys,
          proof: proof.toBase64(),
        });
      },
      code: "KEY_INVALID",
    },
    {
      name: "name held by an online peer",
      state: "greeting",
      input: async (c) => {
        // The owner's name, proven with a fresh key.
        return await hello({ name: "owner" })(c);
      },
      code: "NAME_TAKEN",
    },
    {
      name: "key of an unknown peer",
      state: "registered",
      input: m({ type: "key", id: 3, name: "nobody" }),
      code: "UNKNOWN_PEER",
    },
    {
      name: "send to an unknown peer",
      state: "registered",
      input: () => encodeMessage({ type: "send", id: 4, to: "nobody", body: new Uint8Array(64) }),
      code: "UNKNOWN_PEER",
    },
    {
      name: "sealed body over the server limit",
      state: "registered",
      input: () => encodeMessage({ type: "send", id: 5, to: "owner", body: new Uint8Array(8193) }),
      code: "MESSAGE_TOO_LARGE",
    },
    {
      name: "unknown title",
      state: "registered",
      input: m({ type: "play", id: 6, title: "nosuchtitle", quality: "auto" }),
      code: "VIDEO_NOT_FOUND",
    },
    // Titles that look like paths, including a real file of the library reached through the
    // folder: none may be found by path.
    ...["../../etc/passwd", "/etc/passwd", "a/b", "..\\x", "../samples/testcard_720p.mp4"].map(
      (title): Row => ({
        name: `PLAY ${title}`,
        state: "registered",
        input: m({ type: "play", id: 6, title, quality: "auto" }),
        code: "VIDEO_NOT_FOUND",
      }),
    ),
    {
      name: "PLAY an absolute library path",
      state: "registered",
      input: m({
        type: "play",
        id: 6,
        title: `${TEST_CACHE}/samples/testcard_720p.mp4`,
        quality: "auto",
      }),
      code: "VIDEO_NOT_FOUND",
    },
    {
      name: "PLAY testcard at 1080p",
      state: "registered",
      input: m({ type: "play", id: 8, title: "testcard", quality: 1080 }),
      code: "RENDITION_NOT_FOUND",
    },
    {
      name: "QUALITY 1080 while playing",
      state: "registered",
      setup: async (c) => {
        await c.write({ type: "play", id: 90, title: "testcard", quality: 240 });
        await c.next((x) => x.type === "stream-start");
      },
      input: m({ type: "quality", id: 9, quality: 1080 }),
      code: "RENDITION_NOT_FOUND",
    },
    {
      name: "STOP with nothing playing",
      state: "registered",
      input: m({ type: "stop", id: 10 }),
      code: "NOT_PLAYING",
    },
    {
      name: "QUALITY with nothing playing",
      state: "registered",
      input: m({ type: "quality", id: 11, quality: 240 }),
      code: "NOT_PLAYING",
    },
    {
      name: "over the message rate",
      state: "registered",
      input: () => {
        const one = encodeMessage({ type: "ping", id: 1 });
        const out = new Uint8Array(one.length * 400);
        for (let i = 0; i < 400; i++) out.set(one, i * one.length);
        return out;
      },
      code: "RATE_LIMITED",
      repeat: 1,
    },
  ];
}
