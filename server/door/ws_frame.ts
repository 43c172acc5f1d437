/**
 * RFC 6455 WebSocket frames, server side, as pure functions over bytes: an incremental decoder for
 * what a browser sends (masked, checked against a cap as soon as a header is read, before any
 * payload is held) and an encoder for what the server sends (unmasked). Nothing here calls
 * `Deno.*`; `ws_transport.ts` owns the socket.
 *
 * The decoder streams data: a binary or text message comes out as pieces in the order received,
 * each unmasked, the last one marked `final`, so that a message costs the bytes of one read, not
 * its whole length. Control frames (ping, pong, close) come out whole: they are at most 125 bytes.
 * @module
 */

/** Frame opcodes (RFC 6455 section 5.2). */
export const WS_OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** The largest control frame payload (RFC 6455 section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Close codes the server sends (RFC 6455 section 7.4.1). */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  policyViolation: 1008,
  tooBig: 1009,
} as const;

/** What {@linkcode WsFrameDecoder.push} found. */
export type WsEvent =
  | {
    /** A piece of a data message, unmasked. */
    kind: "data";
    /** Whether the message is text (else binary). */
    text: boolean;
    /** The bytes; may be empty on the final piece. */
    payload: Uint8Array;
    /** Whether this piece ends the message. */
    final: boolean;
  }
  | { kind: "ping" | "pong"; payload: Uint8Array }
  | {
    kind: "close";
    /** The peer's close code, or undefined when it sent none. */
    code: number | undefined;
    /** The peer's reason (UTF-8). */
    reason: string;
  };

/** Options for {@linkcode WsFrameDecoder}. */
export interface WsFrameDecoderOptions {
  /** The largest data message, bytes, over all its fragments. */
  maxMessageBytes: number;
}

type State = "header" | "payload" | "control" | "failed";

/**
 * An incremental decoder of client-to-server frames: `push(chunk)` returns the events complete so
 * far and keeps at most one partial header (14 bytes) or one partial control frame (125 bytes).
 *
 * @example
 * ```ts
 * const decoder = new WsFrameDecoder({ maxMessageBytes: 1 << 20 });
 * for (const event of decoder.push(chunk)) if (event.kind === "data") use(event.payload);
 * ```
 */
export class WsFrameDecoder {
  readonly #max: number;
  #state: State = "header";
  #header = new Uint8Array(14);
  #headerBytes = 0;
  #opcode = 0;
  #fin = false;
  #mask = new Uint8Array(4);
  /** Payload bytes of the current frame still to come. */
  #left = 0;
  /** Bytes of the current frame's payload seen so far (for the mask's phase). */
  #seen = 0;
  #control: Uint8Array = new Uint8Array(0);
  /** The data message in progress: its kind, and its bytes so far; null between messages. */
  #message: { text: boolean; bytes: number } | null = null;

  /** @param options The cap on a data message. */
  constructor(options: WsFrameDecoderOptions) {
    this.#max = options.maxMessageBytes;
  }

  /** Bytes held for an incomplete header or control frame. */
  get bufferedBytes(): number {
    return this.#state === "control" ? this.#seen : this.#headerBytes;
  }

