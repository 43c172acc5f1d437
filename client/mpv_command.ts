/**
 * mpv's side of the words (pure): whether a `--player` value is mpv, the session mpv's command
 * line, the options of each `loadfile`, and a checked line of its JSON IPC. `mpv.ts` runs the
 * process with them.
 * @module
 */

import type { StreamStartMessage } from "../protocol/messages.ts";
import type { PlayerStart } from "./player.ts";
import { splitCommand } from "./player.ts";

/**
 * Whether a `--player` value is mpv (also behind a wrapper such as `timeout 60 mpv`).
 *
 * @param spec The `--player` value.
 * @returns True for mpv.
 */
export function isMpv(spec: string): boolean {
  if (spec === "none") return false;
  return _mpvAt(splitCommand(spec)) >= 0;
}

function _mpvAt(words: readonly string[]): number {
  return words.findIndex((w) => /(^|\/)mpv$/.test(w));
}

/**
 * The command line of the session's mpv: the user's words (a trailing `-` dropped: the input comes
 * over IPC), then an idle mpv that keeps its window between inputs, listens on `ipcPath`, keeps a
 * seekable cache of what it read, and sizes its window for the top rendition.
 *
 * @param spec The `--player` value, e.g. `mpv` or `mpv --vo=x11`.
 * @param info The first stream (its title and top rendition size the window).
 * @param ipcPath The IPC socket's path.
 * @returns The command and its arguments.
 */
export function mpvArgs(spec: string, info: StreamStartMessage, ipcPath: string): string[] {
  const words = splitCommand(spec);
  if (words[words.length - 1] === "-" && words.length - 1 > _mpvAt(words)) words.pop();
  const top = info.renditions[info.renditions.length - 1];
  return [
    ...words,
    "--idle=yes",
    "--force-window=yes",
    "--keep-open=no",
    `--input-ipc-server=${ipcPath}`,
    "--no-terminal",
    `--title=${mpvTitle(info.title)}`,
    ...(top ? [`--geometry=${top.width}x${top.height}`] : []),
    // A seekable cache of everything read: `start=+S` lands on a frame inside a pipe.
    "--cache=yes",
    "--demuxer-seekable-cache=yes",
    "--force-seekable=yes",
    "--hr-seek=yes",
    "--rebase-start-time=no",
    // The format is known: no probing delay on a pipe.
    `--demuxer-lavf-format=${info.container === "mjpeg" ? "mjpeg" : "mpegts"}`,
  ];
}

/**
 * The window title for a stream's title, with `$` doubled: mpv expands `${property}` in titles,
 * and a title comes from the server.
 *
 * @param title The stream's title.
 * @returns `peerstream: <title>`, escaped for mpv.
 */
export function mpvTitle(title: string): string {
  return `peerstream: ${title}`.replaceAll("$", "$$$$");
}

/**
 * The options of one `loadfile`: where in the epoch to start (exactly, in the seekable cache).
 * Not `pause`: a file-local `pause` is restored when its file ends, which let the next input run
 * when it should have stayed frozen; `pause` is set as a property instead.
 *
 * @param start Where the player starts, in media time.
 * @param firstPts The stream timestamp of the epoch's first video frame (media time `origin`);
 * null when unknown (MJPEG): then relative to the input's start.
 * @returns mpv's per-file options, e.g. `start=7.480`.
 */
export function loadOptions(start: PlayerStart, firstPts: number | null): string {
  const offset = Math.max(0, start.at - start.origin);
  const at = firstPts === null ? `+${offset.toFixed(3)}` : (firstPts + offset).toFixed(3);
  return `start=${at}`;
}

/** A JSON value as mpv's IPC carries it. */
export type MpvJson = null | boolean | number | string | MpvJson[] | { [key: string]: MpvJson };

/** An event or reply line from mpv, checked. */
export interface MpvLine {
  /** An event's name (`end-file`, `property-change`, …). */
  event?: string;
  /** The observed property's name. */
  name?: string;
  /** The property's value, or a command's result. */
  data?: MpvJson;
  /** The observer's id. */
  id?: number;
  /** Why a file ended. */
  reason?: string;
  /** The playlist entry an event is about (`playlist_entry_id`). */
  entry?: number;
  /** The request a reply answers (`request_id`). */
  requestId?: number;
  /** A reply's status (`success`, or what went wrong). */
  error?: string;
}

/**
 * Reads one line of mpv's IPC: an object with known fields of the right types; anything else is
 * ignored field by field.
 *
 * @param line The line.
 * @returns The fields found, or null for a line that is not a JSON object.
 */
export function parseMpvLine(line: string): MpvLine | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  const str = (k: string) => typeof o[k] === "string" ? o[k] as string : undefined;
  const int = (k: string) => Number.isSafeInteger(o[k]) ? o[k] as number : undefined;
  return {
    event: str("event"),
    name: str("name"),
    data: o.data as MpvJson,
    id: int("id"),
    reason: str("reason"),
    entry: int("playlist_entry_id"),
    requestId: int("request_id"),
    error: str("error"),
  };
}
