/**
 * A connection's queue of control frames (pure): frames in the order sent, taken for a write
 * coalesced into one buffer up to {@linkcode COALESCE_BYTES}, so that many small replies leave in
 * one write while a large frame goes as it is, never copied.
 * @module
 */

/** The most bytes of small frames copied together into one write. */
export const COALESCE_BYTES = 64 * 1024;

/** Control frames waiting to be written. */
export class ControlQueue {
  #frames: Uint8Array[] = [];
  #bytes = 0;

  /** Bytes queued. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Frames (or coalesced runs of them) queued. */
  get length(): number {
    return this.#frames.length;
  }

  /**
   * Queues bytes (one or more whole frames), never modified.
   *
   * @param frame The bytes.
   */
  push(frame: Uint8Array): void {
    this.#frames.push(frame);
    this.#bytes += frame.length;
  }

  /**
   * Takes the next write: the first frame as it is when it is alone or at least
   * {@linkcode COALESCE_BYTES}, otherwise the frames in order that fit in that many bytes, copied
   * into one buffer.
   *
   * @returns The bytes to write; empty when nothing is queued.
   */
  take(): Uint8Array {
    const frames = this.#frames;
    if (frames.length === 0) return new Uint8Array(0);
    if (frames.length === 1 || frames[0].length >= COALESCE_BYTES) {
      const first = frames.shift()!;
      this.#bytes -= first.length;
      return first;
    }
    let size = 0;
    let count = 0;
    while (count < frames.length && size + frames[count].length <= COALESCE_BYTES) {
      size += frames[count].length;
      count++;
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of frames.splice(0, count)) {
      out.set(part, at);
      at += part.length;
    }
    this.#bytes -= size;
    return out;
  }

  /** Drops everything queued. */
  clear(): void {
    this.#frames = [];
    this.#bytes = 0;
  }
}
