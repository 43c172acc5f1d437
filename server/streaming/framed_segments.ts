/**
 * Segments framed once and shared: a segment goes out as its `segment` message followed by its
 * media frames, and those bytes depend only on the segment's bytes and the message's fields. Nearly
 * every viewer streams with stream id 1 in epoch 0 (its first PLAY, no jump), so one framed copy
 * serves them all: each connection hands the same bytes to its socket in one write, copying and
 * encoding nothing per viewer.
 * @module
 */

import type { SegmentMessage } from "../../protocol/messages.ts";
import { encodeMediaFrames, encodeMessage } from "../../protocol/messages.ts";
import { STREAM_DEFAULTS } from "../limits.ts";

/** Options for {@linkcode FramedSegments}. */
export interface FramedSegmentsOptions {
  /** Most media bytes per frame: what a control frame may wait for beyond the write in flight. @default {STREAM_DEFAULTS.chunkBytes} */
  chunkBytes?: number;
  /**
   * Framed copies kept per segment (stream id, epoch and index), most recently used first; a
   * viewer whose copy is not among them gets one of its own while it sends. @default {4}
   */
  copiesPerSegment?: number;
}

/**
 * A cache of framed segments, held as long as their bytes are (a `WeakMap` keyed by the segment
 * bytes the segment store shares): when the store lets a segment go, its framed copies go too.
 *
 * @example
 * ```ts
 * const framed = new FramedSegments();
 * const data = await store.read(path);
 * const frames = framed.frames(data, { type: "segment", streamId: 1, epoch: 0, index: 0,
 *   height: 480, bitrate: 1_000_000, start: 0, duration: 2, bytes: data.length });
 * await connection.sendMediaFrames(1, frames);
 * ```
 */
export class FramedSegments {
  readonly #chunkBytes: number;
  readonly #copies: number;
  readonly #bySegment = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

  /** @param options The frame size and how many copies per segment to keep. */
  constructor(options: FramedSegmentsOptions = {}) {
    this.#chunkBytes = options.chunkBytes ?? STREAM_DEFAULTS.chunkBytes;
    this.#copies = options.copiesPerSegment ?? 4;
  }

  /**
   * A segment as it goes out: its `segment` message, then its media frames; shared, never to be
   * modified. The message's other fields (height, bit rate, start, duration, size) follow from
   * the segment's bytes, as the store shares one object per segment file.
   *
   * @param segment The segment's bytes, as the store shares them.
   * @param message The `segment` message announcing them (its `bytes` is `segment.length`).
   * @returns Whole frames: the message, then the media.
   */
  frames(segment: Uint8Array, message: SegmentMessage): Uint8Array {
    const key = `${message.streamId}:${message.epoch}:${message.index}`;
    let copies = this.#bySegment.get(segment);
    const hit = copies?.get(key);
    if (hit !== undefined) {
      // Most recently used last, so that the first entry is the one to let go.
      copies!.delete(key);
      copies!.set(key, hit);
      return hit;
    }
    const frames = this.#encode(segment, message);
    if (this.#copies < 1) return frames;
    if (copies === undefined) {
      copies = new Map();
      this.#bySegment.set(segment, copies);
    }
    copies.set(key, frames);
    if (copies.size > this.#copies) copies.delete(copies.keys().next().value!);
    return frames;
  }

  #encode(segment: Uint8Array, message: SegmentMessage): Uint8Array {
    const head = encodeMessage(message);
    const media = encodeMediaFrames(message.streamId, message.index, segment, {
      chunkBytes: this.#chunkBytes,
    });
    const out = new Uint8Array(head.length + media.length);
    out.set(head);
    out.set(media, head.length);
    return out;
  }
}
