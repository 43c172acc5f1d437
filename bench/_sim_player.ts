/**
 * A model of a player for the watch scenario (pure; time is passed in): it shows media time at
 * its playback rate from the moment its first segment has arrived, never past the media it has
 * (it stalls there and goes on when more arrives), holds its picture while paused, and lands a
 * seek on the exact position asked when the new stream's first segment has arrived (as the real
 * players do since issue 18). It is a model of mpv or the page, not a decoder: the bench measures
 * what the protocol and the server let a player do, not a player's own delays.
 * @module
 */

/** What a {@linkcode SimPlayer} shows at one moment. */
export interface Picture {
  /** Seconds into the title on screen. */
  position: number;
  /** Whether the picture is held (paused). */
  paused: boolean;
}

/** A player model driven by segment arrivals, rate changes, pause and resume. */
export class SimPlayer {
  #shown = NaN;
  #at = NaN;
  #rate = 1;
  #paused = false;
  #mediaEnd = 0;

  /** Whether a first picture has been shown. */
  get started(): boolean {
    return !Number.isNaN(this.#shown);
  }

  /** The playback rate (1 normal; mpv `speed`, the page's `playbackRate`). */
  get rate(): number {
    return this.#rate;
  }

  /** Whether the picture is held. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * The position on screen at a moment, seconds; NaN before the first picture.
   *
   * @param now The moment, ms (the same clock as every other call).
   * @returns Where the picture is.
   */
  position(now: number): number {
    if (!this.started || this.#paused) return this.#shown;
    const moved = this.#shown + Math.max(0, now - this.#at) * this.#rate / 1000;
    // A player with no more media holds its last frame: a stall.
    return Math.min(moved, Math.max(this.#shown, this.#mediaEnd));
  }

  /**
   * A segment (or the first of a new stream after a play or seek) has arrived.
   *
   * @param now When its last byte arrived, ms.
   * @param end Its media end (`start + duration`), seconds.
   * @param land The position asked, when this segment starts a new stream or a seek: the picture
   *   jumps there now.
   */
  received(now: number, end: number, land?: number): void {
    if (land !== undefined) {
      this.#shown = land;
      this.#at = now;
      this.#mediaEnd = end;
      return;
    }
    this.#advance(now);
    this.#mediaEnd = Math.max(this.#mediaEnd, end);
  }

  /**
   * Changes the playback rate from now on.
   *
   * @param now The moment, ms.
   * @param rate The new rate.
   */
  setRate(now: number, rate: number): void {
    this.#advance(now);
    this.#rate = rate;
  }

  /**
   * Holds the picture (at once, as mpv's `pause` or the page's `pause()`).
   *
   * @param now The moment, ms.
   */
  pause(now: number): void {
    this.#advance(now);
    this.#paused = true;
  }

  /**
   * Lets the picture move again.
   *
   * @param now The moment, ms.
   */
  resume(now: number): void {
    this.#advance(now);
    this.#paused = false;
  }

  /** Forgets the picture (a stop). */
  reset(): void {
    this.#shown = NaN;
    this.#at = NaN;
    this.#rate = 1;
    this.#paused = false;
    this.#mediaEnd = 0;
  }

  #advance(now: number): void {
    if (!this.started) return;
    this.#shown = this.position(now);
    this.#at = now;
  }
}
