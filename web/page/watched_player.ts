/**
 * The page's player as watching together steers it (issue 21): the frame on screen from
 * `requestVideoFrameCallback` (`on_screen.ts`), the playback rate, and the room's plays and seeks
 * through the player's ordinary ones, each landing on the room's position of the moment its media
 * can play (so a start-up shorter or longer than the one aimed for does not leave the picture
 * off), and telling how long its first frame took.
 * @module
 */

import type { VideoSummary } from "../../protocol/messages.ts";
import { OnScreenFrame } from "./on_screen.ts";
import type { PagePlayer } from "./page_player.ts";
import { rangesOf } from "./buffer_gaps.ts";

/** A landing is moved to the room's position of the moment only if it is off by more, s. */
export const RETARGET_OVER_S = 0.04;
/** A play or seek whose media could not play within this long is not moved any more, ms. */
export const RETARGET_WITHIN_MS = 5_000;

/** Options for {@linkcode WatchedPlayer.playAt} and {@linkcode WatchedPlayer.seekTo}. */
export interface LandOptions {
  /** The room's position now, s, read when the media can play; absent while the room is paused. */
  roomNow?: () => number;
}

/** The player, steered onto a room's timeline. */
export class WatchedPlayer {
  readonly #player: PagePlayer;
  readonly #video: HTMLVideoElement;
  readonly #frames = new OnScreenFrame();
  /** The play or seek in flight: when it was asked, and the room's clock to land on. */
  #landing?: { askedAt: number; roomNow?: () => number };
  /** The first frame of a play or seek showed: asked at `askedAt`, shown at `shownAt` (ms). */
  onLanded?: (askedAt: number, shownAt: number) => void;

  /**
   * @param player The page's player.
   * @param video Its video element.
   */
  constructor(player: PagePlayer, video: HTMLVideoElement) {
    this.#player = player;
    this.#video = video;
    video.addEventListener("canplay", () => this.#land());
    if (typeof video.requestVideoFrameCallback !== "function") return;
    const onFrame: VideoFrameRequestCallback = (now, frame) => {
      const landed = this.#frames.framed(performance.timeOrigin + now, frame.mediaTime);
      if (landed !== undefined) this.onLanded?.(landed.askedAt, landed.shownAt);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  /** The title on screen, if any. */
  get title(): string | undefined {
    return this.#player.title;
  }

  /** Whether a play or seek waits for its first frame (no drift to correct meanwhile). */
  get landing(): boolean {
    return this.#frames.landing(localNow());
  }

  /**
   * The frame on screen now (the last presented frame's media time, moved on while playing);
   * the element's time where the browser tells no frames.
   *
   * @returns The position (s) and the playback rate, or undefined with nothing on screen.
   */
  onScreen(): { position: number; rate: number } | undefined {
    if (this.#player.title === undefined) return undefined;
    const video = this.#video;
    const position = this.#frames.position(localNow(), !video.paused, video.playbackRate);
    return { position: position ?? video.currentTime, rate: video.playbackRate };
  }

  /**
   * Keeps the picture playing while the room plays and still while it is paused, whatever
   * paused or played it meanwhile (the browser, a media key): it then catches up alone.
   *
   * @param playing Whether the room plays.
   */
  keepPlaying(playing: boolean): void {
    const video = this.#video;
    if (playing && video.paused && !video.ended) video.play().catch(() => {});
    else if (!playing && !video.paused) video.pause();
  }

  /**
   * Sets the playback rate (a drift correction within ±5 %).
   *
   * @param rate The rate.
   */
  setRate(rate: number): void {
    this.#video.playbackRate = rate;
  }

  /**
   * Plays a title for the room from a position (the room's, plus the start-up while it plays),
   * paused or not, in this person's quality.
   *
   * @param video The title.
   * @param position Where, s.
   * @param options `roomNow` to land on the room's position of the moment.
   */
  async playAt(
    video: VideoSummary,
    position: number,
    options: LandOptions & { paused: boolean },
  ): Promise<void> {
    this.#asked(position, options);
    this.setRate(1);
    await this.#player.play(video, { position });
    if (options.paused) await this.#player.hold(true);
  }

  /**
   * Jumps the page's own stream for the room (the ordinary seek).
   *
   * @param position Where, s.
   * @param options `roomNow` to land on the room's position of the moment.
   */
  async seekTo(position: number, options: LandOptions = {}): Promise<void> {
    this.#asked(position, options);
    await this.#player.seek(position);
  }

  #asked(position: number, options: LandOptions) {
    const askedAt = localNow();
    this.#landing = { askedAt, ...(options.roomNow ? { roomNow: options.roomNow } : {}) };
    this.#frames.asked(askedAt, position);
  }

  /**
   * The media of a play or seek can play: while the room plays, the picture goes to the room's
   * position of this moment when it is buffered and off by more than {@linkcode RETARGET_OVER_S}.
   */
  #land() {
    const landing = this.#landing;
    this.#landing = undefined;
    const at = landing?.roomNow?.();
    if (landing === undefined || at === undefined) return;
    if (localNow() - landing.askedAt > RETARGET_WITHIN_MS) return;
    const video = this.#video;
    if (Math.abs(at - video.currentTime) <= RETARGET_OVER_S) return;
    if (!rangesOf(video.buffered).some((r) => r.start <= at && at < r.end)) return;
    this.#frames.asked(landing.askedAt, at);
    video.currentTime = at;
  }
}

/** This end's clock, ms since the epoch, monotonic within the page. */
function localNow(): number {
  return performance.timeOrigin + performance.now();
}
