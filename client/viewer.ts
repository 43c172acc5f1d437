/**
 * The viewer: what plays on screen, driven by the user's commands and the server's stream. It
 * owns the player (at most one, ever), the bounded playout queue between the socket and the
 * player, the task that drains that queue into the player, and the on-screen position.
 *
 * - Media from the session goes into the queue at once; a separate task writes it to the player,
 *   so the socket is never read at the player's pace. When the queue passes its bound (the
 *   player stopped reading, is paused in its own window, or is slower than real time) the stream
 *   is held on the server with `pause`, and resumed once the queue drains.
 * - Playback lasts until the player exits: after the last byte arrived, STOP, PAUSE, SEEK and
 *   QUALITY still work (a jump then starts a new stream at that position).
 * - A jump (SEEK, or QUALITY with a height) restarts the player at the new epoch's first segment,
 *   so it shows within about a second instead of after the old buffered lead; `auto` switches
 *   never restart it.
 *
 * This file holds the commands and their races (STOP while PLAY waits, a jump that crosses the
 * stream's end); `client/viewer_screen.ts` holds the watch on screen and its life. The player,
 * the session and the clock are injected, so the logic runs in tests without processes or
 * sockets.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { Quality, StreamStartMessage } from "../protocol/messages.ts";
import type { SeekTarget } from "./commands.ts";
import { type PlaybackState, requireOnScreen, requireRendition } from "./playback.ts";
import type { MediaSink } from "./session.ts";
import { ViewerScreen, type Watch } from "./viewer_screen.ts";
import type { ViewerOptions, ViewerSession, ViewerStatus } from "./viewer_types.ts";

export type { ViewerEvent, ViewerOptions, ViewerSession, ViewerStatus } from "./viewer_types.ts";

/** Plays streams on screen through one player at a time. */
export class Viewer {
  readonly #session: ViewerSession;
  readonly #now: () => number;
  readonly #screen: ViewerScreen;
  #cancel = false;
  #replaying = false;
  /** Where the next stream starts exactly (a jump after everything arrived). */
  #startAt?: number;

  /** @param options The session, the player factory, the notice callback and the clock. */
  constructor(options: ViewerOptions) {
    this.#session = options.session;
    this.#now = options.now ?? (() => performance.now());
    this.#screen = new ViewerScreen(options);
  }

  /** Where playback stands. */
  get state(): PlaybackState {
    return this.#screen.state;
  }

  /** What plays, from its `stream-start`. */
  get playing(): StreamStartMessage | undefined {
    return this.#screen.watch?.info;
  }

  /** Media seconds waiting for the player. */
  get queuedSeconds(): number {
    return this.#screen.watch?.epoch.queue.seconds ?? 0;
  }

  /** Whether the stream is held on the server (PAUSE, or a player not reading). */
  get held(): boolean {
    return this.#screen.held;
  }

