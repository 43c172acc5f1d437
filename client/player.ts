/**
 * The player: a subprocess (ffplay by default) fed the stream on its stdin. Nothing of the video
 * touches the disk. With `--player none`, a validator counts and checks what arrives instead.
 *
 * PAUSE freezes the picture for any player by stopping its process (SIGSTOP, and SIGCONT on
 * RESUME): no player needs a control channel, and a stopped player also stops reading, which the
 * playout queue notices like a player paused from its own window. Signals go to the player's
 * process group when it leads one (`timeout` and `setsid` wrappers do), else to the process.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { MediaSink } from "./session.ts";
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../video/ts_packet.ts";
import { splitCommand } from "./player_args.ts";
import { parseFfplayStatus } from "./ffplay_status.ts";
import { concat } from "../protocol/e2e.ts";
import { firstVideoPts } from "../video/ts_pts.ts";

export { checkDisplay, needsDisplay, playerArgs, splitCommand } from "./player_args.ts";

/** A running player as the viewer drives it (see `viewer.ts`). */
export interface Player {
  /**
   * Hands bytes to the player.
   *
   * @returns True once it took them, false when it is gone.
   */
  write(data: Uint8Array): Promise<boolean>;
  /** Closes its input: it plays out what it has, then exits. */
  end(): Promise<void>;
  /**
   * Ends it at once; resolves once it exited.
   *
   * @param options `keepWindow`: another player takes over at once (a jump, a new title), so a
   * player that can keep its window (mpv) keeps it. @default {false}
   */
  kill(options?: { keepWindow?: boolean }): Promise<void>;
  /** Freezes it (PAUSE). */
  pause(): void;
  /** Continues it (RESUME). */
  resume(): void;
  /** Resolves with its exit code once it exited, whoever ended it. */
  readonly exited: Promise<number>;
  /** What a validating player counted; none for a real player. */
  readonly stats?: PlayerStats;
  /**
   * Why it ended on its own, in a few words (its last error line, its exit code, a refused
   * start), once it exited; undefined when it ended well or was ended.
   */
  failure?(): string | undefined;
  /**
   * Seconds into its input of the frame on screen, when the player can tell (mpv over its IPC);
   * undefined before its first frame or when it cannot.
   */
  position?(): number | undefined;
  /**
   * Freezes it and resolves with the exact position of the frame it holds (mpv), so that a jump
   * can continue at the next frame; undefined when it cannot tell.
   */
  hold?(): Promise<number | undefined>;
  /**
   * Plays faster or slower (1 is normal), for a small drift from a room's timeline (mpv's
   * `speed`); absent when the player cannot change its rate while playing (ffplay).
   */
  setRate?(rate: number): void;
}

/** Where a player starts in its input: a jump lands inside the first segment. */
export interface PlayerStart {
  /** Media time of the input's first byte: the epoch's first segment. */
  origin: number;
  /** Media time to show first (a player that can start there exactly does). */
  at: number;
  /** Start frozen (PAUSE in effect). */
  paused: boolean;
}

/** What `--player none` counted. */
export interface PlayerStats {
  /** What the stream carries. */
  container: "mpegts" | "mjpeg";
  /** Media bytes. */
  bytes: number;
  /** MPEG-TS packets, or JPEG images. */
  units: number;
  /** MPEG-TS sync errors. */
  errors: number;
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

/** A {@linkcode Player} that only counts and checks what it is given (`--player none`). */
export class ValidatingPlayer implements Player {
  readonly #sink: ValidatingSink;
  readonly #exited: Promise<number>;
  #exit!: (code: number) => void;

  /** @param container What the stream carries. */
  constructor(container: "mpegts" | "mjpeg") {
    this.#sink = new ValidatingSink(container);
    this.#exited = new Promise((resolve) => this.#exit = resolve);
  }

  /** What it counted so far. */
  get stats(): PlayerStats {
    const { container, bytes, units, errors } = this.#sink;
    return { container, bytes, units, errors };
  }

