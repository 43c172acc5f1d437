/**
 * The time a session's parts read: the wall clock and timers, injected so that keepalive,
 * silence and request timeouts can be tested on a fake clock.
 * @module
 */

/** A clock with timers; {@linkcode SYSTEM_CLOCK} is the real one. */
export interface SessionClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fn` once after `ms`.
   *
   * @returns A function that cancels the call.
   */
  after(ms: number, fn: () => void): () => void;
  /**
   * Calls `fn` every `ms` until cancelled.
   *
   * @returns A function that cancels the calls.
   */
  every(ms: number, fn: () => void): () => void;
}

/** The wall clock and the runtime's timers. */
export const SYSTEM_CLOCK: SessionClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
};
