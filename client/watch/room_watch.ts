/**
 * Watching together in the terminal client (issue 21): this folder keeps one member's player on a
 * room's shared timeline. The server keeps the timeline and tells every member (`room-playback`);
 * the client streams the title alone, in its own quality, with the ordinary `play`, `seek`,
 * `pause` and `resume`, and steers its own picture (docs/watch-together.md).
 *
 * - `room_watch.ts` (this file): {@linkcode RoomWatch}, the controller of one watched room: its
 *   timeline (epochs in order, older ones dropped), what the viewer must do about it (start at
 *   the room's position, pause, resume, seek, stop), and twice a second the drift of the picture
 *   and its correction. Pure: the viewer and the clock are injected.
 * - `steer.ts`: the drift rules of each kind of player (mpv changes its rate; ffplay seeks ahead
 *   and freezes).
 * - `clock_sampler.ts`: the offset of the server's clock (`time` at start and every 30 s).
 * - `notices.ts`: the lines the chat area shows (`* alice paused #club at 12:34`).
 * - `watching.ts`: the terminal's watch commands and the one room it watches, wired to the session
 *   and the viewer.
 * @module
 */

import { timelinePosition } from "../../protocol/watch_sync.ts";
import type { SessionClock } from "../session/clock.ts";
import { startPosition, steer } from "./steer.ts";

/** A room's timeline as `room-playback` carries it. */
export interface WatchTimeline {
  /** Grows with every change; an older one is dropped. */
  epoch: number;
  /** The title; absent once stopped. */
  title?: string;
  /** Server time of `position`, ms since the epoch. */
  anchor: number;
  /** Seconds into the title at `anchor`. */
  position: number;
  /** 1 playing, 0 paused (or stopped). */
  rate: 0 | 1;
}

/** What is on the viewer's screen. */
export interface WatchScreen {
  /** The title on screen. */
  title: string;
  /** The second on screen. */
  position: number;
  /** Whether the first frame of the current start or jump is up (the position means something). */
  started: boolean;
  /** Whether the picture is frozen (PAUSE). */
  paused: boolean;
  /** The title's length, seconds. */
  duration: number;
}

/** What the controller asks of the viewer (`watching.ts` adapts the terminal's `Viewer`). */
export interface WatchViewer {
  /** The player changes its rate and starts exactly where asked (mpv). */
  readonly canRate: boolean;
  /** What is on screen; undefined when nothing is. */
  screen(): WatchScreen | undefined;
  /** Starts the title at a position (replacing what plays). */
  play(title: string, position: number): Promise<void>;
  /** Jumps to a position. */
  seek(position: number): Promise<void>;
  /** Freezes the picture and holds the stream. */
  pause(): void;
  /** Continues. */
  resume(): void;
  /** Sets the playback rate (only when {@linkcode canRate}). */
  setRate(rate: number): void;
  /** Stops the stream and the player. */
  stop(): Promise<void>;
}

/** A start (a new stream) or a jump (a seek in the stream): their start-ups differ. */
export type Launch = "start" | "jump";

/** Where the watch stands. */
export type WatchState =
  | "waiting" // no timeline yet
  | "starting" // the title is being started on the viewer
  | "playing"
  | "paused"
  | "stopped" // the room stopped its title
  | "ended"; // the picture ended here (the title's end, or the player closed)

/** Something the person should hear of. */
export type WatchEvent =
  | { kind: "ended"; why: "finished" | "closed" }
  | { kind: "failed"; message: string };

/** Options for {@linkcode RoomWatch}. */
export interface RoomWatchOptions {
  /** The viewer it steers. */
  viewer: WatchViewer;
  /** This end's clock and timers (ms). */
  clock: SessionClock;
  /** The server's time now, ms (this end's clock plus the measured offset). */
  serverNow: () => number;
  /** The title's segment length, seconds. @default {2} */
  segment?: number;
  /** The start-ups before one was measured (a start's, a jump's), seconds. @default {0.5 each} */
  startups?: Partial<Record<Launch, number>>;
  /** What the person should hear of. */
  onEvent?: (event: WatchEvent) => void;
}

/** How often the picture's drift is checked, ms (twice a second). */
export const WATCH_TICK_MS = 500;

/** A paused picture further than this from the room's frame seeks to it (mpv), seconds. */
export const PAUSED_SEEK_SECONDS = 0.1;

/** A picture that moved less than this share of the time since it was last looked at is stalled. */
const STALL_SHARE = 0.5;

/**
 * How long after the picture runs again (RESUME, the end of a freeze) nothing is corrected, ms:
 * ffplay's first status lines after SIGCONT jump about, and one seek for nothing costs a restart.
 */
export const SETTLE_MS = 1_000;

/** The range a measured start-up is kept in, seconds. */
const STARTUP_RANGE = [0.05, 5] as const;