  /** Resolves with 0 once ended or killed. */
  get exited(): Promise<number> {
    return this.#exited;
  }

  /** Counts and checks the bytes. */
  write(data: Uint8Array): Promise<boolean> {
    this.#sink.write(data);
    return Promise.resolve(true);
  }

  /** Ends at once: it has nothing to play out. */
  end(): Promise<void> {
    this.#exit(0);
    return Promise.resolve();
  }

  /** Ends at once. */
  kill(): Promise<void> {
    this.#exit(0);
    return Promise.resolve();
  }

  /** Nothing to freeze. */
  pause(): void {}

  /** Nothing to continue. */
  resume(): void {}
}

let guard: string[] | undefined;

/**
 * What a player command is prefixed with so that it dies with the client: on Linux, util-linux's
 * `setpriv --pdeathsig KILL` (the kernel signals the player when the client's main thread ends,
 * even after a SIGKILL, when the client could not resume a paused, that is stopped, player); on
 * other systems, or without `setpriv`, nothing.
 *
 * @returns The prefix, possibly empty.
 */
export function orphanGuard(): readonly string[] {
  guard ??= Deno.build.os === "linux" && findExecutable("setpriv") !== null
    ? ["setpriv", "--pdeathsig", "KILL", "--"]
    : [];
  return guard;
}

/** How long a player may take to exit after SIGTERM before it gets SIGKILL, ms. */
export const PLAYER_KILL_GRACE_MS = 2_000;

/**
 * Starts a player process under {@linkcode orphanGuard}, its output discarded.
 *
 * @param args The command and its arguments.
 * @param stdin `piped` for a player fed on its standard input, `null` for one fed otherwise.
 * @returns The process.
 * @throws {PeerstreamError} When the player cannot be started.
 */
export function spawnPlayer(
  args: string[],
  stdin: "piped" | "null",
  stderr: "piped" | "null" = "null",
): Deno.ChildProcess {
  // A program that is not there fails to spawn here, not later inside the guard.
  const command = findExecutable(args[0]) === null ? args : [...orphanGuard(), ...args];
  try {
    return new Deno.Command(command[0], {
      args: command.slice(1),
      stdin,
      stdout: "null",
      stderr,
    }).spawn();
  } catch (error) {
    throw new PeerstreamError(
      "INTERNAL",
      `Cannot start player "${args[0]}": ${(error as Error).message}; choose one with --player`,
      { cause: error },
    );
  }
}

/** Bytes a player's input is searched for its first video timestamp. */
const _PTS_SEARCH_BYTES = 2 * 1024 * 1024;

/** A player subprocess fed on its stdin. */
export class PlayerProcess implements Player {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #name: string;
  #inputClosed = false;
  #gone = false;
  #killed = false;
  #code = 0;
  /** The player's last line on stderr (ffplay is told to print errors only). */
  #lastWords = "";
  /** ffplay's clock from its last status line (`-stats`), and when it came. */
  #status?: number | null;
  /** The first video timestamp of its input, once its first bytes told it. */
  #firstPts: number | null = null;
  /** Its first bytes, kept until they tell the first video timestamp. */
  #head: Uint8Array[] | undefined = [];
  #headBytes = 0;
  /**
   * Seconds into its input of the frame on screen, from ffplay's own clock (its status line,
   * `client/ffplay_status.ts`); only for a player started with `-stats`.
   */
  readonly position?: () => number | undefined;
  /** Resolves with the player's exit code. */
  readonly exited: Promise<number>;

