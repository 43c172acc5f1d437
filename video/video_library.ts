/**
 * The server-facing video manager: scans the library (or generates the embedded samples), then
 * prepares titles in the background one at a time, so LIST can show which are still preparing.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import { suggestTitles } from "./catalog.ts";
import { ensureSampleLibrary, SAMPLE_TITLES, scanLibrary, type Title } from "./library_scan.ts";
import { prepareTitle } from "./segmenter.ts";
import { planLadder } from "./ladder.ts";
import { sweepStaleFolders } from "./prep_cache.ts";
import type { PreparedTitle, VideoCodec } from "./prepared_title.ts";
import { ensurePoster } from "./poster.ts";

/** Where a title is in its preparation. */
export type TitleStatus =
  | { state: "preparing"; progress: number }
  | { state: "ready" }
  | { state: "failed"; message: string };

/** What LIST shows about a title. */
export interface TitleSummary {
  /** The title. */
  title: string;
  /**
   * Resolution labels of its renditions (shorter sides), ascending: those preparation makes, the
   * same before and after.
   */
  heights: number[];
  /** Duration in seconds. */
  duration: number;
  /** Whether it has audio. */
  hasAudio: boolean;
  /** Its preparation status. */
  status: TitleStatus;
}

/** Options for {@linkcode VideoLibrary.open}. */
export interface VideoLibraryOptions {
  /** Folder of videos; `undefined` uses the embedded samples generated into `cacheDir`. */
  dir?: string;
  /** Cache folder for samples and prepared segments. */
  cacheDir: string;
  /** Codec of the prepared segments. @default {"h264"} */
  codec?: VideoCodec;
  /** Segment length in seconds. @default {2} */
  segmentSeconds?: number;
  /** Called with each log line (warnings, progress, timings). */
  onLog?: (line: string) => void;
  /** Aborting stops background preparation, like {@linkcode VideoLibrary.close}. */
  signal?: AbortSignal;
}

/**
 * The order titles are prepared in: those named in `first`, in that order, then the others by
 * name.
 *
 * @param titles The titles.
 * @param first Titles to prepare first (the samples, in the order the README uses them).
 * @returns The titles in preparation order.
 */