/** Keeps one member's viewer on one room's timeline. */
export class RoomWatch {
  readonly #viewer: WatchViewer;
  readonly #clock: SessionClock;
  readonly #serverNow: () => number;
  readonly #segment: number;
  readonly #onEvent: (event: WatchEvent) => void;
  /** The start-up of a start (a new stream, maybe a new window) and of a jump, seconds. */
  readonly #startups: Record<Launch, number>;
  #timeline?: WatchTimeline;
  #state: WatchState = "waiting";
  /** A play or seek in flight: nothing else is decided until it settles. */
  #busy = false;
  /** A start or jump aimed while the room ran, until its first frame is up: it measures the start-up. */
  #launched?: { kind: Launch; at: number };
  /** The title this watch started on the viewer. */
  #title?: string;
  #rate = 1;
  #cancelHold?: () => void;
  /** The last position seen and when, to tell a stalled player (it stopped reading). */
  #seen?: { position: number; at: number };
  #stalledNow = false;
  /** No correction before this time (this end's ms): the picture just runs again. */
  #settleUntil = 0;
  #closed = false;
  /** The title's length, seconds, as last seen on screen. */
  #duration = Infinity;

  /** @param options The viewer, the clocks and the title's segment length. */
  constructor(options: RoomWatchOptions) {
    this.#viewer = options.viewer;
    this.#clock = options.clock;
    this.#serverNow = options.serverNow;
    this.#segment = options.segment ?? 2;
    this.#startups = { start: 0.5, jump: 0.5, ...options.startups };
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /** Where the watch stands. */
  get state(): WatchState {
    return this.#state;
  }

  /** The timeline followed, once one came. */
  get timeline(): WatchTimeline | undefined {
    return this.#timeline;
  }

  /** The start-ups last measured (or the default) of a start and a jump, seconds. */
  get startup(): Readonly<Record<Launch, number>> {
    return this.#startups;
  }

  /** The room's position now, seconds; undefined without a timeline with a title. */
  roomPosition(): number | undefined {
    const t = this.#timeline;
    return t?.title === undefined ? undefined : timelinePosition(t, this.#serverNow());
  }

  /**
   * Takes a timeline from the server and applies it at once.
   *
   * @param timeline The room's `room-playback` (or the state known when watching began).
   * @returns False when it was older than the one followed (dropped).
   */
  update(timeline: WatchTimeline): boolean {
    if (this.#closed) return false;
    const old = this.#timeline;
    if (old !== undefined && timeline.epoch < old.epoch) return false;
    // A change ends a freeze: the new timeline decides afresh.
    if (old !== undefined && timeline.epoch > old.epoch) this.#release(false);
    this.#timeline = { ...timeline };
    this.#reconcile();
    return true;
  }

  /** Checks the picture against the timeline and corrects it: call it every {@linkcode WATCH_TICK_MS}. */
  tick(): void {
    if (!this.#closed) this.#reconcile();
  }

  /** Stops steering (the caller stops the viewer if it wants); timers are cancelled. */
  close(): void {
    this.#closed = true;
    this.#release(false);
    // mpv keeps its speed across inputs: what plays next is not a room's.
    this.#setRate(1);
  }

  #reconcile() {
    const t = this.#timeline;
    if (t === undefined || this.#busy || this.#state === "ended") return;
    if (t.title === undefined) return this.#roomStopped();
    const screen = this.#viewer.screen();
    if (screen === undefined || screen.title !== t.title) return this.#start(t, t.title, screen);
    this.#duration = screen.duration;
    if (!screen.started) return;
    const roomPosition = timelinePosition(t, this.#serverNow());
    const drift = screen.position - roomPosition;
    const landing = this.#launched?.kind;
    this.#measureStartup(drift, t.rate);
    if (t.rate === 0) return this.#whilePaused(screen, roomPosition, drift);
    this.#state = "playing";
    if (this.#cancelHold !== undefined) return;
    if (screen.paused) this.#resumed();
    if (this.#stalled(screen.position) || this.#clock.now() < this.#settleUntil) return;
    this.#correct(drift, roomPosition, landing);
  }

  #roomStopped() {
    this.#release(false);
    const wasOurs = this.#title !== undefined && this.#viewer.screen()?.title === this.#title;
    this.#state = "stopped";
    this.#title = undefined;
    if (wasOurs) this.#run(() => this.#viewer.stop());
  }

  #start(t: WatchTimeline, title: string, screen: WatchScreen | undefined) {
    if (this.#title === title && screen === undefined) {
      // What this watch started is gone from the screen: played to its end, or closed.
      const roomPosition = timelinePosition(t, this.#serverNow());
      this.#state = "ended";
      this.#release(false);
      this.#onEvent({
        kind: "ended",
        why: roomPosition >= this.#duration - 1 ? "finished" : "closed",
      });
      return;
    }
    this.#state = "starting";
    this.#title = title;
    this.#setRate(1);
    // A paused room's frame does not move while the player starts: no start-up to aim past.
    const options = { ...this.#steerOptions("start"), ...(t.rate === 0 ? { startup: 0 } : {}) };
    const at = startPosition(timelinePosition(t, this.#serverNow()), options);
    this.#launch("start", async () => {
      await this.#viewer.play(title, at);
      if (this.#timeline?.rate === 0) this.#viewer.pause();
    });
  }

  #whilePaused(screen: WatchScreen, roomPosition: number, drift: number) {
    this.#state = "paused";
    this.#release(false);
    this.#seen = undefined;
    if (!screen.paused) this.#viewer.pause();
    this.#setRate(1);
    // mpv shows the room's exact frame while paused; ffplay would land at a segment's start, so
    // it is corrected once the room runs again.
    if (this.#viewer.canRate && Math.abs(drift) > PAUSED_SEEK_SECONDS) {
      this.#launch("jump", () => this.#viewer.seek(roomPosition));
    }
  }

  #correct(drift: number, roomPosition: number, landing: Launch | undefined) {
    const action = steer(drift, roomPosition, {
      ...this.#steerOptions("jump"),
      rate: this.#rate,
      landing,
    });
    switch (action.kind) {
      case "none":
        return;
      case "rate":
        return this.#setRate(action.rate);
      case "seek":
        this.#setRate(1);
        return this.#launch("jump", () => this.#viewer.seek(action.position));
      case "hold":
        return this.#hold(action.seconds);
    }
  }

  /** Freezes the picture for `seconds` (a player ahead of the room that cannot slow down). */
  #hold(seconds: number) {
    this.#viewer.pause();
    const cancel = this.#clock.after(Math.round(seconds * 1000), () => {
      if (this.#cancelHold !== cancel) return;
      this.#release(true);
    });
    this.#cancelHold = cancel;
  }

  /** Lets the picture run again, and settle before it is corrected. */
  #resumed() {
    this.#viewer.resume();
    this.#seen = undefined;
    this.#settleUntil = this.#clock.now() + SETTLE_MS;
  }

  /** Ends a freeze; `resume` lets the picture run again (the room runs). */
  #release(resume: boolean) {
    const cancel = this.#cancelHold;
    if (cancel === undefined) return;
    this.#cancelHold = undefined;
    cancel();
    this.#seen = undefined;
    if (resume && !this.#closed && this.#timeline?.rate === 1) this.#resumed();
  }

  /**
   * Whether the picture stopped moving while it should run (its player stopped reading, or was
   * stopped): it moved less than half the time since the last look, at least 200 ms ago. Such a
   * picture is left alone; once it moves again, it is corrected (a seek, when far behind).
   */
  #stalled(position: number): boolean {
    const now = this.#clock.now();
    const seen = this.#seen;
    if (seen !== undefined && now - seen.at < 200) return this.#stalledNow;
    this.#seen = { position, at: now };
    this.#stalledNow = seen !== undefined &&
      position - seen.position < (now - seen.at) / 1000 * STALL_SHARE;
    return this.#stalledNow;
  }

