/**
 * The load clients' reader of the server's byte stream: control frames are decoded as usual, but
 * media payloads are handed on as views of the bytes just read, never copied or assembled, so that
 * thousands of viewers in a few threads cost about what an HTTP client that only counts bytes
 * does (issue 12: the load generator must not be the limit).
 * @module
 */

import { FRAME_HEADER_BYTES, FrameType, MAX_FRAME_BYTES } from "../protocol/frame.ts";
import {
  decodeMessage,
  MEDIA_HEADER_BYTES,
  type MediaMessage,
  type ServerMessage,
} from "../protocol/messages.ts";

/**
 * Splits a server's byte stream into messages. A media frame arrives as one or more `media`
 * messages, one per piece of it in a read, whose `data` is a view valid only during the callback
 * (copy it to keep it); every other frame is decoded whole with `decodeMessage`.
 */
export class WireReader {
  readonly #head = new Uint8Array(FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES);
  #headFill = 0;
  #type = 0;
  /** Payload bytes of the current frame still to come; -1 while its header is incomplete. */
  #left = -1;
  #payload: Uint8Array<ArrayBuffer> | null = null;
  #payloadFill = 0;
  #streamId = 0;
  #index = 0;

  /**
   * Reads the next bytes, calling `handle` for every message (or media piece) they hold.
   *
   * @param chunk Bytes from the socket, cut anywhere.
   * @param handle Receives each message.
   * @throws {RangeError} When a frame declares more than {@linkcode MAX_FRAME_BYTES}.
   */
  push(chunk: Uint8Array, handle: (message: ServerMessage) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left < 0) {
        const need = this.#headerBytes() - this.#headFill;
        const take = Math.min(need, chunk.length - at);
        this.#head.set(chunk.subarray(at, at + take), this.#headFill);
        this.#headFill += take;
        at += take;
        if (this.#headFill < this.#headerBytes()) continue;
        if (this.#startFrame()) continue;
      }
      const take = Math.min(this.#left, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      this.#left -= take;
      if (this.#type === FrameType.Media) {
        if (take > 0) handle(this.#media(piece));
      } else {
        this.#payload!.set(piece, this.#payloadFill);
        this.#payloadFill += take;
      }
      if (this.#left === 0) this.#endFrame(handle);
    }
  }

  /** Header bytes wanted before the payload: 5, or 13 once a media frame's type is known. */
  #headerBytes(): number {
    return this.#headFill >= FRAME_HEADER_BYTES && this.#head[4] === FrameType.Media
      ? FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES
      : FRAME_HEADER_BYTES;
  }

  /** @returns True when the header is not complete yet (a media frame's 8 more bytes). */
  #startFrame(): boolean {
    const view = new DataView(this.#head.buffer);
    const length = view.getUint32(0);
    if (length > MAX_FRAME_BYTES) {
      throw new RangeError(`Cannot decode frame: declared length ${length} exceeds the limit`);
    }
    this.#type = this.#head[4];
    if (this.#type === FrameType.Media) {
      if (length < MEDIA_HEADER_BYTES) throw new RangeError("Invalid media frame: too short");
      if (this.#headFill < FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES) return true;
      this.#streamId = view.getUint32(5);
      this.#index = view.getUint32(9);
      this.#left = length - MEDIA_HEADER_BYTES;
    } else {
      this.#left = length;
      this.#payload = new Uint8Array(length);
      this.#payloadFill = 0;
    }
    return false;
  }

  #media(data: Uint8Array): MediaMessage {
    return { type: "media", streamId: this.#streamId, index: this.#index, data };
  }

  #endFrame(handle: (message: ServerMessage) => void) {
    const type = this.#type;
    const payload = this.#payload;
    this.#left = -1;
    this.#headFill = 0;
    this.#payload = null;
    if (type === FrameType.Media) return;
    handle(decodeMessage({ type, payload: payload! }) as ServerMessage);
  }
}
