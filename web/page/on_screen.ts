/**
 * Where the page's picture is (pure, times given): the last frame the browser presented
 * (`requestVideoFrameCallback`: its media time and when), moved on by the time since while the
 * video plays, and whether a play or seek still waits for its first frame, which is told once
 * with how long it took (watching together's start-up, `watch_steer.ts`).
 * @module
 */

/** A picture not renewed for this long is taken as frozen (a stall), ms. */
export const FROZEN_AFTER_MS = 250;
/** A play or seek whose frame never showed stops holding the correction after this long, ms. */
export const LANDING_GIVE_UP_MS = 10_000;
/** How near its target a frame lands a play or seek, s (a keyframe's worth either way). */
export const LANDED_WITHIN_S = 0.5;

/** A play or seek that showed its first frame. */
export interface Landed {
  askedAt: number;
  shownAt: number;
}

/** The frame on screen and the landing awaited. */
export class OnScreenFrame {
  #shown?: { at: number; mediaTime: number };
  #landing?: { askedAt: number; target: number };

  /**
   * A play or seek was asked: its first frame near `target` is awaited, and the last one shown
   * no longer counts.
   *
   * @param askedAt When, ms.
   * @param target Where it goes, s.
   */
  asked(askedAt: number, target: number): void {
    this.#landing = { askedAt, target };
    this.#shown = undefined;
  }

  /**
   * A frame was presented.
   *
   * @param at When, ms.
   * @param mediaTime Its media time, s.
   * @returns The landing it completed, if it did.
   */
  framed(at: number, mediaTime: number): Landed | undefined {
    this.#shown = { at, mediaTime };
    const landing = this.#landing;
    if (landing === undefined || Math.abs(mediaTime - landing.target) >= LANDED_WITHIN_S) {
      return undefined;
    }
    this.#landing = undefined;
    return { askedAt: landing.askedAt, shownAt: at };
  }

  /**
   * Whether a play or seek waits for its first frame (given up after
   * {@linkcode LANDING_GIVE_UP_MS}).
   *
   * @param now This end's ms.
   */
  landing(now: number): boolean {
    if (this.#landing !== undefined && now - this.#landing.askedAt > LANDING_GIVE_UP_MS) {
      this.#landing = undefined;
    }
    return this.#landing !== undefined;
  }

  /**
   * The position on screen now.
   *
   * @param now This end's ms.
   * @param playing Whether the video plays (not paused).
   * @param rate Its playback rate.
   * @returns Seconds, or undefined before a frame was presented.
   */
  position(now: number, playing: boolean, rate: number): number | undefined {
    const shown = this.#shown;
    if (shown === undefined) return undefined;
    const since = now - shown.at;
    const moving = playing && since >= 0 && since < FROZEN_AFTER_MS;
    return shown.mediaTime + (moving ? since / 1000 * rate : 0);
  }
}
