/**
 * The player: a subprocess (ffplay by default) fed the stream on its stdin. Nothing of the video
 * touches the disk. With `--player none`, a validator counts and checks what arrives instead.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";
import type { MediaSink } from "./session.ts";
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../video/ts_packet.ts";

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

/**
 * Builds the player's command line for a stream.
 *
 * For ffplay the input format is given and probing is cut to the minimum, since ffplay's default
 * probing waits about 5 s on a pipe; the window is sized for the top rendition so that switching up
 * does not shrink the picture; words after `ffplay` (e.g. `ffplay -fs`) are kept. Other players
 * get their words as given.
 *
 * @param spec `ffplay`, `none`, or a command such as `mpv -`.
 * @param info The stream's metadata.
 * @returns The command and its arguments, or null for `none`.
 */
export function playerArgs(spec: string, info: StreamStartMessage): string[] | null {
  if (spec === "none") return null;
  const words = splitCommand(spec);
  if (!/(^|\/)ffplay$/.test(words[0])) return words;
  const top = info.renditions[info.renditions.length - 1];
  return [
    words[0],
    // The user's own ffplay options (e.g. -fs) come first; the input options must stay last.
    ...words.slice(1),
    "-hide_banner",
    "-loglevel",
    "error",
    "-autoexit",
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
 * Finds a command on PATH, so that a missing player is reported before the stream starts.
 *
 * @param command A name or a path.
 * @returns The path found, or null.
 */
export function findExecutable(command: string): string | null {
  const candidates = command.includes("/")
    ? [command]
    : (Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((dir) => `${dir}/${command}`);
  for (const path of candidates) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // Not here.
    }
  }
  return null;
}

/**
 * Checks that a player command can run.
 *
 * @param spec The `--player` value.
 * @throws {PeerstreamError} When its program is not found.
 */
export function checkPlayer(spec: string): void {
  if (spec === "none") return;
  const program = splitCommand(spec)[0];
  if (findExecutable(program) === null) {
    throw new PeerstreamError(
      "INTERNAL",
      `Cannot start player "${program}": not found; install it (apt-get install ffmpeg gives ffplay) or choose one with --player`,
    );
  }
}

/** Counts and checks the bytes of a stream without playing them. */
export class ValidatingSink implements MediaSink {
  /** What the stream carries. */
  readonly container: "mpegts" | "mjpeg";
  #offset = 0;
  /** Media bytes received. */
  bytes = 0;
  /** Sync errors found (MPEG-TS packets not starting with 0x47). */
  errors = 0;
  /** Whole MPEG-TS packets, or JPEG images, seen. */
  units = 0;
  #lastByte = -1;
  /** How the stream ended, once it did. */
  ended?: "finished" | "stopped" | "error";

  /** @param container What the stream carries. */
  constructor(container: "mpegts" | "mjpeg") {
    this.container = container;
  }

  /** Checks a chunk. */
  write(data: Uint8Array): void {
    if (this.container === "mpegts") {
      // A packet boundary falls every 188 bytes from the start of the stream.
      let at = (TS_PACKET_SIZE - (this.#offset % TS_PACKET_SIZE)) % TS_PACKET_SIZE;
      for (; at < data.length; at += TS_PACKET_SIZE) {
        if (data[at] !== TS_SYNC_BYTE) this.errors++;
        this.units++;
      }
    } else {
      for (let i = 0; i < data.length; i++) {
        const prev = i === 0 ? this.#lastByte : data[i - 1];
        if (prev === 0xff && data[i] === 0xd8) this.units++;
      }
      this.#lastByte = data.length > 0 ? data[data.length - 1] : this.#lastByte;
    }
    this.#offset += data.length;
    this.bytes += data.length;
  }

  /** Records the end. */
  close(reason: "finished" | "stopped" | "error"): void {
    this.ended = reason;
  }
}

/** How long a player may take to exit after SIGTERM on STOP before it gets SIGKILL, ms. */
export const PLAYER_KILL_GRACE_MS = 2_000;

/** Options for {@linkcode PlayerSink}. */
export interface PlayerSinkOptions {
  /** Called once if the player exits before the stream ends (the user closed its window). */
  onExit?: (code: number) => void;
}

/** Pipes a stream into a player subprocess. */
export class PlayerSink implements MediaSink {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #closed = false;
  #exited = false;
  /** Resolves with the player's exit code. */
  readonly status: Promise<number>;

  /**
   * Starts the player.
   *
   * @param args The command and its arguments, from {@linkcode playerArgs}.
   * @param options Exit callback.
   * @throws {PeerstreamError} When the player cannot be started.
   */
  constructor(args: string[], options: PlayerSinkOptions = {}) {
    try {
      this.#child = new Deno.Command(args[0], {
        args: args.slice(1),
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      throw new PeerstreamError(
        "INTERNAL",
        `Cannot start player "${args[0]}": ${(error as Error).message}; choose one with --player`,
        { cause: error },
      );
    }
    this.#writer = this.#child.stdin.getWriter();
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      if (!this.#closed) options.onExit?.(s.code);
      return s.code;
    });
  }

  /** Writes a chunk to the player; a player that went away is ignored here (see onExit). */
  async write(data: Uint8Array): Promise<void> {
    if (this.#closed || this.#exited) return;
    try {
      await this.#writer.write(data);
    } catch {
      // The player closed its input; onExit reports it.
    }
  }

  /**
   * Ends the player: on `finished` it closes the player's input and lets it play out what it has
   * (await {@linkcode PlayerSink.status} to wait for that); otherwise it kills the player (SIGTERM,
   * then SIGKILL after {@linkcode PLAYER_KILL_GRACE_MS}) and waits for it to exit.
   */
  async close(reason: "finished" | "stopped" | "error"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (reason === "finished") await this.#writer.close();
      else this.#writer.close().catch(() => {});
    } catch {
      // Already closed.
    }
    if (reason === "finished") return;
    this.kill();
    // A player may ignore SIGTERM (mpv with its default video output under Xvfb does): waiting for
    // it forever would stall the session's read loop, so it gets SIGKILL after a grace period.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.status.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), PLAYER_KILL_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
      await this.status;
    }
  }

  /** Kills the player if it still runs. */
  kill(): void {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  }
}