  /**
   * Decodes more bytes.
   *
   * @param chunk The next bytes from the socket.
   * @returns The events complete in them.
   * @throws {RangeError} When a frame or message declares more than the cap (before its payload is
   * held); the decoder is unusable after any error.
   * @throws {SyntaxError} When a frame breaks RFC 6455 (unmasked, reserved bits or opcode, a
   * fragmented or long control frame, a continuation out of place, a bad close payload).
   */
  push(chunk: Uint8Array): WsEvent[] {
    if (this.#state === "failed") {
      throw new SyntaxError("Cannot decode WebSocket frames: the stream already failed");
    }
    const events: WsEvent[] = [];
    let at = 0;
    try {
      while (at < chunk.length) {
        if (this.#state === "header") at = this.#readHeader(chunk, at, events);
        else if (this.#state === "payload") at = this.#readData(chunk, at, events);
        else at = this.#readControl(chunk, at, events);
      }
    } catch (error) {
      this.#state = "failed";
      throw error;
    }
    return events;
  }

  #readHeader(chunk: Uint8Array, at: number, events: WsEvent[]): number {
    const need = this.#headerBytes < 2 ? 2 : headerLength(this.#header);
    const take = Math.min(need - this.#headerBytes, chunk.length - at);
    this.#header.set(chunk.subarray(at, at + take), this.#headerBytes);
    this.#headerBytes += take;
    at += take;
    if (this.#headerBytes === 2) this.#checkFirstBytes();
    if (this.#headerBytes < headerLength(this.#header) || this.#headerBytes < 2) return at;
    this.#startFrame(events);
    return at;
  }

  /** Checks what the first two bytes say, before the rest of the header arrives. */
  #checkFirstBytes() {
    const [b0, b1] = this.#header;
    if ((b0 & 0x70) !== 0) throw new SyntaxError("Invalid WebSocket frame: reserved bits set");
    if ((b1 & 0x80) === 0) {
      throw new SyntaxError("Invalid WebSocket frame: a client's frame must be masked");
    }
    const opcode = b0 & 0x0f;
    if (opcode >= 0x8) {
      if (!WS_CONTROL.has(opcode)) {
        throw new SyntaxError(`Invalid WebSocket frame: unknown opcode ${opcode}`);
      }
      if ((b0 & 0x80) === 0) {
        throw new SyntaxError("Invalid WebSocket frame: a control frame cannot be fragmented");
      }
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) {
        throw new SyntaxError(
          `Invalid WebSocket frame: a control frame carries at most ${MAX_CONTROL_PAYLOAD} bytes`,
        );
      }
    } else if (opcode > WS_OPCODE.binary) {
      throw new SyntaxError(`Invalid WebSocket frame: unknown opcode ${opcode}`);
    } else if (opcode === WS_OPCODE.continuation && this.#message === null) {
      throw new SyntaxError("Invalid WebSocket frame: a continuation with no message to continue");
    } else if (opcode !== WS_OPCODE.continuation && this.#message !== null) {
      throw new SyntaxError("Invalid WebSocket frame: a new message before the last one ended");
    }
  }

  #startFrame(events: WsEvent[]) {
    const header = this.#header;
    const length = payloadLength(header);
    this.#opcode = header[0] & 0x0f;
    this.#fin = (header[0] & 0x80) !== 0;
    this.#mask.set(header.subarray(this.#headerBytes - 4, this.#headerBytes));
    this.#headerBytes = 0;
    this.#left = length;
    this.#seen = 0;
    if (this.#opcode >= 0x8) {
      this.#control = new Uint8Array(length);
      this.#state = "control";
      if (length === 0) this.#endControl(events);
      return;
    }
    const sofar = this.#message?.bytes ?? 0;
    // The cap is checked here, on the declared length, before a byte of the payload is held.
    if (sofar + length > this.#max) {
      throw new RangeError(
        `WebSocket message of ${sofar + length} bytes or more exceeds the ${this.#max}-byte limit`,
      );
    }
    this.#message ??= { text: this.#opcode === WS_OPCODE.text, bytes: 0 };
    this.#message.bytes += length;
    this.#state = "payload";
    if (length === 0) this.#endData(events, new Uint8Array(0));
  }

  #readData(chunk: Uint8Array, at: number, events: WsEvent[]): number {
    const take = Math.min(this.#left, chunk.length - at);
    const payload = chunk.slice(at, at + take);
    this.#unmask(payload);
    this.#left -= take;
    if (this.#left === 0) this.#endData(events, payload);
    else events.push({ kind: "data", text: this.#message!.text, payload, final: false });
    return at + take;
  }

  #endData(events: WsEvent[], payload: Uint8Array) {
    const text = this.#message!.text;
    if (this.#fin) this.#message = null;
    this.#state = "header";
    // A fragment boundary inside a message is not worth an event of its own.
    if (payload.length > 0 || this.#fin) {
      events.push({ kind: "data", text, payload, final: this.#fin });
    }
  }

  #readControl(chunk: Uint8Array, at: number, events: WsEvent[]): number {
    const take = Math.min(this.#left, chunk.length - at);
    this.#control.set(chunk.subarray(at, at + take), this.#seen);
    this.#left -= take;
    this.#seen += take;
    if (this.#left === 0) this.#endControl(events);
    return at + take;
  }

  #endControl(events: WsEvent[]) {
    const payload = this.#control;
    this.#seen = 0;
    this.#unmask(payload);
    this.#seen = 0;
    this.#control = new Uint8Array(0);
    this.#state = "header";
    if (this.#opcode === WS_OPCODE.close) events.push(decodeClose(payload));
    else {
      events.push({ kind: this.#opcode === WS_OPCODE.ping ? "ping" : "pong", payload });
    }
  }

  /** Unmasks bytes in place, continuing the mask's phase from the bytes already seen. */
  #unmask(bytes: Uint8Array) {
    const mask = this.#mask;
    const phase = this.#seen;
    for (let i = 0; i < bytes.length; i++) bytes[i] ^= mask[(phase + i) & 3];
    this.#seen += bytes.length;
  }
}

const WS_CONTROL: ReadonlySet<number> = new Set([
  WS_OPCODE.close,
  WS_OPCODE.ping,
  WS_OPCODE.pong,
]);

/** The length of a client frame's header (with its mask) once its first two bytes are known. */
function headerLength(header: Uint8Array): number {
  const short = header[1] & 0x7f;
  return 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + 4;
}

/** The payload length a complete header declares. */
function payloadLength(header: Uint8Array): number {
  const short = header[1] & 0x7f;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (short < 126) return short;
  if (short === 126) {
    const length = view.getUint16(2);
    if (length < 126) {
      throw new SyntaxError("Invalid WebSocket frame: length not minimally encoded");
    }
    return length;
  }
  const high = view.getUint32(2);
  if (high & 0x80000000) {
    throw new SyntaxError("Invalid WebSocket frame: a 64-bit length with its top bit set");
  }
  // A length past 2^53 cannot be a number exactly; it is over any cap anyway.
  const length = high * 2 ** 32 + view.getUint32(6);
  if (length < 65536) {
    throw new SyntaxError("Invalid WebSocket frame: length not minimally encoded");
  }
  return length;
}

function decodeClose(payload: Uint8Array): WsEvent {
  if (payload.length === 0) return { kind: "close", code: undefined, reason: "" };
  if (payload.length === 1) {
    throw new SyntaxError("Invalid WebSocket close frame: a 1-byte payload");
  }
  const code = (payload[0] << 8) | payload[1];
  if (!validCloseCode(code)) {
    throw new SyntaxError(`Invalid WebSocket close frame: code ${code}`);
  }
  let reason: string;
  try {
    reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
  } catch (error) {
    throw new SyntaxError("Invalid WebSocket close frame: the reason is not UTF-8", {
      cause: error,
    });
  }
  return { kind: "close", code, reason };
}

/** Close codes a peer may send (RFC 6455 section 7.4). */
function validCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * The header of a server frame (unmasked), to write before its payload.
 *
 * @param opcode The frame's opcode.
 * @param length The payload's length.
 * @returns 2, 4 or 10 bytes.
 */
export function encodeWsHeader(opcode: number, length: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`Cannot encode a WebSocket frame of ${length} bytes`);
  }
  const b0 = 0x80 | opcode;
  if (length < 126) return Uint8Array.of(b0, length);
  if (length < 65536) return Uint8Array.of(b0, 126, length >> 8, length & 0xff);
  const header = new Uint8Array(10);
  header[0] = b0;
  header[1] = 127;
  const view = new DataView(header.buffer);
  view.setUint32(2, Math.floor(length / 2 ** 32));
  view.setUint32(6, length >>> 0);
  return header;
}

/**
 * A whole server frame (unmasked): header and payload in one buffer.
 *
 * @param opcode The frame's opcode.
 * @param payload The payload.
 * @returns The frame.
 */
export function encodeWsFrame(opcode: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const header = encodeWsHeader(opcode, payload.length);
  const frame = new Uint8Array(header.length + payload.length);
  frame.set(header);
  frame.set(payload, header.length);
  return frame;
}

/**
 * A close frame's payload: the code and a reason cut to fit a control frame.
 *
 * @param code The close code.
 * @param reason A short reason.
 * @returns The payload, at most 125 bytes.
 */
export function closePayload(code: number, reason = ""): Uint8Array<ArrayBuffer> {
  let text = new TextEncoder().encode(reason);
  while (text.length > MAX_CONTROL_PAYLOAD - 2) {
    reason = reason.slice(0, -1);
    text = new TextEncoder().encode(reason);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}

/**
 * The `Sec-WebSocket-Accept` answer to a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2).
 *
 * @param key The client's key.
 * @returns base64(SHA-1(key + GUID)).
 */
export async function websocketAccept(key: string): Promise<string> {
  const bytes = new TextEncoder().encode(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)).toBase64();
}
