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
 * The player, the session and the clock are injected, so the logic runs in tests without
 * processes or sockets.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type {
  Quality,
  SegmentMessage,
  StreamEndMessage,
  StreamEndReason,
  StreamSeekMessage,
  StreamStartMessage,
} from "../protocol/messages.ts";
import type { SeekTarget } from "./commands.ts";
import {
  nextPlaybackState,
  type PlaybackState,
  requireOnScreen,
  requireRendition,
} from "./playback.ts";
import type { Player, PlayerStart } from "./player.ts";
import { PLAYOUT_DEFAULTS, type PlayoutConfig, shouldHold } from "./playout.ts";
import type { MediaSink } from "./session.ts";
import { ViewerEpoch } from "./viewer_epoch.ts";
import type { ViewerEvent, ViewerOptions, ViewerSession, ViewerStatus } from "./viewer_types.ts";

export type { ViewerEvent, ViewerOptions, ViewerSession, ViewerStatus } from "./viewer_types.ts";

interface Watch {
  info: StreamStartMessage;
  quality: Quality;
  serverDone: boolean;
  epoch: ViewerEpoch;
  /** Where the jump in flight lands exactly (its epoch starts at the segment containing it). */
  jumpAt?: number;
}

/** Plays streams on screen through one player at a time. */
export class Viewer {
  readonly #session: ViewerSession;
  readonly #openPlayer: (info: StreamStartMessage, start: PlayerStart) => Player;
  readonly #emit: (event: ViewerEvent) => void;
  readonly #now: () => number;
  readonly #playout: Readonly<PlayoutConfig>;
  #state: PlaybackState = "idle";
  #watch?: Watch;
  #userPaused = false;
  #held = false;
  /** Why the stream is held: the user's PAUSE, or a player that stopped taking the video. */
  #holdReason: "user" | "player" = "user";
  #cancel = false;
  #replaying = false;
  /** Where the next stream starts exactly (a jump after everything arrived). */
  #startAt?: number;
  #shownHeight = 0;

  /** @param options The session, the player factory, the notice callback and the clock. */
  constructor(options: ViewerOptions) {
    this.#session = options.session;
    this.#openPlayer = options.openPlayer;
    this.#emit = options.onEvent;
    this.#now = options.now ?? (() => performance.now());
    this.#playout = options.playout ?? PLAYOUT_DEFAULTS;
  }

  /** Where playback stands. */
  get state(): PlaybackState {
    return this.#state;
  }

  /** What plays, from its `stream-start`. */
  get playing(): StreamStartMessage | undefined {
    return this.#watch?.info;
  }

  /** Media seconds waiting for the player. */
  get queuedSeconds(): number {
    return this.#watch?.epoch.queue.seconds ?? 0;
  }

