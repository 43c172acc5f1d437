/**
 * What the viewer shows: at most one watch (a stream on screen) and its life, from the stream's
 * start to the player's exit. `client/viewer.ts` turns the user's commands into calls here; this
 * file answers the server's stream and the player.
 *
 * - The watch's media sink: segments and bytes go into the current epoch's queue at once, a
 *   `stream-seek` starts a new epoch (and player) once the old player is gone, the stream's end
 *   lets the player play out.
 * - The hold: the stream is held on the server while the user paused or the queue is past its
 *   bound, and resumed once it drains.
 * - How a watch ends: STOP, the player's exit (played out, or closed early), a failure, or a stop
 *   on the server; each tells the person once.
 * @module
 */

import type {
  Quality,
  SegmentMessage,
  StreamEndMessage,
  StreamEndReason,
  StreamSeekMessage,
  StreamStartMessage,
} from "../protocol/messages.ts";
import { nextPlaybackState, type PlaybackEvent, type PlaybackState } from "./playback.ts";
import type { Player, PlayerStart } from "./player.ts";
import { PLAYOUT_DEFAULTS, type PlayoutConfig, shouldHold } from "./playout.ts";
import type { MediaSink } from "./session.ts";
import { ViewerEpoch } from "./viewer_epoch.ts";
import type { ViewerEvent, ViewerOptions, ViewerSession, ViewerStatus } from "./viewer_types.ts";

/** One stream on screen: what plays, in which quality, and its current epoch. */
export interface Watch {
  /** The stream's `stream-start`. */
  info: StreamStartMessage;
  /** The quality asked for. */
  quality: Quality;
  /** Whether the server sent the stream's end. */
  serverDone: boolean;
  /** The epoch playing now. */
  epoch: ViewerEpoch;
  /** Where the jump in flight lands exactly (its epoch starts at the segment containing it). */
  jumpAt?: number;
}

/** How a watch opens. */
export interface OpenOptions {
  /** Media time asked for (at or after the stream's first segment). */
  at: number;
  /** A jump after everything arrived: announced as a move, not as a new stream. */
  replaying: boolean;
}

/** The watch on screen and its life: sink, epochs, players, the hold, and the ending. */
export class ViewerScreen {
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

  /** The watch on screen, if any. */
  get watch(): Watch | undefined {
    return this.#watch;
  }

  /** Whether PAUSE is in effect. */
  get userPaused(): boolean {
    return this.#userPaused;
  }

  /** Whether the stream is held on the server (PAUSE, or a player not reading). */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Steps the playback state.
   *
   * @param event What happened.
   * @throws {PeerstreamError} `NOT_PLAYING` for an event illegal in the state.
   */
  step(event: PlaybackEvent): void {
    this.#state = nextPlaybackState(this.#state, event);
  }

  /**
   * Takes the watch off screen without ending it.
   *
   * @returns The watch that was on screen.
   */
  take(): Watch | undefined {
    const watch = this.#watch;
    this.#watch = undefined;
    return watch;
  }

  /** Forgets PAUSE and the hold (a new title starts unpaused). */
  unpause(): void {
    this.#userPaused = false;
    this.#held = false;
  }

  /** Ends the player at once (on QUIT or a lost connection); resolves once it is gone. */
  async close(): Promise<void> {
    const watch = this.take();
    this.#state = "idle";
    if (watch !== undefined) await watch.epoch.retire();
  }

  /**
   * Ends a watch taken off screen: kills its player, stops its stream, says so.
   *
   * @param watch The watch, already taken off screen.
   */
  async end(watch: Watch): Promise<void> {
    const stats = watch.epoch.player?.stats;
    const exit = watch.epoch.retire();
    const serverStop = this.runs(watch) ? this.#session.stop().catch(() => {}) : undefined;
    this.unpause();
    await exit;
    await serverStop;
    this.#emit({ kind: "stopped", title: watch.info.title, stats });
  }

  /**
   * Sets PAUSE: freezes or continues the player and its clock, and holds or resumes the stream.
   * Call it only with a watch on screen.
   *
   * @param paused Whether PAUSE is wanted.
   * @returns False when it was so already.
   */
  setPaused(paused: boolean): boolean {
    if (this.#userPaused === paused) return false;
    const epoch = this.#watch!.epoch;
    this.#userPaused = paused;
    if (paused) {
      epoch.player?.pause();
      epoch.clock.hold(this.#now());
    } else {
      epoch.player?.resume();
      epoch.clock.release(this.#now());
    }
    this.#updateHold();
    return true;
  }

  /**
   * Whether the server still streams this watch.
   *
   * @param watch A watch.
   * @returns True while its stream runs.
   */
  runs(watch: Watch): boolean {
    return !watch.serverDone && this.#session.stream?.streamId === watch.info.streamId;
  }

  /**
   * Looks at the screen: announces a rendition that just reached it, and returns the status line.
   *
   * @returns What is on screen, or null when nothing plays.
   */
  status(): ViewerStatus | null {
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

  /**
   * The stream started: opens the player (throwing stops the stream) and returns its sink.
   *
   * @param info The `stream-start`.
   * @param quality The quality asked for.
   * @param options Where it starts and how to announce it.
   * @returns The sink for the stream's media.
   */
  open(info: StreamStartMessage, quality: Quality, options: OpenOptions): MediaSink {
    const { at } = options;
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
      options.replaying
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
        this.#jumped(watch, seek);
      },
      close: (reason: StreamEndReason, end?: StreamEndMessage) => {
        if (watch !== this.#watch) return;
        this.#serverEnded(watch, reason, end);
      },
    };
  }

  /** The server's `stream-seek`: a new epoch, its player once the old one is gone. */
  #jumped(watch: Watch, seek: StreamSeekMessage) {
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
    const why = epoch.player?.failure?.();
    this.#emit({ kind: "player-closed", title, ...(why === undefined ? {} : { why }) });
    const stopped = this.runs(watch) ? this.#session.stop().catch(() => {}) : Promise.resolve();
    this.#held = false;
    stopped.then(() => this.#emit({ kind: "stopped", title }));
  }

  #fail(watch: Watch, message: string) {
    if (watch !== this.#watch) return;
    this.#watch = undefined;
    this.#userPaused = false;
    this.#state = nextPlaybackState(this.#state, "ended");
    const stats = watch.epoch.player?.stats;
    const stopServer = this.runs(watch);
    this.#held = false;
    watch.epoch.retire().then(() =>
      this.#emit({ kind: "failed", title: watch.info.title, message, stats })
    );
    if (stopServer) this.#session.stop().catch(() => {});
  }

  /** Holds the server's stream while the user paused or the queue is full; resumes after. */
  #updateHold() {
    const watch = this.#watch;
    if (watch === undefined || !this.runs(watch)) return;
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
