/**
 * A shared, size-bounded LRU cache of segment bytes: one read of a segment serves every viewer.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";

/** Options for {@linkcode SegmentStore}. */
export interface SegmentStoreOptions {
  /** Most bytes kept in memory. @default {268435456} (256 MiB) */
  maxBytes?: number;
}

/** Default {@linkcode SegmentStoreOptions.maxBytes}: 256 MiB. */
export const DEFAULT_STORE_BYTES = 256 * 1024 * 1024;

/**
 * An LRU of segment files by path. Concurrent reads of the same path share one file read; a
 * segment larger than the whole budget is returned but not kept. Callers must not modify the bytes.
 *
 * @example
 * ```ts
 * const store = new SegmentStore({ maxBytes: 64 * 1024 * 1024 });
 * const bytes = await store.read(segment.path);
 * ```
 */
export class SegmentStore {
  readonly #maxBytes: number;
  #bytes = 0;
  // A Map iterates in insertion order: re-inserting on a hit keeps the least recent first.
  readonly #cache = new Map<string, Uint8Array>();
  readonly #pending = new Map<string, Promise<Uint8Array>>();

  /** @param options The memory budget. */
  constructor(options: SegmentStoreOptions = {}) {
    const max = options.maxBytes ?? DEFAULT_STORE_BYTES;
    if (!(max >= 0)) throw new RangeError(`Cannot create segment store: maxBytes ${max} < 0`);
    this.#maxBytes = max;
  }

  /** Bytes currently cached. */
  get size(): number {
    return this.#bytes;
  }

  /** Number of segments currently cached. */
  get count(): number {
    return this.#cache.size;
  }

  /**
   * Read a segment, from memory when cached.
   *
   * @param path The segment file.
   * @returns Its bytes (shared: do not modify).
   * @throws {PeerstreamError} `VIDEO_FAILED` when the file is missing or unreadable.
   */
  read(path: string): Promise<Uint8Array> {
    const hit = this.#cache.get(path);
    if (hit !== undefined) {
      this.#cache.delete(path);
      this.#cache.set(path, hit);
      return Promise.resolve(hit);
    }
    const pending = this.#pending.get(path);
    if (pending !== undefined) return pending;
    const promise = this.#load(path).finally(() => this.#pending.delete(path));
    this.#pending.set(path, promise);
    return promise;
  }

  /** Drop every cached segment. */
  clear(): void {
    this.#cache.clear();
    this.#bytes = 0;
  }

  async #load(path: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound
        ? "file not found"
        : (error as Error).message;
      throw new PeerstreamError(
        "VIDEO_FAILED",
        `Cannot read segment "${path}": ${why}; restart the server to prepare it again`,
        { cause: error },
      );
    }
    if (bytes.length <= this.#maxBytes) {
      this.#cache.set(path, bytes);
      this.#bytes += bytes.length;
      for (const [key, value] of this.#cache) {
        if (this.#bytes <= this.#maxBytes) break;
        this.#cache.delete(key);
        this.#bytes -= value.length;
      }
    }
    return bytes;
  }
}
