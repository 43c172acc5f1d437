/**
 * mpv as a first-class player, driven over its JSON IPC (`--input-ipc-server`): one mpv process
 * and one window for the whole session, across PAUSE, SEEK, QUALITY and new titles.
 *
 * Each epoch (a stream's start, or a jump's new start) is a named pipe (FIFO) that mpv opens with
 * `loadfile ... replace`: the window stays, and the new input replaces the old one between two
 * frames. mpv's demuxer cache is made seekable (`--demuxer-seekable-cache`, `--force-seekable`),
 * so `start=T` lands exactly on a frame inside the epoch's first segment: SEEK shows the
 * target's frame, and QUALITY, which first freezes the picture and reads the frame it holds,
 * continues at the next frame (none shown twice, none skipped). mpv keeps the stream's own
 * timestamps (`--rebase-start-time=no`: rebased, 0 would be the first audio packet, up to a few
 * frames before the keyframe), and the epoch's first video PTS, read from its first bytes
 * (`video/ts_pts.ts`), maps them to media time. PAUSE and RESUME set mpv's `pause` property, so
 * the picture continues from the frozen frame; the position on screen is mpv's own `time-pos`.
 * @module
 */

import { concat } from "../protocol/e2e.ts";
import type { StreamStartMessage } from "../protocol/messages.ts";
import { PLAYER_KILL_GRACE_MS, spawnPlayer } from "./player.ts";
import type { Player, PlayerStart } from "./player.ts";
import { firstVideoPts } from "../video/ts_pts.ts";
import {
  loadOptions,
  mpvArgs,
  type MpvJson,
  type MpvLine,
  mpvTitle,
  parseMpvLine,
} from "./mpv_command.ts";

export { isMpv } from "./mpv_command.ts";

/** How long mpv may take to open its IPC socket, ms. */
export const MPV_START_TIMEOUT_MS = 30_000;

/** How long an mpv whose input ended waits for the next one before it closes its window, ms. */
export const MPV_IDLE_CLOSE_MS = 3_000;

/** One mpv process, its IPC connection and the input it plays now. */
class MpvHost {
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;
  readonly #ipcPath: string;
  #conn?: Deno.Conn;
  readonly #connected: Promise<void>;
  #nextRequest = 1;
  readonly #replies = new Map<number, (line: MpvLine) => void>();
  /** Latest `time-pos`, and the entry it belongs to. */
  timePos?: number;
  /** The playlist entry playing now. */
  entry?: number;
  readonly #entryEnded = new Map<number, (reason: string) => void>();
  readonly #restarted = new Map<number, () => void>();
  /** The last entry whose first frame mpv showed (`playback-restart`). */
  #shownEntry?: number;
  #idleTimer?: ReturnType<typeof setTimeout>;
  #fifos = 0;
  gone = false;
  /** Why it was ended without being asked to (its IPC never opened). */
  failure?: string;
  /** Resolves once mpv exited. */
  readonly exited: Promise<number>;

