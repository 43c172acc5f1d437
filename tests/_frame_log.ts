/**
 * A real-time player for `join --player` whose every decoded frame is logged, and a follower of
 * those logs (issue 22): `ffmpeg -re -i pipe:0 -vf showinfo -f null -` reads at playback speed, as
 * a person's player does, and writes one showinfo line per frame to `<dir>/<its pid>.log`, which
 * {@linkcode FrameLog} polls. A frame's time is when its line was read (good to the poll
 * interval).
 * @module
 */

import type { ShownFrame } from "./_playback_stats.ts";

/** A frame a player decoded. */
export interface DecodedFrame extends ShownFrame {
  /** The player process. */
  pid: number;
}

/**
 * The `--player` value of a real-time player whose frames go to `<dir>/<its pid>.log`, under
 * `timeout -s KILL` (a player must never outlive a test).
 *
 * @param dir A folder of its own.
 * @param limitSeconds The player's longest life. @default {300}
 * @returns The player command.
 */
export function loggingPlayer(dir: string, limitSeconds = 300): string {
  // The shell expands $$ to its pid, which exec hands on to ffmpeg.
  return `timeout -s KILL ${limitSeconds} sh -c "exec ffmpeg -hide_banner -loglevel info -nostats -re -i pipe:0 -vf showinfo -f null - 2>${dir}/$$.log"`;
}

/** Follows the showinfo logs of every player started with {@linkcode loggingPlayer}. */
export class FrameLog {
  /** Every frame so far, in the order read. */
  readonly frames: DecodedFrame[] = [];
  readonly #dir: string;
  readonly #files = new Map<string, { file: Deno.FsFile; partial: string }>();
  readonly #buffer = new Uint8Array(64 * 1024);
  readonly #pollMs: number;
  #running = true;
  readonly #loop: Promise<void>;

  /**
   * Starts following a folder.
   *
   * @param dir The players' folder.
   * @param pollMs How often to read. @default {20}
   */
  constructor(dir: string, pollMs = 20) {
    this.#dir = dir;
    this.#pollMs = pollMs;
    this.#loop = this.#poll();
  }

  async #poll() {
    while (this.#running) {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (entry.name.endsWith(".log")) await this.#read(entry.name);
      }
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
    for (const { file } of this.#files.values()) file.close();
  }

  /** Reads what was appended since the last poll (the logs only grow). */
  async #read(name: string) {
    let log = this.#files.get(name);
    if (log === undefined) {
      log = { file: await Deno.open(`${this.#dir}/${name}`), partial: "" };
      this.#files.set(name, log);
    }
    const pid = Number(name.replace(".log", ""));
    while (true) {
      const n = await log.file.read(this.#buffer);
      if (n === null || n === 0) return;
      const now = performance.now();
      const text = log.partial + new TextDecoder().decode(this.#buffer.subarray(0, n));
      const lines = text.split("\n");
      log.partial = lines.pop()!;
      for (const line of lines) {
        const m = /\bn:\s*\d+ .*?\bs:(\d+)x(\d+)/.exec(line);
        if (m) this.frames.push({ pid, at: now, height: Number(m[2]) });
      }
    }
  }

  /**
   * Waits for the first frame after a moment that matches a test.
   *
   * @param since performance.now() time.
   * @param test Which frame.
   * @param timeoutMs The deadline.
   * @returns The frame, or null at the deadline.
   */
  async first(
    since: number,
    test: (f: DecodedFrame) => boolean,
    timeoutMs: number,
  ): Promise<DecodedFrame | null> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      const found = this.frames.find((f) => f.at >= since && test(f));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
    return null;
  }

  /** Stops following and closes the logs. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}
