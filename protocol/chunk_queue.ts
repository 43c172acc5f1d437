/**
 * Bytes that arrived in chunks, waiting to be read into a caller's buffer: the queue both ends of
 * a WebSocket keep (the page's `ByteTransport` over a browser WebSocket, and the server's
 * WebSocket transport for data that came with the upgrade), since a message may be larger or
 * smaller than the buffer a read offers.
 * @module
 */

/** Chunks in arrival order; a read takes what fits and leaves the rest. */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether nothing waits. */
  get empty(): boolean {
    return this.#bytes === 0;
  }

  /**
   * Queues a chunk behind the others; an empty one is dropped (it carries nothing to read).
   *
   * @param chunk The bytes, kept as they are (not copied).
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /**
   * Copies waiting bytes into `buffer`, in order, as many as fit.
   *
   * @param buffer Where to put them.
   * @returns How many bytes were copied: 0 only when nothing waits or `buffer` is empty.
   */
  take(buffer: Uint8Array): number {
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const count = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, count), n);
      n += count;
      if (count === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#bytes -= n;
    return n;
  }

  /** Drops everything waiting. */
  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }
}
