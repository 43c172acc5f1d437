/**
 * A title's poster frame: one JPEG picture from a little way into the title, extracted by ffmpeg
 * once per title while the library prepares it and kept in the title's prepared folder beside its
 * segments, so that a restart (or another server sharing the cache) finds it made. The page shows
 * it on the title's card; the web door serves it (`server/door/web.ts`).
 * @module
 */

import { runTool } from "./ffmpeg.ts";

/** The poster's file name in a prepared folder. */
export const POSTER_NAME = "poster.jpg";
/** The poster's largest width, px (cards are at most a few hundred pixels wide). */
export const POSTER_WIDTH = 640;
/** How far into the title the poster is taken, as a share of its duration. */
export const POSTER_SHARE = 0.1;
/** The most bytes a poster file may have to be served (a JPEG at 640 px is far smaller). */
export const MAX_POSTER_BYTES = 2 * 1024 * 1024;

/**
 * When to take the poster: a tenth into the title (past a black or fading first frame), never
 * past half a second before its end.
 *
 * @param duration The title's duration, s.
 * @returns The instant, s.
 */
export function posterTime(duration: number): number {
  if (!(duration > 0)) return 0;
  const at = Math.min(duration * POSTER_SHARE, Math.max(0, duration - 0.5));
  return Math.round(at * 1000) / 1000;
}

/**
 * ffmpeg's arguments to write one JPEG frame of a source at an instant, at most
 * {@linkcode POSTER_WIDTH} wide.
 *
 * @param source The source file.
 * @param at The instant, s.
 * @param out The JPEG to write.
 * @returns The arguments.
 */
export function posterArgs(source: string, at: number, out: string): string[] {
  return [
    "-hide_banner",
    "-nostdin",
    "-y",
    "-v",
    "error",
    "-ss",
    String(at),
    "-i",
    source,
    "-frames:v",
    "1",
    "-vf",
    `scale='min(${POSTER_WIDTH},iw)':-2`,
    "-q:v",
    "4",
    "-f",
    "image2",
    out,
  ];
}

/** Options for {@linkcode ensurePoster}. */
export interface PosterOptions {
  /** Aborting kills ffmpeg. */
  signal?: AbortSignal;
}

/**
 * Makes a title's poster in its prepared folder, unless it is there already. Written to a
 * temporary name and renamed, so a reader never sees half a file.
 *
 * @param dir The title's prepared folder.
 * @param source The source file to take the frame from.
 * @param duration The title's duration, s.
 * @param options A signal.
 * @returns The poster's path.
 * @throws {Error} When ffmpeg fails or writes nothing, saying why.
 */
export async function ensurePoster(
  dir: string,
  source: string,
  duration: number,
  options: PosterOptions = {},
): Promise<string> {
  const path = `${dir}/${POSTER_NAME}`;
  try {
    if ((await Deno.stat(path)).size > 0) return path;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const temp = `${dir}/.poster-${crypto.randomUUID().slice(0, 8)}.jpg`;
  try {
    const result = await runTool("ffmpeg", posterArgs(source, posterTime(duration), temp), {
      signal: options.signal,
    });
    const size = await Deno.stat(temp).then((info) => info.size, () => 0);
    if (result.code !== 0 || size === 0) {
      const detail = result.stderr.trim().split("\n").pop()?.trim() || `exit code ${result.code}`;
      throw new Error(`Cannot make the poster of "${source}": ffmpeg wrote no picture (${detail})`);
    }
    await Deno.rename(temp, path);
    return path;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}
