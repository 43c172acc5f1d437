/**
 * The on-screen position of a player, for any player. Pure: the caller gives the time.
 *
 * How it is derived: the wall clock since the player took its first bytes of the epoch, minus the
 * time it was held (SIGSTOP on PAUSE), and never past the media time of what the player has taken
 * (a player cannot show what it has not read: when it starves, or stops reading because it was
 * paused from its own window, the clock waits there). Players read ahead (the 64 KiB pipe plus
 * their own buffer), so what they took is only an upper bound; the wall clock is what moves the
 * position, and a player paused from its own window shows a position at most its read-ahead
 * ahead of its picture.
 * @module
 */

/**
 * A media clock that runs while the player plays.
 *
 * @example
 * ```ts
 * const clock = new PositionClock(30);
 * clock.consumed(32, 1000); // the player took bytes up to 32 s at t = 1000 ms
 * clock.position(1500); // 30.5
 * clock.position(9000); // 32: it cannot have shown more than it took
 * ```
 */
export class PositionClock {
  readonly #origin: number;
  #elapsedMs = 0;
  #runningSince: number | null = null;
  #started = false;
  #held = false;
  #consumedEnd: number;

  /** @param origin Media time, seconds, of the epoch's first byte. */
  constructor(origin: number) {
    this.#origin = origin;
    this.#consumedEnd = origin;
  }

  /** Whether the player has taken any bytes yet. */
  get started(): boolean {
    return this.#started;
  }

  /** Whether the clock is held. */
  get held(): boolean {
    return this.#held;
  }

  /** Media time at the end of what the player took. */
  get consumedEnd(): number {
    return this.#consumedEnd;
  }

  /**
   * The player took bytes up to media time `mediaEnd`. The first call starts the clock.
   *
   * @param mediaEnd Media time, seconds, at the end of the bytes taken.
   * @param now The time, ms.
   */
  consumed(mediaEnd: number, now: number): void {
    this.#consumedEnd = Math.max(this.#consumedEnd, mediaEnd);
    if (this.#started) return;
    this.#started = true;
    if (!this.#held) this.#runningSince = now;
  }

  /**
   * Stops the clock as of `at`, which may lie in the past (a player noticed late to have stopped
   * reading stopped when it last read).
   *
   * @param at When the picture froze, ms.
   */
  hold(at: number): void {
    if (this.#held) return;
    this.#held = true;
    if (this.#runningSince !== null) {
      // Never before the epoch's start, even when a starved clock was moved back since `at`.
      this.#elapsedMs = Math.max(0, this.#elapsedMs + Math.max(0, at - this.#runningSince));
      this.#runningSince = null;
    }
  }

  /**
   * Runs the clock again.
   *
   * @param now The time, ms.
   */
  release(now: number): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.#started) this.#runningSince = now;
  }

  /**
   * The media time on screen now. When the wall clock has run past what the player took, the
   * clock is moved back to it (the player waits for data), so it continues from there.
   *
   * @param now The time, ms.
   * @returns Seconds from the start of the title.
   */
  position(now: number): number {
    const running = this.#runningSince === null ? 0 : Math.max(0, now - this.#runningSince);
    const raw = this.#origin + (this.#elapsedMs + running) / 1000;
    if (raw <= this.#consumedEnd) return raw;
    this.#elapsedMs -= (raw - this.#consumedEnd) * 1000;
    return this.#consumedEnd;
  }
}