  /**
   * Plays a title, replacing what plays: the old player is ended (and gone) before the request.
   *
   * @param title The title.
   * @param quality A height or `auto`.
   * @param position Where to start, seconds. @default {0}
   * @throws {PeerstreamError} The server's refusal, or the player's failure to start.
   */
  async play(title: string, quality: Quality, position?: number): Promise<void> {
    const screen = this.#screen;
    screen.step("play");
    this.#cancel = false;
    const old = screen.take();
    // The next title (or the same one, replayed) takes the window over.
    if (old !== undefined) await old.epoch.retire({ keepWindow: true });
    screen.unpause();
    this.#startAt = position;
    try {
      await this.#session.play(title, {
        quality,
        position,
        sink: (info) => this.#open(info, quality),
      });
    } catch (error) {
      screen.step("refused");
      throw error;
    }
    const started = screen.watch;
    if (this.#cancel && started !== undefined) {
      // STOP came while PLAY waited for its answer.
      screen.take();
      await screen.end(started);
    }
  }

  /**
   * Stops at once: the player is ended (and gone when this resolves) and the server's stream
   * stopped if it still runs.
   *
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing plays.
   */
  async stop(): Promise<void> {
    this.#screen.step("stop");
    const watch = this.#screen.take();
    if (watch === undefined) {
      // PLAY still waits for its answer: stop the stream once it starts.
      this.#cancel = true;
      return;
    }
    await this.#screen.end(watch);
  }

  /**
   * Freezes the picture (the player process is stopped) and holds the stream on the server.
   *
   * @returns False when it was paused already.
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing is on screen.
   */
  pause(): boolean {
    requireOnScreen(this.#screen.state, "pause");
    return this.#screen.setPaused(true);
  }

  /**
   * Continues after PAUSE.
   *
   * @returns False when it was not paused.
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing is on screen.
   */
  resume(): boolean {
    requireOnScreen(this.#screen.state, "resume");
    return this.#screen.setPaused(false);
  }

  /**
   * Jumps to a time (clamped to the title): the player restarts at the segment containing it.
   * While paused, it moves and stays paused.
   *
   * @param target A time, or seconds from the position on screen.
   * @returns The position asked for.
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing is on screen.
   */
  async seek(target: SeekTarget): Promise<number> {
    requireOnScreen(this.#screen.state, "seek");
    const watch = this.#screen.watch!;
    const here = watch.epoch.onScreen(this.#now).position;
    const wanted = "absolute" in target ? target.absolute : here + target.relative;
    const to = Math.max(0, Math.min(watch.info.duration, wanted));
    if (this.#screen.runs(watch)) {
      watch.jumpAt = to;
      await this.#orReplay(watch, () => this.#session.seek(to), {
        position: to,
        quality: watch.quality,
      });
    } else await this.#replay(watch, to, watch.quality);
    return to;
  }

  /**
   * Changes quality. A height restarts the player at the position on screen in that rendition;
   * `auto` applies from the next segment without a restart.
   *
   * @param quality A height the title has, or `auto`.
   * @returns `now` for a jump, `next` when it applies from the next segment.
   * @throws {PeerstreamError} `NOT_PLAYING`, or `RENDITION_NOT_FOUND` for a height the title
   * lacks.
   */
  async setQuality(quality: Quality): Promise<"now" | "next"> {
    const screen = this.#screen;
    requireOnScreen(screen.state, "change quality");
    const watch = screen.watch!;
    requireRendition(watch.info, quality);
    watch.quality = quality;
    if (quality === "auto") {
      if (screen.runs(watch)) await this.#orReplay(watch, () => this.#session.setQuality("auto"));
      return "next";
    }
    const position = await watch.epoch.holdForSwitch(watch.info, screen.userPaused, this.#now);
    try {
      if (!screen.runs(watch)) await this.#replay(watch, position, quality);
      else {
        watch.jumpAt = position;
        await this.#orReplay(watch, () => this.#session.setQuality(quality, { position }), {
          position,
          quality,
        });
      }
    } catch (error) {
      // The picture was frozen for the switch: let it run again.
      if (!screen.userPaused && watch.epoch.player !== undefined) watch.epoch.player.resume();
      throw error;
    }
    return "now";
  }

  /**
   * What is on screen, without announcing anything (watching together reads it twice a second).
   *
   * @returns The title, the second on screen, whether the current start or jump shows its first
   * frame yet, PAUSE, and the title's length; undefined when nothing is on screen.
   */
  screen():
    | { title: string; position: number; started: boolean; paused: boolean; duration: number }
    | undefined {
    const watch = this.#screen.watch;
    if (watch === undefined) return undefined;
    const { position, started } = watch.epoch.onScreen(this.#now);
    const { title, duration } = watch.info;
    return { title, position, started, paused: this.#screen.userPaused, duration };
  }

  /**
   * Plays faster or slower, when the player can (mpv).
   *
   * @param rate 1 is normal; watching together keeps it within ±5 %.
   * @returns False when nothing plays or its player cannot change its rate.
   */
  setRate(rate: number): boolean {
    const player = this.#screen.watch?.epoch.player;
    if (player?.setRate === undefined) return false;
    player.setRate(rate);
    return true;
  }

  /**
   * Looks at the screen: announces a rendition that just reached it, and returns the status line.
   * Call it a few times a second.
   *
   * @returns What is on screen, or null when nothing plays.
   */
  tick(): ViewerStatus | null {
    return this.#screen.status();
  }

  /** Ends the player at once (on QUIT or a lost connection); resolves once it is gone. */
  close(): Promise<void> {
    return this.#screen.close();
  }

  /**
   * Asks the server to change the running stream. When the request crossed the stream's end (the
   * server sent the last segment meanwhile, so it answers `NOT_PLAYING` after `stream-end`), the
   * title is still on screen: makes the `jump` as after everything arrived, or, without one, lets
   * the player play out.
   */
  async #orReplay(
    watch: Watch,
    request: () => Promise<unknown>,
    jump?: { position: number; quality: Quality },
  ): Promise<void> {
    try {
      await request();
    } catch (error) {
      const crossed = error instanceof PeerstreamError && error.code === "NOT_PLAYING" &&
        !this.#screen.runs(watch) && this.#screen.watch === watch;
      if (!crossed) throw error;
      if (jump !== undefined) await this.#replay(watch, jump.position, jump.quality);
    }
  }

  /** A jump after everything arrived: a new stream at `position`, paused if it was. */
  async #replay(watch: Watch, position: number, quality: Quality) {
    const paused = this.#screen.userPaused;
    this.#replaying = true;
    try {
      await this.play(watch.info.title, quality, position);
    } finally {
      this.#replaying = false;
    }
    if (paused && this.#screen.watch !== undefined) this.pause();
  }

  /** The stream started: open the player (throwing stops the stream) and return its sink. */
  #open(info: StreamStartMessage, quality: Quality): MediaSink {
    const at = Math.max(info.position, this.#startAt ?? info.position);
    return this.#screen.open(info, quality, { at, replaying: this.#replaying });
  }
}