export function preparationOrder(titles: readonly string[], first: readonly string[]): string[] {
  const rank = (t: string) => first.includes(t) ? first.indexOf(t) : first.length;
  return [...titles].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function _count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

interface _Entry {
  title: Title;
  prepared: PreparedTitle | null;
  /** Its poster frame's file, once made. */
  poster: string | null;
  status: TitleStatus;
  done: Promise<PreparedTitle>;
  resolve: (p: PreparedTitle) => void;
  reject: (e: unknown) => void;
}

/**
 * The library of titles and their background preparation.
 *
 * @example
 * ```ts
 * const videos = await VideoLibrary.open({ cacheDir: "/tmp/peerstream" });
 * const prepared = await videos.ready("testcard");
 * await videos.close();
 * ```
 */
export class VideoLibrary {
  readonly #entries = new Map<string, _Entry>();
  readonly #abort = new AbortController();
  readonly #log: (line: string) => void;
  #worker: Promise<void> = Promise.resolve();
  #closed = false;
  /** The order titles are prepared in. */
  readonly #order: string[];

  private constructor(titles: Title[], log: (line: string) => void, first: readonly string[]) {
    this.#log = log;
    this.#order = preparationOrder(titles.map((t) => t.name), first);
    for (const title of titles) {
      let resolve!: (p: PreparedTitle) => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<PreparedTitle>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Nobody may be waiting: keep a rejection from being reported as unhandled.
      done.catch(() => {});
      this.#entries.set(title.name, {
        title,
        prepared: null,
        poster: null,
        status: { state: "preparing", progress: 0 },
        done,
        resolve,
        reject,
      });
    }
  }

  /**
   * Scan the library (generating the samples when no folder is given) and start preparing every
   * title in the background.
   *
   * @param options The folder, the cache, the codec, a log callback and a signal.
   * @returns The library; titles become ready one after another.
   * @throws {PeerstreamError} `VIDEO_NOT_FOUND` when the folder cannot be read, `VIDEO_FAILED`
   * when ffmpeg is missing.
   */
  static async open(options: VideoLibraryOptions): Promise<VideoLibrary> {
    const log = options.onLog ?? (() => {});
    options.signal?.throwIfAborted();
    const dir = options.dir ??
      await ensureSampleLibrary(options.cacheDir, { onProgress: log, signal: options.signal });
    const titles = await scanLibrary(dir, { onWarning: log, signal: options.signal });
    if (titles.length === 0) log(`No titles found in "${dir}"; add files such as NAME_720p.mp4`);
    // The samples are prepared in the order the README uses them: testcard first.
    const first = options.dir === undefined ? SAMPLE_TITLES.map((s) => s.name) : [];
    const library = new VideoLibrary(titles, log, first);
    if (options.signal) {
      const stop = () => library.#abort.abort(options.signal!.reason);
      if (options.signal.aborted) stop();
      else {options.signal.addEventListener("abort", stop, {
          once: true,
          signal: library.#abort.signal,
        });}
    }
    library.#worker = library.#prepareAll(options);
    return library;
  }

  async #prepareAll(options: VideoLibraryOptions): Promise<void> {
    const signal = this.#abort.signal;
    const swept = await sweepStaleFolders(options.cacheDir).catch(() => []);
    if (swept.length > 0) {
      this.#log(
        `Removed ${_count(swept.length, "folder")} left by an interrupted preparation`,
      );
    }
    for (const name of this.#order) {
      const entry = this.#entries.get(name)!;
      if (signal.aborted) break;
      const started = performance.now();
      let lastStep = 0;
      try {
        const prepared = await prepareTitle(entry.title, {
          cacheDir: options.cacheDir,
          codec: options.codec,
          segmentSeconds: options.segmentSeconds,
          signal,
          onLog: this.#log,
          onProgress: (fraction) => {
            entry.status = { state: "preparing", progress: fraction };
            const step = Math.floor(fraction * 10);
            if (step > lastStep && fraction < 1) {
              lastStep = step;
              this.#log(`Preparing "${name}": ${step * 10}%`);
            }
          },
        });
        entry.prepared = prepared;
        entry.poster = await this.#poster(entry.title, prepared, signal);
        entry.status = { state: "ready" };
        const segments = prepared.renditions[0]?.segments.length ?? 0;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const how = prepared.method === "remux" ? "by remuxing (no re-encode)" : "by encoding";
        const shape = `${_count(prepared.renditions.length, "rendition")}, ${
          _count(segments, "segment")
        }`;
        this.#log(
          prepared.cached
            ? `Ready "${name}" (${shape}), prepared earlier`
            : `Prepared "${name}" ${how} (${shape}) in ${seconds} s`,
        );
        entry.resolve(prepared);
      } catch (error) {
        if (signal.aborted) break;
        const message = error instanceof PeerstreamError
          ? error.message
          : `Cannot prepare "${name}": ${
            (error as Error)?.message ?? String(error)
          }; see the server log`;
        entry.status = { state: "failed", message };
        this.#log(message);
        entry.reject(
          error instanceof PeerstreamError
            ? error
            : new PeerstreamError("VIDEO_FAILED", message, { cause: error }),
        );
      }
    }
    for (const entry of this.#entries.values()) {
      if (entry.status.state === "preparing") {
        const message =
          `Cannot prepare "${entry.title.name}": the server is shutting down; try again later`;
        entry.status = { state: "failed", message };
        entry.reject(new PeerstreamError("SHUTTING_DOWN", message));
      }
    }
  }

  /**
   * Makes a title's poster frame once (kept in its prepared folder); a title without one still
   * plays, so a failure is logged, not thrown.
   */
  async #poster(title: Title, prepared: PreparedTitle, signal: AbortSignal) {
    const source = title.renditions.at(-1);
    if (prepared.dir === undefined || source === undefined) return null;
    try {
      return await ensurePoster(prepared.dir, source.path, prepared.duration, { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      this.#log(`${(error as Error).message}; its card shows no picture`);
      return null;
    }
  }

  /**
   * The file of a ready title's poster frame.
   *
   * @param title The exact title.
   * @returns Its path, or null when the title is unknown, not ready, or has no poster.
   */
  poster(title: string): string | null {
    const entry = this.#entries.get(title);
    return entry?.status.state === "ready" ? entry.poster : null;
  }

  /**
   * Every title with its status, sorted by title.
   *
   * @returns One summary per title.
   */
  list(): TitleSummary[] {
    return [...this.#entries.keys()].sort().map((name) => {
      const e = this.#entries.get(name)!;
      return {
        title: name,
        // While preparing: the heights preparation will make, so the labels do not change.
        heights: e.prepared
          ? e.prepared.renditions.map((r) => r.height)
          : planLadder(e.title.renditions.map((r) => r.height)).map((s) => s.height),
        duration: e.prepared?.duration ?? e.title.duration,
        hasAudio: e.prepared?.hasAudio ?? e.title.hasAudio,
        status: e.status,
      };
    });
  }

  /**
   * Look up one title by exact name.
   *
   * @param title The title.
   * @returns The title, its prepared form once ready, and its status; `null` when unknown.
   */
  get(title: string): { title: Title; prepared: PreparedTitle | null; status: TitleStatus } | null {
    const e = this.#entries.get(title);
    return e ? { title: e.title, prepared: e.prepared, status: e.status } : null;
  }

  /**
   * Wait until a title is prepared.
   *
   * @param title The title (exact name).
   * @returns The prepared title.
   * @throws {PeerstreamError} `VIDEO_NOT_FOUND` for an unknown title (with suggestions),
   * `VIDEO_FAILED` when preparation failed, `SHUTTING_DOWN` after {@linkcode VideoLibrary.close}.
   */
  ready(title: string): Promise<PreparedTitle> {
    const e = this.#entries.get(title);
    if (e === undefined) {
      const close = suggestTitles(title, [...this.#entries.keys()]);
      const hint = close.length > 0
        ? `did you mean ${close.map((t) => `"${t}"`).join(" or ")}?`
        : "run LIST to see titles";
      return Promise.reject(
        new PeerstreamError("VIDEO_NOT_FOUND", `Cannot play "${title}": no such title; ${hint}`),
      );
    }
    return e.done;
  }

  /** Stop background preparation, kill ffmpeg and wait for it to exit. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort(new PeerstreamError("SHUTTING_DOWN", "The video library is closing"));
    }
    await this.#worker;
  }
}
