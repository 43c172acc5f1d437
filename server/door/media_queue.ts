/**
 * A connection's queued media (pure): whole media frames of a stream, often shared by every viewer
 * and never modified, with how far they are written and where the frame in progress ends, so that
 * the writer never splits a frame around a control message and a drop (STOP, SEEK) ends with the
 * frame in progress.
 * @module
 */

import { FRAME_HEADER_BYTES, readUint32 } from "../../protocol/frame.ts";

/** Media frames of one stream waiting to be written. */
export interface MediaItem {
  /** The stream they belong to. */
  streamId: number;
  /** Whole media frames, possibly shared with other connections: never modified. */
  frames: Uint8Array;
  /** Bytes of `frames` written so far. */
  at: number;
  /** Where the frame holding byte `at` starts. */
  frameStart: number;
  /** Where the frame holding byte `at` ends. */
  frameEnd: number;
  /** Dropped while partly written: it ends with the frame in progress. */
  dropped: boolean;
  /** Resolves once written, or dropped. */
  done: () => void;
}

/**
 * Where the frame starting at `start` ends: its header's length field says.
 *
 * @param frames Whole frames.
 * @param start The offset of a frame header.
 * @returns The offset after that frame, at most `frames.length`.
 */
export function frameEndAt(frames: Uint8Array, start: number): number {
  if (start + FRAME_HEADER_BYTES > frames.length) return frames.length;
  return Math.min(frames.length, start + FRAME_HEADER_BYTES + readUint32(frames, start));
}

/**
 * A media item with nothing written yet.
 *
 * @param streamId The stream.
 * @param options The whole frames, and what to call once they are written or dropped.
 * @returns The item.
 */
export function mediaItem(
  streamId: number,
  options: { frames: Uint8Array; done: () => void },
): MediaItem {
  const { frames, done } = options;
  return {
    streamId,
    frames,
    at: 0,
    frameStart: 0,
    frameEnd: frameEndAt(frames, 0),
    dropped: false,
    done,
  };
}

/**
 * Counts `n` more bytes of an item written, moving to the next frame past each one finished.
 *
 * @param media The item.
 * @param n Bytes the transport took.
 * @returns Whether the item is now all written.
 */
export function advance(media: MediaItem, n: number): boolean {
  media.at += n;
  while (media.at >= media.frameEnd && media.frameEnd < media.frames.length) {
    media.frameStart = media.frameEnd;
    media.frameEnd = frameEndAt(media.frames, media.frameStart);
  }
  return media.at >= media.frames.length;
}

/**
 * Drops a stream's queued media: items not started go (their `done` called); an item being
 * written, or with a frame in progress, stays marked `dropped`, to end with that frame.
 *
 * @param queue The queued items, in order.
 * @param options The stream, and the item a write is taking bytes of now, if any.
 * @returns The items that stay, in order.
 */
export function dropStream(
  queue: readonly MediaItem[],
  options: { streamId: number; inFlight: MediaItem | null },
): MediaItem[] {
  const keep: MediaItem[] = [];
  for (const item of queue) {
    if (item.streamId !== options.streamId) {
      keep.push(item);
    } else if (item === options.inFlight || item.at > item.frameStart) {
      item.dropped = true;
      keep.push(item);
    } else {
      item.done();
    }
  }
  return keep;
}
