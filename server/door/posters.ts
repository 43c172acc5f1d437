/**
 * The titles' poster frames for the web page: the library makes each once while it prepares the
 * title (`video/poster.ts`); this reads them through a small shared LRU, as segments are read, and
 * knows the path the page asks for them at.
 * @module
 */

import { MAX_POSTER_BYTES } from "../../video/poster.ts";
import { SegmentStore } from "../../video/segment_store.ts";

/** Where the page asks for a title's poster: `/posters/<title, percent-encoded>.jpg`. */
export const POSTER_PREFIX = "/posters/";

/** Bytes of posters kept in memory. */
export const POSTER_CACHE_BYTES = 16 * 1024 * 1024;

/** What posters are read from: the video library once it is open. */
export interface PosterLibrary {
  /** The file of a ready title's poster, or null. */
  poster(title: string): string | null;
}

/**
 * The title a poster path names.
 *
 * @param path The request's path, percent escapes kept.
 * @returns The title, or null when the path is not a poster's or does not decode.
 */
export function posterTitle(path: string): string | null {
  if (!path.startsWith(POSTER_PREFIX) || !path.endsWith(".jpg")) return null;
  const encoded = path.slice(POSTER_PREFIX.length, -".jpg".length);
  if (encoded === "" || encoded.includes("/")) return null;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return null;
  }
}

/** The posters of the library, read once and kept. */
export class PosterFiles {
  #library?: PosterLibrary;
  readonly #store = new SegmentStore({ maxBytes: POSTER_CACHE_BYTES });

  /**
   * Serves the posters of this library from now on.
   *
   * @param library The opened library.
   */
  setLibrary(library: PosterLibrary): void {
    this.#library = library;
  }

  /**
   * A title's poster.
   *
   * @param title The exact title.
   * @returns The JPEG's bytes, or null when there is none (unknown, not ready yet, no picture, or
   * a file too large to be one).
   */
  async read(title: string): Promise<Uint8Array | null> {
    const path = this.#library?.poster(title) ?? null;
    if (path === null) return null;
    try {
      const bytes = await this.#store.read(path);
      return bytes.length <= MAX_POSTER_BYTES ? bytes : null;
    } catch {
      return null;
    }
  }
}