  constructor(args: string[], dir: string, ipcPath: string) {
    this.#dir = dir;
    this.#ipcPath = ipcPath;
    this.#child = spawnPlayer(args, "null");
    this.exited = this.#child.status.then((s) => {
      this.gone = true;
      clearTimeout(this.#idleTimer);
      for (const end of this.#entryEnded.values()) end("quit");
      try {
        this.#conn?.close();
      } catch {
        // Closed already, when mpv closed its end.
      }
      Deno.remove(this.#dir, { recursive: true }).catch(() => {});
      return s.code;
    });
    this.#connected = this.#connect();
    this.#connected.catch((error) => {
      this.failure = (error as Error).message;
      return this.kill();
    });
  }

  async #connect(): Promise<void> {
    const started = performance.now();
    while (!this.gone) {
      try {
        this.#conn = await Deno.connect({ transport: "unix", path: this.#ipcPath });
        break;
      } catch {
        if (performance.now() - started > MPV_START_TIMEOUT_MS) {
          throw new Error(`mpv did not open its IPC socket within ${MPV_START_TIMEOUT_MS} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (this.#conn === undefined) throw new Error("mpv exited before it opened its IPC socket");
    this.#read(this.#conn).catch(() => {});
    this.#send(["observe_property", 1, "time-pos"]);
  }

  async #read(conn: Deno.Conn) {
    let text = "";
    for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      let cut: number;
      while ((cut = text.indexOf("\n")) >= 0) {
        const line = parseMpvLine(text.slice(0, cut));
        text = text.slice(cut + 1);
        if (line !== null) this.#onLine(line);
      }
    }
  }

  #onLine(line: MpvLine) {
    if (line.requestId !== undefined && line.event === undefined) {
      this.#replies.get(line.requestId)?.(line);
      this.#replies.delete(line.requestId);
    } else if (line.event === "property-change" && line.name === "time-pos") {
      this.timePos = typeof line.data === "number" ? line.data : undefined;
    } else if (line.event === "start-file" && line.entry !== undefined) {
      this.entry = line.entry;
      this.timePos = undefined;
    } else if (line.event === "playback-restart" && this.entry !== undefined) {
      this.#shownEntry = this.entry;
      this.#restarted.get(this.entry)?.();
      this.#restarted.delete(this.entry);
    } else if (line.event === "end-file" && line.entry !== undefined) {
      if (this.entry === line.entry) this.entry = undefined;
      this.#entryEnded.get(line.entry)?.(line.reason ?? "");
      this.#entryEnded.delete(line.entry);
    }
  }

  #send(command: MpvJson[], requestId = 0) {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ command, request_id: requestId }) + "\n",
    );
    const conn = this.#conn;
    if (conn === undefined || this.gone) return;
    conn.write(bytes).catch(() => {});
  }

  /** Sends a command once connected and resolves with its reply. */
  async request(command: MpvJson[]): Promise<MpvLine> {
    await this.#connected;
    const id = this.#nextRequest++;
    const reply = new Promise<MpvLine>((resolve) => this.#replies.set(id, resolve));
    this.#send(command, id);
    return await Promise.race([reply, this.exited.then(() => ({ error: "mpv exited" }))]);
  }

  /** A fresh named pipe in the session's folder. */
  async fifo(): Promise<string> {
    const path = `${this.#dir}/epoch-${++this.#fifos}.ts`;
    const made = await new Deno.Command("mkfifo", { args: ["-m", "600", path] }).output();
    if (made.code !== 0) throw new Error(`Cannot make a pipe for mpv: mkfifo exited ${made.code}`);
    return path;
  }

  /** Loads an input in place of the current one; resolves with its playlist entry. */
  async load(path: string, options: string, onEnd: (reason: string) => void): Promise<number> {
    clearTimeout(this.#idleTimer);
    const reply = await this.request(["loadfile", path, "replace", options]);
    const data = reply.data;
    const entry = typeof data === "object" && data !== null && !Array.isArray(data)
      ? data["playlist_entry_id"]
      : undefined;
    if (reply.error !== "success" || typeof entry !== "number") {
      throw new Error(`mpv refused the stream: ${reply.error ?? "no answer"}`);
    }
    this.#entryEnded.set(entry, onEnd);
    return entry;
  }

  /**
   * Resolves once the entry's first frame is on screen: mpv's `playback-restart` comes after the
   * first frame after a load or seek is shown (it waits for the VO to draw it). Its `time-pos` is
   * known earlier, on the `seek` before that frame is decoded, so it tells nothing here.
   */
  restarted(entry: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#shownEntry === entry) resolve();
      else this.#restarted.set(entry, resolve);
    });
  }

  /** Sets `pause`. */
  setPause(paused: boolean): Promise<MpvLine> {
    return this.request(["set_property", "pause", paused]);
  }

  /** Sets `speed` (it holds across inputs: the window's player, not the input's). */
  setSpeed(rate: number): Promise<MpvLine> {
    return this.request(["set_property", "speed", rate]);
  }

  /** Closes the window unless another input comes within {@linkcode MPV_IDLE_CLOSE_MS}. */
  idle() {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.kill(), MPV_IDLE_CLOSE_MS);
  }

  /** Quits mpv (SIGTERM, then SIGKILL after a grace); resolves once it exited. */
  async kill(): Promise<void> {
    clearTimeout(this.#idleTimer);
    if (this.gone) return;
    this.#signal("SIGTERM");
    this.#signal("SIGCONT");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) =>
        timer = setTimeout(() => resolve(false), PLAYER_KILL_GRACE_MS)
      ),
    ]);
    clearTimeout(timer);
    if (!exited) {
      this.#signal("SIGKILL");
      await this.exited;
    }
  }

  #signal(signal: Deno.Signal) {
    for (const pid of [-this.#child.pid, this.#child.pid]) {
      try {
        Deno.kill(pid, signal);
        return;
      } catch {
        // Not a group leader, or exited.
      }
    }
  }
}

