/**
 * The video library as the server sees it while it opens: the server listens before its folders
 * are scanned, so LIST and PLAY must tell "still loading" from "failed" (with why), and `/readyz`
 * says which.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { VideoLibrary } from "../../video/video_library.ts";

/** The library: loading, open, or failed with a reason. */
export class VideoShelf {
  #videos?: VideoLibrary;
  #error?: string;
  /** Settles once the library is open (or cannot be): PLAY while loading is told then. */
  readonly #loaded = Promise.withResolvers<VideoLibrary>();

  /** @param videos The library when it is open already. */
  constructor(videos?: VideoLibrary) {
    // Nobody may be waiting when it fails: that is not an unhandled rejection.
    this.#loaded.promise.catch(() => {});
    if (videos !== undefined) this.open(videos);
  }

  /**
   * The library is open.
   *
   * @param videos The library.
   */
  open(videos: VideoLibrary): void {
    this.#videos = videos;
    this.#loaded.resolve(videos);
  }

  /**
   * The library cannot be opened.
   *
   * @param message What went wrong, with a remedy.
   */
  fail(message: string): void {
    this.#error = message;
    this.#loaded.reject(new PeerstreamError("VIDEO_FAILED", message));
  }

  /**
   * The library, for a request that needs it now.
   *
   * @returns The open library.
   * @throws {PeerstreamError} `VIDEO_FAILED` with why, or `VIDEO_NOT_READY` while loading.
   */
  require(): VideoLibrary {
    if (this.#videos !== undefined) return this.#videos;
    if (this.#error !== undefined) {
      throw new PeerstreamError("VIDEO_FAILED", `This server has no videos: ${this.#error}`);
    }
    throw new PeerstreamError(
      "VIDEO_NOT_READY",
      "The video library is still loading; try again in a moment",
    );
  }

  /**
   * Waits for the library.
   *
   * @returns The library once open; rejects with `VIDEO_FAILED` when it cannot be.
   */
  loaded(): Promise<VideoLibrary> {
    return this.#loaded.promise;
  }

  /**
   * Why the library cannot serve now, for `/readyz`.
   *
   * @returns Undefined when open, or the reason.
   */
  notReady(): string | undefined {
    if (this.#error !== undefined) return `the video library failed: ${this.#error}`;
    if (this.#videos === undefined) return "the video library is still loading";
    return undefined;
  }

  /** Closes the library, if it was opened. */
  async close(): Promise<void> {
    await this.#videos?.close();
  }
}
