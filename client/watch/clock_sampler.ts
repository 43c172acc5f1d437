/**
 * The server's clock as this client reads it: a `time` exchange at start (a few, so that one
 * with a short round trip is among them) and one every 30 s, kept by `ClockOffset`
 * (`protocol/watch_sync.ts`: the sample of least round trip among the last 8).
 * @module
 */

import { ClockOffset } from "../../protocol/watch_sync.ts";
import type { SessionClock } from "../session/clock.ts";

/** How often the clock is sampled once started, ms. */
export const CLOCK_SAMPLE_MS = 30_000;

/** How many exchanges are made at start, one after the other. */
export const CLOCK_FIRST_SAMPLES = 3;

/** Options for {@linkcode ClockSampler}. */
export interface ClockSamplerOptions {
  /** Asks the server's time (`time` → `time-is`): resolves with its stamp, ms. */
  ask: () => Promise<number>;
  /** This end's clock and timers, ms since the epoch. */
  clock: SessionClock;
}

/** Samples the server's clock and tells its time. */
export class ClockSampler {
  readonly #ask: () => Promise<number>;
  readonly #clock: SessionClock;
  readonly #offset = new ClockOffset();
  #cancel?: () => void;
  #first?: Promise<void>;

  /** @param options How to ask the server, and this end's clock. */
  constructor(options: ClockSamplerOptions) {
    this.#ask = options.ask;
    this.#clock = options.clock;
  }

  /**
   * Starts sampling (once; later calls return the same promise).
   *
   * @returns Resolves once the first samples are in (or failed: the offset is then 0 until one is).
   */
  start(): Promise<void> {
    this.#first ??= (async () => {
      for (let i = 0; i < CLOCK_FIRST_SAMPLES; i++) await this.sample();
      this.#cancel = this.#clock.every(CLOCK_SAMPLE_MS, () => void this.sample());
    })();
    return this.#first;
  }

  /** Stops the periodic samples. */
  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /**
   * One exchange; a failed one (no answer, lost connection) is skipped.
   *
   * @returns Resolves once it is in.
   */
  async sample(): Promise<void> {
    const t0 = this.#clock.now();
    let server: number;
    try {
      server = await this.#ask();
    } catch {
      return;
    }
    this.#offset.add(t0, server, this.#clock.now());
  }

  /** ms to add to this end's clock to read the server's; undefined before a sample. */
  get offset(): number | undefined {
    return this.#offset.offset;
  }

  /** The server's time now, ms (this end's when no sample is in yet). */
  serverNow(): number {
    return this.#offset.serverTime(this.#clock.now());
  }
}
