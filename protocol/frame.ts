/**
 * Frame layout of the peerstream wire protocol.
 *
 * Every frame is a 4-byte big-endian payload length, a 1-byte frame type, then the payload:
 *
 * ```
 * +----------------+------+-------------------+
 * | length (u32be) | type | payload (length)  |
 * +----------------+------+-------------------+
 * ```
 *
 * The declared length is checked against {@linkcode MAX_FRAME_BYTES} before anything is allocated,
 * and a partial frame's buffer grows with the bytes that arrive, not with the declared length.
 * @module
 */

/** Bytes before the payload: the length (4) and the type (1). */
export const FRAME_HEADER_BYTES = 5;

/** The largest payload a frame may declare: 1 MiB. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Frame types. */
export const FrameType = {
  /** A control message: UTF-8 JSON. */
  Control: 1,
  /** A control message with a binary body: u32be JSON length, the JSON, then the body. */
  ControlWithBody: 2,
  /** A media chunk: u32be stream id, u32be segment index, then media bytes. */
  Media: 3,
} as const;

/** One of the {@linkcode FrameType} values. */
export type FrameTypeValue = typeof FrameType[keyof typeof FrameType];

/** A decoded frame: its type and its payload. */
export interface Frame {
  /** The frame type byte. */
  type: number;
  /** The payload, a fresh copy owned by the caller. */
  payload: Uint8Array<ArrayBuffer>;
}

/**
 * A frame declared a payload over {@linkcode MAX_FRAME_BYTES}: the stream cannot be framed any
 * more. A `RangeError`, carrying the declared length so that a client can say what the server sent.
 *
 * @example
 * ```ts
 * try {
 *   new FrameDecoder().push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]));
 * } catch (error) {
 *   if (error instanceof FrameTooLargeError) console.log(error.declared); // 4294967295
 * }
 * ```
 */
export class FrameTooLargeError extends RangeError {
  /** The payload length the header declared, in bytes. */
  readonly declared: number;

  /** @param declared The payload length the header declared. */
  constructor(declared: number) {
    super(
      `Cannot decode frame: declared length ${declared} exceeds the ${MAX_FRAME_BYTES}-byte limit`,
    );
    this.name = "FrameTooLargeError";
    this.declared = declared;
  }
}

/**
 * Encodes one frame.
 *
 * @param type The frame type byte.
 * @param payload The payload; at most {@linkcode MAX_FRAME_BYTES}.
 * @returns A fresh buffer holding the whole frame.
 * @throws {RangeError} When the payload is larger than {@linkcode MAX_FRAME_BYTES}.
 */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  if (payload.length > MAX_FRAME_BYTES) {
    throw new RangeError(
      `Cannot encode frame: payload of ${payload.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, type, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Writes a frame header into the first {@linkcode FRAME_HEADER_BYTES} bytes of `target`.
 *
 * @param target Where to write.
 * @param type The frame type byte.
 * @param payloadLength The payload length that follows the header.
 */
export function writeFrameHeader(target: Uint8Array, type: number, payloadLength: number): void {
  writeUint32(target, 0, payloadLength);
  target[4] = type;
}

/**
 * Writes a big-endian 32-bit unsigned integer byte by byte: no `DataView` to make, once per frame.
 *
 * @param target Where to write.
 * @param at The offset.
 * @param value The number.
 */
export function writeUint32(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = (value >>> 16) & 0xff;
  target[at + 2] = (value >>> 8) & 0xff;
  target[at + 3] = value & 0xff;
}

/**
 * Reads a big-endian 32-bit unsigned integer (the counterpart of {@linkcode writeUint32}).
 *
 * @param source Where to read.
 * @param at The offset.
 * @returns The number.
 */
export function readUint32(source: Uint8Array, at: number): number {
  return ((source[at] << 24) | (source[at + 1] << 16) | (source[at + 2] << 8) | source[at + 3]) >>>
    0;
}

/** The smallest buffer a partial frame starts with, bytes. */
const MIN_PARTIAL_BYTES = 1024;

/**
 * Incremental frame decoder: feed it bytes cut anywhere, get back the complete frames.
 *
 * Memory follows the bytes that arrived, not the length a header declares: a partial frame's
 * buffer starts small and doubles as its bytes come (never beyond the declared length), so a peer
 * that declares 1 MiB and sends one byte costs about a kilobyte.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder();
 * for (const frame of decoder.push(chunk)) handle(frame);
 * ```
 */
export class FrameDecoder {
  #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** The declared payload length of the frame in progress, or -1 while its header is incomplete. */
  #length = -1;
  #payload: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #payloadFill = 0;
  #type = 0;
  #failed = false;

  /** Bytes held for a frame that is not complete yet. */
  get pendingBytes(): number {
    return this.#headerFill + this.#payloadFill;
  }

  /** Bytes allocated for the frame that is not complete yet: at most about twice `pendingBytes`. */
  get bufferedBytes(): number {
    if (this.#headerFill === 0) return 0;
    return FRAME_HEADER_BYTES + this.#payload.length;
  }

  /**
   * Adds bytes and returns every frame they complete, in order.
   *
   * @param chunk The next bytes from the stream.
   * @returns The complete frames, possibly none.
   * @throws {RangeError} When a frame declares a payload larger than {@linkcode MAX_FRAME_BYTES};
   * the decoder is then unusable, since the stream can no longer be framed.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.#failed) {
      throw new RangeError("Cannot decode frame: the stream is already broken; reconnect");
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      // The common case: a whole frame in this chunk, copied out in one step.
      if (
        this.#length < 0 && this.#headerFill === 0 && chunk.length - offset >= FRAME_HEADER_BYTES
      ) {
        const length = readUint32(chunk, offset);
        const end = offset + FRAME_HEADER_BYTES + length;
        if (length <= MAX_FRAME_BYTES && end <= chunk.length) {
          frames.push({
            type: chunk[offset + 4],
            payload: chunk.slice(offset + FRAME_HEADER_BYTES, end),
          });
          offset = end;
          continue;
        }
      }
      if (this.#length < 0) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - offset);
        this.#header.set(chunk.subarray(offset, offset + take), this.#headerFill);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < FRAME_HEADER_BYTES) break;
        this.#startPayload();
      }
      const take = Math.min(this.#length - this.#payloadFill, chunk.length - offset);
      this.#reserve(this.#payloadFill + take);
      this.#payload.set(chunk.subarray(offset, offset + take), this.#payloadFill);
      this.#payloadFill += take;
      offset += take;
      if (this.#payloadFill < this.#length) break;
      frames.push({ type: this.#type, payload: this.#payload });
      this.#length = -1;
      this.#payload = new Uint8Array(0);
      this.#payloadFill = 0;
      this.#headerFill = 0;
    }
    return frames;
  }

  #startPayload() {
    const length = readUint32(this.#header, 0);
    if (length > MAX_FRAME_BYTES) {
      this.#failed = true;
      throw new FrameTooLargeError(length);
    }
    this.#type = this.#header[4];
    this.#length = length;
    this.#payloadFill = 0;
  }

  /** Grows the payload buffer to hold `needed` bytes: doubling, capped at the declared length. */
  #reserve(needed: number) {
    if (needed <= this.#payload.length) return;
    let size = Math.max(this.#payload.length * 2, MIN_PARTIAL_BYTES, needed);
    size = Math.min(size, this.#length);
    const grown = new Uint8Array(size);
    grown.set(this.#payload.subarray(0, this.#payloadFill));
    this.#payload = grown;
  }
}