  /**
   * Starts the player.
   *
   * @param args The command and its arguments, from `playerArgs` (`player_args.ts`).
   * @throws {PeerstreamError} When the player cannot be started.
   */
  constructor(args: string[]) {
    this.#child = spawnPlayer(args, "piped", "piped");
    this.#name = args[0];
    this.#writer = this.#child.stdin.getWriter();
    // Its clock is in the stream's timestamps: MPEG-TS only (MJPEG through a pipe has none).
    const ts = args.some((word, i) => word === "-f" && args[i + 1] === "mpegts");
    if (args.includes("-stats") && ts) this.position = () => this.#shown();
    else this.#head = undefined;
    const said = this.#listen(this.#child.stderr);
    this.exited = this.#child.status.then(async (s) => {
      this.#gone = true;
      this.#code = s.code;
      await said;
      return s.code;
    });
  }

  /** Why it ended on its own: its exit code and last error line; undefined when it was ended. */
  failure(): string | undefined {
    if (!this.#gone || this.#killed || this.#code === 0) return undefined;
    const words = this.#lastWords === "" ? "" : `: ${this.#lastWords}`;
    return `${this.#name} exited with code ${this.#code}${words}`;
  }

  /**
   * Keeps the last line the player said, bounded, until its stderr ends; ffplay's status lines
   * set its clock instead.
   */
  async #listen(stderr: ReadableStream<Uint8Array>) {
    let rest = "";
    try {
      for await (const text of stderr.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split(/\r?\n|\r/);
        // A line cut by the chunk waits for its end (bounded: a player's lines are short).
        rest = lines.pop()!.slice(-1000);
        for (const line of lines) {
          const clock = parseFfplayStatus(line);
          if (clock !== undefined) this.#status = clock;
          else if (line.trim() !== "") this.#lastWords = line.trim().slice(0, 200);
        }
      }
    } catch {
      // The pipe broke with the process: what was said stays.
    }
  }

  /** ffplay's clock as seconds into its input; undefined before its first frame. */
  #shown(): number | undefined {
    if (this.#status === undefined || this.#status === null || this.#firstPts === null) {
      return undefined;
    }
    return Math.max(0, this.#status - this.#firstPts);
  }

  /** Looks for the first video timestamp in the first bytes written (with `-stats` only). */
  #scan(data: Uint8Array) {
    const head = this.#head;
    if (head === undefined) return;
    head.push(data);
    this.#headBytes += data.length;
    this.#firstPts = firstVideoPts(head.length === 1 ? head[0] : concat(head));
    if (this.#firstPts !== null || this.#headBytes > _PTS_SEARCH_BYTES) this.#head = undefined;
  }

  /** The player's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Writes to the player's input; false once it is gone or closed its input. */
  async write(data: Uint8Array): Promise<boolean> {
    if (this.#gone || this.#inputClosed) return false;
    this.#scan(data);
    try {
      await this.#writer.write(data);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the player's input; it plays out what it has (await {@linkcode exited}). */
  async end(): Promise<void> {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    await this.#writer.close().catch(() => {});
  }

  /**
   * Ends the player at once: SIGTERM (and SIGCONT, since a stopped process acts on nothing),
   * then SIGKILL after {@linkcode PLAYER_KILL_GRACE_MS} if it ignores SIGTERM (mpv with its
   * default video output under Xvfb does); resolves once it exited.
   */
  async kill(): Promise<void> {
    this.#killed = true;
    if (!this.#inputClosed) {
      this.#inputClosed = true;
      this.#writer.close().catch(() => {});
    }
    if (this.#gone) return;
    this.#signal("SIGTERM");
    this.#signal("SIGCONT");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), PLAYER_KILL_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!exited) {
      this.#signal("SIGKILL");
      await this.exited;
    }
  }

  /** Freezes the player (SIGSTOP): the picture stays, nothing is read. */
  pause(): void {
    this.#signal("SIGSTOP");
  }

  /** Continues a frozen player (SIGCONT). */
  resume(): void {
    this.#signal("SIGCONT");
  }

  #signal(signal: Deno.Signal) {
    if (this.#gone) return;
    try {
      // A wrapper such as `timeout` leads its own process group: reach the real player too.
      Deno.kill(-this.#child.pid, signal);
      return;
    } catch {
      // Not a group leader: the player shares the client's group.
    }
    try {
      Deno.kill(this.#child.pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }
}
