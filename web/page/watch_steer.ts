/**
 * Keeping the page's picture on a room's timeline (watching together, issue 21), pure but for an
 * injected clock: which `room-playback` to take (a newer epoch only), what each one asks of the
 * page's own stream (play at the room's position, pause, resume, seek, stop), and twice a second
 * what to do about the drift between the frame on screen and the room (`driftAction` with a
 * playback rate, the page's `playbackRate`). The rules are `protocol/watch_sync.ts`, the
 * terminal's own; `room_watch.ts` feeds this from the session and the video element.
 * @module
 */

import type { RoomPlaybackMessage } from "../../protocol/messages.ts";
import {
  ClockOffset,
  type DriftAction,
  driftAction,
  timelinePosition,
} from "../../protocol/watch_sync.ts";

/** What a new timeline asks of the page's own stream. */
export type PlaybackStep =
  /** Play the title (again) from `position`, paused or not. */
  | { kind: "play"; title: string; position: number; paused: boolean }
  /** Jump to `position`, then stay paused or play. */
  | { kind: "seek"; position: number; paused: boolean }
  | { kind: "pause" }
  | { kind: "resume" }
  /** The room stopped: stop the page's stream. */
  | { kind: "stop" }
  | { kind: "none" };

/** The frame on screen, as the page's frame callback tells it. */
export interface OnScreen {
  /** Its media time, s, extrapolated to now while playing. */
  position: number;
  /** The video's playback rate now. */
  rate: number;
}

/** The start-up assumed before one was measured, s (docs/watch-together.md). */
export const DEFAULT_STARTUP_S = 0.5;
/** The shortest and longest start-up taken from a measure, s: a fluke must not steer far off. */
export const STARTUP_BOUNDS_S = { min: 0.1, max: 3 } as const;

/** Options for {@linkcode WatchSteer}. */
export interface WatchSteerOptions {
  /** This end's clock, ms since the epoch (the page: `performance.timeOrigin + now()`). */
  now: () => number;
}

/** One room's timeline as the page follows it. */
export class WatchSteer {
  readonly #now: () => number;
  readonly #offset = new ClockOffset();
  #timeline?: RoomPlaybackMessage;
  #startup = DEFAULT_STARTUP_S;

  /** @param options The clock. */
  constructor(options: WatchSteerOptions) {
    this.#now = options.now;
  }

  /** The timeline followed, once one came. */
  get timeline(): RoomPlaybackMessage | undefined {
    return this.#timeline;
  }

  /** The seconds a play or seek takes to show, as last measured. */
  get startup(): number {
    return this.#startup;
  }

  /** The clock offset to the server's, for a look from outside (ms; undefined before a sample). */
  get offset(): number | undefined {
    return this.#offset.offset;
  }

  /**
   * Adds a `time` → `time-is` exchange.
   *
   * @param t0 When `time` left, this end's ms.
   * @param server The server's stamp.
   * @param t1 When `time-is` came, this end's ms.
   */
  sample(t0: number, server: number, t1: number): void {
    this.#offset.add(t0, server, t1);
  }

  /**
   * Measures the start-up: a play or seek asked at `askedAt` showed its first frame at `shownAt`
   * (this end's ms).
   *
   * @param askedAt When it was asked.
   * @param shownAt When its first frame showed.
   */
  started(askedAt: number, shownAt: number): void {
    const seconds = (shownAt - askedAt) / 1000;
    if (!Number.isFinite(seconds) || seconds <= 0) return;
    this.#startup = Math.min(STARTUP_BOUNDS_S.max, Math.max(STARTUP_BOUNDS_S.min, seconds));
  }

  /**
   * The room's position now (or at a moment of this end's clock), s.
   *
   * @param localMs This end's ms. @default {now}
   */
  roomPosition(localMs: number = this.#now()): number {
    const timeline = this.#timeline;
    if (timeline === undefined) return 0;
    return timelinePosition(timeline, this.#offset.serverTime(localMs));
  }

  /** Forgets the timeline (the page stopped watching, or reconnected): the next one is taken. */
  forget(): void {
    this.#timeline = undefined;
  }

  /**
   * Takes a room's new timeline and says what it asks of the page's stream; one not newer than
   * the last taken (its epoch) is dropped, null.
   *
   * @param next The `room-playback`.
   * @returns The step, or null when dropped.
   */
  take(next: RoomPlaybackMessage): PlaybackStep | null {
    const last = this.#timeline;
    if (last !== undefined && next.epoch <= last.epoch) return null;
    this.#timeline = next;
    if (next.title === undefined) return { kind: "stop" };
    const paused = next.rate === 0;
    // Playing, it aims where the room will be when the first frame shows.
    const position = this.roomPosition(this.#now() + (paused ? 0 : this.#startup * 1000));
    if (last?.title !== next.title || next.action === "play") {
      return { kind: "play", title: next.title, position, paused };
    }
    if (next.action === "seek") return { kind: "seek", position, paused };
    if (last.rate === 1 && paused) return { kind: "pause" };
    if (last.rate === 0 && !paused) return { kind: "resume" };
    return { kind: "none" };
  }

  /**
   * What to do about the drift of the frame on screen: while the room plays, a rate within ±5 %
   * under a second, a seek (aimed the start-up ahead) over it; while it is paused, the rate back
   * to 1 and a seek to the room's frame from 0.3 s.
   *
   * @param screen The frame on screen and the rate.
   * @returns The action.
   */
  correct(screen: OnScreen): DriftAction {
    const timeline = this.#timeline;
    if (timeline?.title === undefined) return { kind: "none" };
    const room = this.roomPosition();
    const drift = screen.position - room;
    if (timeline.rate === 1) {
      return driftAction(drift, room, screen.rate, { canRate: true, startup: this.#startup });
    }
    if (screen.rate !== 1) return { kind: "rate", rate: 1 };
    return driftAction(drift, room, 1, { canRate: false, startup: 0 });
  }
}
