/**
 * Segments framed once and shared: the media frames of a segment depend only on its bytes, the
 * stream id and the segment index, and nearly every viewer's stream id is 1 (its first PLAY), so
 * one framed copy serves them all and each connection writes the same bytes, copying nothing.
 * @module
 */

import { encodeMediaFrames } from "../../protocol/messages.ts";
import { STREAM_DEFAULTS } from "../limits.ts";

/** Options for {@linkcode FramedSegments}. */
export interface FramedSegmentsOptions {
  /** Most media bytes per frame: what a control frame may wait for beyond the write in flight. @default {STREAM_DEFAULTS.chunkBytes} */
  chunkBytes?: number;
  /**
   * Framed copies kept per segment (stream id and index pairs), most recently used first; a
   * viewer whose pair is not among them gets a copy of its own while it sends. @default {4}
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
 * const frames = framed.frames(await store.read(path), { streamId: 1, index: 0 });
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
   * The media frames of a segment for one stream id and index: shared, never to be modified.
   *
   * @param segment The segment's bytes, as the store shares them.
   * @param options The stream id and segment index the frames carry.
   * @returns Whole media frames.
   */
  frames(segment: Uint8Array, options: { streamId: number; index: number }): Uint8Array {
    const key = `${options.streamId}:${options.index}`;
    let copies = this.#bySegment.get(segment);
    const hit = copies?.get(key);
    if (hit !== undefined) {
      // Most recently used last, so that the first entry is the one to let go.
      copies!.delete(key);
      copies!.set(key, hit);
      return hit;
    }
    const frames = encodeMediaFrames(options.streamId, options.index, segment, {
      chunkBytes: this.#chunkBytes,
    });
    if (this.#copies < 1) return frames;
    if (copies === undefined) {
      copies = new Map();
      this.#bySegment.set(segment, copies);
    }
    copies.set(key, frames);
    if (copies.size > this.#copies) copies.delete(copies.keys().next().value!);
    return frames;
  }
}