/**
 * The session's mpv: started with the first stream, reused by every later one (jumps, new
 * titles) while it runs, closed by STOP, QUIT, a failure, or an idle window.
 */
export class MpvPlayers {
  readonly #spec: string;
  #host?: MpvHost;

  /** @param spec The `--player` value (mpv, possibly with options or a wrapper). */
  constructor(spec: string) {
    this.#spec = spec;
  }

  /**
   * A player for one epoch, in the running mpv's window (or a new mpv's).
   *
   * @param info The stream.
   * @param start Where to start in it.
   * @returns The player.
   */
  open(info: StreamStartMessage, start: PlayerStart): Player {
    let host = this.#host;
    if (host === undefined || host.gone) {
      const dir = Deno.makeTempDirSync({ prefix: "peerstream-mpv-" });
      host = new MpvHost(mpvArgs(this.#spec, info, `${dir}/ipc`), dir, `${dir}/ipc`);
      this.#host = host;
    }
    return new MpvPlayer(host, start, info.title);
  }

  /** Quits the running mpv, if any. */
  async close(): Promise<void> {
    await this.#host?.kill();
  }
}

/** Bytes an epoch may hold back while looking for its first video timestamp. */
const _PTS_SEARCH_BYTES = 2 * 1024 * 1024;

/**
 * One epoch's input into the session's mpv. It is loaded once its first bytes tell the first
 * video timestamp, so that its start lands on the exact frame.
 */
class MpvPlayer implements Player {
  readonly #host: MpvHost;
  readonly #start: PlayerStart;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #writer?: Promise<WritableStreamDefaultWriter<Uint8Array> | null>;
  #firstPts: number | null = null;
  #entry?: number;
  #done = false;
  /** PAUSE in effect for this input (mpv's `pause` is set to it once its first frame is up). */
  #paused: boolean;
  #shown = false;
  #exit!: (code: number) => void;
  #failure?: string;
  /** Resolves when its input ended on screen, it was replaced or killed, or mpv exited. */
  readonly exited: Promise<number>;

  readonly #title: string;

  constructor(host: MpvHost, start: PlayerStart, title: string) {
    this.#host = host;
    this.#start = start;
    this.#title = title;
    this.#paused = start.paused;
    this.exited = new Promise((resolve) => this.#exit = resolve);
    host.exited.then((code) => this.#exit(code));
  }

  /** Loads the input into mpv once; resolves with the pipe's writer, null when it failed. */
  #load(): Promise<WritableStreamDefaultWriter<Uint8Array> | null> {
    this.#writer ??= this.#open().catch((error) => {
      // mpv refused the input or is gone: the viewer sees the player exit, and why.
      this.#failure = this.#host.failure ?? (error as Error).message;
      this.#exit(1);
      return null;
    });
    return this.#writer;
  }

  async #open(): Promise<WritableStreamDefaultWriter<Uint8Array> | null> {
    const path = await this.#host.fifo();
    // Read and write: opening a pipe so never waits for mpv to open it (a refused load would
    // leave a write-only open waiting for ever); closing it is still mpv's end of input.
    const file = await Deno.open(path, { read: true, write: true });
    const writer = file.writable.getWriter();
    // Loaded frozen, and let go once its first frame is up: started running, mpv drops the
    // frames it decoded late on the way from the keyframe to the start (2 of them, measured).
    await this.#host.setPause(true);
    const options = loadOptions(this.#start, this.#firstPts);
    // A new title in the same window is named in it.
    this.#host.request(["set_property", "title", mpvTitle(this.#title)]).catch(() => {});
    const entry = await this.#host.load(path, options, (reason) => {
      this.#exit(0);
      // Played to its end (not replaced by the next input): close the window unless one comes.
      if (reason !== "stop" && this.#host.entry === undefined) this.#host.idle();
    });
    this.#entry = entry;
    this.#host.restarted(entry).then(() => {
      this.#shown = true;
      if (!this.#done && !this.#paused) this.#host.setPause(false).catch(() => {});
    });
    if (this.#done) {
      writer.abort().catch(() => {});
      return null;
    }
    return writer;
  }

  /** Writes into its pipe (the first bytes once its timestamp is known); false once it is gone. */
  /** Why its input ended on its own: mpv refused it, or never opened its IPC. */
  failure(): string | undefined {
    return this.#failure ?? this.#host.failure;
  }

  async write(data: Uint8Array): Promise<boolean> {
    if (this.#done) return false;
    let chunks = [data];
    if (this.#writer === undefined) {
      this.#held.push(data);
      this.#heldBytes += data.length;
      const bytes = _joined(this.#held);
      this.#firstPts = firstVideoPts(bytes);
      if (this.#firstPts === null && this.#heldBytes < _PTS_SEARCH_BYTES) return true;
      chunks = [bytes];
      this.#held = [];
    }
    const writer = await this.#load();
    if (writer === null || this.#done) return false;
    try {
      for (const chunk of chunks) await writer.write(chunk);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes its pipe: mpv plays out what it has; `exited` resolves at the end on screen. */
  async end(): Promise<void> {
    const held = _joined(this.#held);
    this.#held = [];
    const writer = await this.#load();
    if (held.length > 0) await writer?.write(held).catch(() => {});
    await writer?.close().catch(() => {});
  }

  /**
   * Ends its input at once. With `keepWindow` the next epoch's input replaces it in the same
   * window; without, mpv quits.
   */
  async kill(options: { keepWindow?: boolean } = {}): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      this.#writer?.then((w) => w?.abort().catch(() => {}));
    }
    if (options.keepWindow) this.#host.idle();
    else await this.#host.kill();
    this.#exit(0);
  }

  /** Freezes the picture (mpv's `pause`). */
  pause(): void {
    this.#paused = true;
    this.#host.setPause(true).catch(() => {});
  }

  /** Continues from the frozen frame (once its first frame is up, if it is not yet). */
  resume(): void {
    this.#paused = false;
    if (this.#shown) this.#host.setPause(false).catch(() => {});
  }

  /** Plays faster or slower (mpv's `speed`, its pitch kept), to follow a room's timeline. */
  setRate(rate: number): void {
    this.#host.setSpeed(rate).catch(() => {});
  }

  /**
   * Seconds into its input of the frame on screen (from mpv's `time-pos`); undefined until its
   * first frame is on screen (the previous input's picture is there until then).
   */
  position(): number | undefined {
    if (!this.#shown || this.#entry === undefined || this.#host.entry !== this.#entry) {
      return undefined;
    }
    return this.#media(this.#host.timePos);
  }

  /** Freezes it and reads the frame it holds. */
  async hold(): Promise<number | undefined> {
    await this.#host.setPause(true);
    const reply = await this.#host.request(["get_property", "time-pos"]);
    if (this.#entry === undefined || this.#host.entry !== this.#entry) return undefined;
    return this.#media(typeof reply.data === "number" ? reply.data : undefined);
  }

  /** mpv's timestamp as seconds from the input's first video frame. */
  #media(pts: number | undefined): number | undefined {
    if (pts === undefined) return undefined;
    return this.#firstPts === null ? pts : pts - this.#firstPts;
  }
}

/** The held parts as one array, without a copy when there is one part. */
function _joined(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concat(parts);
}