  /** Whether the stream is held on the server (PAUSE, or a player not reading). */
  get held(): boolean {
    return this.#held;
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
    this.#state = nextPlaybackState(this.#state, "play");
    this.#cancel = false;
    const old = this.#watch;
    this.#watch = undefined;
    // The next title (or the same one, replayed) takes the window over.
    if (old !== undefined) await old.epoch.retire({ keepWindow: true });
    this.#userPaused = false;
    this.#held = false;
    this.#startAt = position;
    try {
      await this.#session.play(title, {
        quality,
        position,
        sink: (info) => this.#open(info, quality),
      });
    } catch (error) {
      this.#state = nextPlaybackState(this.#state, "refused");
      throw error;
    }
    const started = this.#watch;
    if (this.#cancel && started !== undefined) {
      // STOP came while PLAY waited for its answer.
      this.#watch = undefined;
      await this.#end(started);
    }
  }

  /**
   * Stops at once: the player is ended (and gone when this resolves) and the server's stream
   * stopped if it still runs.
   *
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing plays.
   */
  async stop(): Promise<void> {
    this.#state = nextPlaybackState(this.#state, "stop");
    const watch = this.#watch;
    if (watch === undefined) {
      // PLAY still waits for its answer: stop the stream once it starts.
      this.#cancel = true;
      return;
    }
    this.#watch = undefined;
    await this.#end(watch);
  }

  /** Ends a watch taken off screen: kills its player, stops its stream, says so. */
  async #end(watch: Watch) {
    const stats = watch.epoch.player?.stats;
    const exit = watch.epoch.retire();
    const serverStop = this.#runs(watch) ? this.#session.stop().catch(() => {}) : undefined;
    this.#userPaused = false;
    this.#held = false;
    await exit;
    await serverStop;
    this.#emit({ kind: "stopped", title: watch.info.title, stats });
  }

  /**
   * Freezes the picture (the player process is stopped) and holds the stream on the server.
   *
   * @returns False when it was paused already.
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing is on screen.
   */
  pause(): boolean {
    requireOnScreen(this.#state, "pause");
    if (this.#userPaused) return false;
    const epoch = this.#watch!.epoch;
    this.#userPaused = true;
    epoch.player?.pause();
    epoch.clock.hold(this.#now());
    this.#updateHold();
    return true;
  }

  /**
   * Continues after PAUSE.
   *
   * @returns False when it was not paused.
   * @throws {PeerstreamError} `NOT_PLAYING` when nothing is on screen.
   */
  resume(): boolean {
    requireOnScreen(this.#state, "resume");
    if (!this.#userPaused) return false;
    const epoch = this.#watch!.epoch;
    this.#userPaused = false;
    epoch.player?.resume();
    epoch.clock.release(this.#now());
    this.#updateHold();
    return true;
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
    requireOnScreen(this.#state, "seek");
    const watch = this.#watch!;
    const here = watch.epoch.onScreen(this.#now).position;
    const wanted = "absolute" in target ? target.absolute : here + target.relative;
    const to = Math.max(0, Math.min(watch.info.duration, wanted));
    if (this.#runs(watch)) {
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
    requireOnScreen(this.#state, "change quality");
    const watch = this.#watch!;
    requireRendition(watch.info, quality);
    watch.quality = quality;
    if (quality === "auto") {
      if (this.#runs(watch)) await this.#orReplay(watch, () => this.#session.setQuality("auto"));
      return "next";
    }
    const position = await watch.epoch.holdForSwitch(watch.info, this.#userPaused, this.#now);
    try {
      if (!this.#runs(watch)) await this.#replay(watch, position, quality);
      else {
        watch.jumpAt = position;
        await this.#orReplay(watch, () => this.#session.setQuality(quality, { position }), {
          position,
          quality,
        });
      }
    } catch (error) {
      // The picture was frozen for the switch: let it run again.
      if (!this.#userPaused && watch.epoch.player !== undefined) watch.epoch.player.resume();
      throw error;
    }
    return "now";
  }

  /**
   * Looks at the screen: announces a rendition that just reached it, and returns the status line.
   * Call it a few times a second.
   *
   * @returns What is on screen, or null when nothing plays.
   */
  tick(): ViewerStatus | null {
    const watch = this.#watch;
    if (watch === undefined) return null;
    const epoch = watch.epoch;
    const { position, started } = epoch.onScreen(this.#now);
    const segment = epoch.segmentAt(position);
    if (started && segment !== undefined && segment.height !== this.#shownHeight) {
      this.#shownHeight = segment.height;
      this.#emit({
        kind: "rendition",
        title: watch.info.title,
        height: segment.height,
        bitrate: segment.bitrate,
      });
    }
    return {
      title: watch.info.title,
      position,
      duration: watch.info.duration,
      height: started ? segment?.height ?? 0 : 0,
      bitrate: segment?.bitrate ?? 0,
      paused: this.#userPaused,
      waiting: this.#held && this.#holdReason === "player" && !this.#userPaused,
    };
  }

  /** Ends the player at once (on QUIT or a lost connection); resolves once it is gone. */
  async close(): Promise<void> {
    const watch = this.#watch;
    this.#watch = undefined;
    this.#state = "idle";
    if (watch !== undefined) await watch.epoch.retire();
  }

  /** Whether the server still streams this watch. */
  #runs(watch: Watch): boolean {
    return !watch.serverDone && this.#session.stream?.streamId === watch.info.streamId;
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
        !this.#runs(watch) && this.#watch === watch;
      if (!crossed) throw error;
      if (jump !== undefined) await this.#replay(watch, jump.position, jump.quality);
    }
  }

  /** A jump after everything arrived: a new stream at `position`, paused if it was. */
  async #replay(watch: Watch, position: number, quality: Quality) {
    const paused = this.#userPaused;
    this.#replaying = true;
    try {
      await this.play(watch.info.title, quality, position);
    } finally {
      this.#replaying = false;
    }
    if (paused && this.#watch !== undefined) this.pause();
  }

  /** The stream started: open the player (throwing stops the stream) and return its sink. */
  #open(info: StreamStartMessage, quality: Quality): MediaSink {
    const at = Math.max(info.position, this.#startAt ?? info.position);
    const player = this.#openPlayer(info, { origin: info.position, at, paused: false });
    const watch: Watch = {
      info,
      quality,
      serverDone: false,
      epoch: this.#makeEpoch(info.position, at, Promise.resolve(player)),
    };
    this.#watch = watch;
    this.#shownHeight = 0;
    this.#state = nextPlaybackState(this.#state, "started");
    // A jump after everything arrived is a new stream, but to the person it is the same one.
    this.#emit(
      this.#replaying
        ? { kind: "moved", title: info.title, position: info.position, paused: false }
        : { kind: "playing", info },
    );
    this.#startDrain(watch, watch.epoch);
    return this.#sink(watch);
  }

  #sink(watch: Watch): MediaSink {
    return {
      segment: (segment: SegmentMessage) => {
        if (watch !== this.#watch) return;
        if (watch.epoch.segment(segment)) this.#updateHold();
      },
      write: (data: Uint8Array) => {
        if (watch !== this.#watch) return;
        if (!watch.epoch.queue.push(data)) {
          this.#fail(
            watch,
            `Stopped "${watch.info.title}": the server sent more than the player can queue (over ${this.#playout.maxSeconds} s); PLAY it again`,
          );
          return;
        }
        watch.epoch.wake?.();
        this.#updateHold();
      },
      seek: (seek: StreamSeekMessage) => {
        if (watch !== this.#watch) return;
        const exact = watch.epoch.player?.hold !== undefined;
        const exit = watch.epoch.retire({ keepWindow: true });
        const at = Math.max(seek.position, watch.jumpAt ?? seek.position);
        watch.jumpAt = undefined;
        watch.epoch = this.#makeEpoch(seek.position, at, exit.then(() => this.#spawn(watch)));
        watch.epoch.priming = this.#userPaused && exact;
        this.#startDrain(watch, watch.epoch);
        this.#emit({
          kind: "moved",
          title: watch.info.title,
          position: seek.position,
          paused: this.#userPaused,
        });
        this.#updateHold();
      },
      close: (reason: StreamEndReason, end?: StreamEndMessage) => {
        if (watch !== this.#watch) return;
        this.#serverEnded(watch, reason, end);
      },
    };
  }

  #serverEnded(watch: Watch, reason: StreamEndReason, end?: StreamEndMessage) {
    watch.serverDone = true;
    this.#held = false;
    if (reason === "finished") {
      this.#state = nextPlaybackState(this.#state, "received");
      watch.epoch.queue.end();
      watch.epoch.wake?.();
    } else if (reason === "error") {
      this.#fail(watch, end?.message ?? `Stream "${watch.info.title}" failed`);
    } else {
      // Stopped on the server without a STOP from here: the player goes too.
      this.#watch = undefined;
      this.#state = nextPlaybackState(this.#state, "ended");
      const stats = watch.epoch.player?.stats;
      watch.epoch.retire().then(() =>
        this.#emit({ kind: "stopped", title: watch.info.title, stats })
      );
    }
  }

  /** A player for a new epoch, once the previous one is gone; null when it cannot start. */
  #spawn(watch: Watch): Player | null {
    if (watch !== this.#watch) return null;
    const { origin, at } = watch.epoch;
    try {
      return this.#openPlayer(watch.info, { origin, at, paused: this.#userPaused });
    } catch (error) {
      this.#fail(watch, (error as Error).message);
      return null;
    }
  }

  #makeEpoch(origin: number, at: number, playerReady: Promise<Player | null>): ViewerEpoch {
    const pausedAt = this.#userPaused ? this.#now() : undefined;
    return new ViewerEpoch(origin, at, playerReady, this.#playout, pausedAt);
  }

  #startDrain(watch: Watch, epoch: ViewerEpoch) {
    epoch.drain({
      now: this.#now,
      paused: () => this.#userPaused,
      exited: (code) => this.#playerExited(watch, epoch, code),
      taken: () => this.#updateHold(),
    }).catch((error) => {
      this.#fail(watch, `Stopped "${watch.info.title}": ${(error as Error).message}`);
    });
  }

  #playerExited(watch: Watch, epoch: ViewerEpoch, _code: number) {
    if (epoch.retired || watch !== this.#watch || watch.epoch !== epoch) return;
    epoch.retired = true;
    this.#watch = undefined;
    this.#userPaused = false;
    this.#state = nextPlaybackState(this.#state, "ended");
    const title = watch.info.title;
    if (watch.serverDone && epoch.queue.drained) {
      this.#emit({ kind: "finished", title, stats: epoch.player?.stats });
      return;
    }
    this.#emit({ kind: "player-closed", title });
    const stopped = this.#runs(watch) ? this.#session.stop().catch(() => {}) : Promise.resolve();
    this.#held = false;
    stopped.then(() => this.#emit({ kind: "stopped", title }));
  }

  #fail(watch: Watch, message: string) {
    if (watch !== this.#watch) return;
    this.#watch = undefined;
    this.#userPaused = false;
    this.#state = nextPlaybackState(this.#state, "ended");
    const stats = watch.epoch.player?.stats;
    const stopServer = this.#runs(watch);
    this.#held = false;
    watch.epoch.retire().then(() =>
      this.#emit({ kind: "failed", title: watch.info.title, message, stats })
    );
    if (stopServer) this.#session.stop().catch(() => {});
  }

  /** Holds the server's stream while the user paused or the queue is full; resumes after. */
  #updateHold() {
    const watch = this.#watch;
    if (watch === undefined || !this.#runs(watch)) return;
    const hold = shouldHold({
      queuedSeconds: watch.epoch.queue.seconds,
      held: this.#held,
      userPaused: this.#userPaused && !watch.epoch.priming,
    }, this.#playout);
    if (hold === this.#held) return;
    this.#held = hold;
    if (hold) this.#holdReason = this.#userPaused ? "user" : "player";
    // NOT_PLAYING when the stream just ended: nothing left to hold.
    (hold ? this.#session.pause() : this.#session.resume()).catch(() => {});
    // PAUSE says so itself; a hold the player caused is worth a word.
    if (this.#holdReason === "player") {
      this.#emit({ kind: hold ? "held" : "released", title: watch.info.title });
    }
  }
}
