/**
 * The viewer's playback clock as the server models it ({@linkcode PlayClock}), pure: the pacing
 * of `stream_state.ts` asks it where the viewer's playhead is.
 * @module
 */

/**
 * The viewer's playback clock as the server models it: it starts at the first confirmed segment
 * of an epoch, stops while paused, and never runs past what the viewer has (a stall shifts it).
 * Pure: the caller gives the time (ms).
 */
export class PlayClock {
  #origin = 0;
  #elapsedMs = 0;
  #runningSince: number | null = null;
  #started = false;
  #paused = false;

  /**
   * Starts an epoch at `origin` seconds, not yet playing.
   *
   * @param origin Where playback will start, seconds.
   * @param paused Whether the viewer holds it.
   */
  reset(origin: number, paused: boolean): void {
    this.#origin = origin;
    this.#elapsedMs = 0;
    this.#runningSince = null;
    this.#started = false;
    this.#paused = paused;
  }

  /** The first segment of the epoch arrived: playback begins (unless paused). */
  start(now: number): void {
    if (this.#started) return;
    this.#started = true;
    if (!this.#paused) this.#runningSince = now;
  }

  /** The viewer paused: the clock stops. */
  pause(now: number): void {
    if (this.#paused) return;
    this.#paused = true;
    if (this.#runningSince !== null) this.#elapsedMs += now - this.#runningSince;
    this.#runningSince = null;
  }

  /** The viewer resumed: the clock runs again if playback had begun. */
  resume(now: number): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#started) this.#runningSince = now;
  }

  /** The modelled playhead at `now`, seconds. */
  playhead(now: number): number {
    const running = this.#runningSince === null ? 0 : now - this.#runningSince;
    return this.#origin + (this.#elapsedMs + running) / 1000;
  }

  /** The player cannot play what it does not have: hold the clock at `mediaEnd`. */
  capAt(mediaEnd: number, now: number): void {
    const over = this.playhead(now) - mediaEnd;
    if (over > 0) this.#elapsedMs -= over * 1000;
  }
}