  #setRate(rate: number) {
    if (this.#rate === rate || !this.#viewer.canRate) {
      this.#rate = rate;
      return;
    }
    this.#rate = rate;
    this.#viewer.setRate(rate);
  }

  #steerOptions(kind: Launch) {
    const startup = this.#startups[kind];
    return { canRate: this.#viewer.canRate, startup, segment: this.#segment };
  }

  /** A start or a jump: measured from now to its first frame; nothing else runs meanwhile. */
  #launch(kind: Launch, action: () => Promise<void>) {
    this.#launched = this.#timeline?.rate === 1 ? { kind, at: this.#clock.now() } : undefined;
    this.#seen = undefined;
    this.#run(action);
  }

  #run(action: () => Promise<void>) {
    this.#busy = true;
    action().catch((error) => {
      this.#launched = undefined;
      if (this.#state === "starting") this.#state = "ended";
      this.#onEvent({ kind: "failed", message: (error as Error).message });
    }).finally(() => {
      this.#busy = false;
    });
  }

  /**
   * The start-up of the start or jump just shown. With mpv, from its first drift: aimed at the
   * room's position plus the start-up `S`, a player that showed that frame `S'` after the request
   * and ran since is `S − S'` ahead whenever it is looked at, so `S' = S − drift` (a check twice a
   * second does not blur it). ffplay lands at a segment's start, so its drift says nothing of its
   * start-up: the time to its first frame is taken, as seen (up to a check late, which only makes
   * it land further ahead and freeze longer).
   */
  #measureStartup(drift: number, rate: 0 | 1) {
    const launched = this.#launched;
    if (launched === undefined) return;
    this.#launched = undefined;
    if (rate === 0) return;
    const seconds = this.#viewer.canRate
      ? this.#startups[launched.kind] - drift
      : (this.#clock.now() - launched.at) / 1000;
    this.#startups[launched.kind] = Math.min(STARTUP_RANGE[1], Math.max(STARTUP_RANGE[0], seconds));
  }
}
