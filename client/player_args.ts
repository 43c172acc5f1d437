/**
 * The player's command line, pure: splitting the `--player` value into words, the arguments
 * ffplay gets for a stream ({@linkcode playerArgs}), and whether the player needs a display
 * ({@linkcode needsDisplay}, {@linkcode checkDisplay}). `player.ts` runs the player.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";

/**
 * Splits a player command line into words, honouring single and double quotes.
 *
 * @param spec For example `mpv --vo=x11 -`.
 * @returns The words.
 * @throws {SyntaxError} On an unclosed quote or an empty command.
 */
export function splitCommand(spec: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | null = null;
  let any = false;
  for (const ch of spec) {
    if (quote !== null) {
      if (ch === quote) quote = null;
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (word !== "" || any) words.push(word);
      word = "";
      any = false;
    } else {
      word += ch;
    }
  }
  if (quote !== null) throw new SyntaxError(`Invalid player command: unclosed ${quote}`);
  if (word !== "" || any) words.push(word);
  if (words.length === 0) throw new SyntaxError("Invalid player command: it is empty");
  return words;
}

/** Index of the ffplay word in a player command (it may follow a wrapper such as `timeout`). */
function _ffplayAt(words: readonly string[]): number {
  return words.findIndex((w) => /(^|\/)ffplay$/.test(w));
}

/**
 * Builds the player's command line for a stream.
 *
 * For ffplay (also behind a wrapper such as `timeout 60 ffplay`) the input format is given and
 * probing is cut to the minimum, since ffplay's default probing waits about 5 s on a pipe; the
 * window is sized for the top rendition so that switching never resizes it; words after `ffplay`
 * (e.g. `ffplay -fs`) are kept. Other players get their words as given.
 *
 * @param spec `ffplay`, `none`, or a command such as `mpv -`.
 * @param info The stream's metadata.
 * @returns The command and its arguments, or null for `none`.
 */
export function playerArgs(spec: string, info: StreamStartMessage): string[] | null {
  if (spec === "none") return null;
  const words = splitCommand(spec);
  if (_ffplayAt(words) < 0) return words;
  const top = info.renditions[info.renditions.length - 1];
  return [
    // The user's own words (a wrapper, ffplay, its options such as -fs) come first; the input
    // options must stay last.
    ...words,
    "-hide_banner",
    "-loglevel",
    "error",
    "-autoexit",
    // Video is the master clock: after PAUSE (SIGSTOP) and RESUME, ffplay resets its frame timer
    // and continues from the frozen frame; with the audio clock it dropped the paused time's
    // frames to catch up (issue 18).
    "-sync",
    "video",
    // Its clock on stderr, every 30 ms (client/ffplay_status.ts): where its picture is, for
    // watching together (issue 21).
    "-stats",
    "-window_title",
    `peerstream: ${info.title}`,
    ...(top ? ["-x", String(top.width), "-y", String(top.height)] : []),
    "-probesize",
    "32",
    "-analyzeduration",
    "0",
    "-f",
    info.container === "mjpeg" ? "mjpeg" : "mpegts",
    ...(info.container === "mjpeg" ? ["-framerate", String(info.fps || 25)] : []),
    "-i",
    "pipe:0",
  ];
}

/**
 * Whether a player command needs a graphical display: ffplay, mpv (unless its video output is
 * `null`, `tct`, `caca`, `sixel` or `kitty`) and vlc do; `none` and anything else are not judged.
 *
 * @param spec The `--player` value.
 * @returns True for a player that opens a window.
 */
export function needsDisplay(spec: string): boolean {
  if (spec === "none") return false;
  const words = splitCommand(spec);
  if (_ffplayAt(words) >= 0) return !words.includes("-nodisp");
  const mpv = words.findIndex((w) => /(^|\/)mpv$/.test(w));
  if (mpv >= 0) return !words.some((w) => /^--vo=(null|tct|caca|sixel|kitty)\b/.test(w));
  return words.some((w) => /(^|\/)vlc$/.test(w));
}

/**
 * Checks that a player that needs a display has one, before a stream starts.
 *
 * @param spec The `--player` value.
 * @param env The environment (`DISPLAY`, `WAYLAND_DISPLAY`).
 * @throws {PeerstreamError} When there is no display, naming the alternatives.
 */
export function checkDisplay(spec: string, env: { get(name: string): string | undefined }): void {
  if (!needsDisplay(spec)) return;
  if ((env.get("DISPLAY") ?? "") !== "" || (env.get("WAYLAND_DISPLAY") ?? "") !== "") return;
  const program = splitCommand(spec).find((w) => /(ffplay|mpv|vlc)$/.test(w)) ?? spec;
  throw new PeerstreamError(
    "INTERNAL",
    `Cannot play with "${program}": there is no display (DISPLAY and WAYLAND_DISPLAY are unset); ` +
      `run the client where a display is (or under xvfb-run), or use --player none (checks the ` +
      `stream, shows nothing) or another player that needs no display with --player`,
  );
}
