/**
 * One clock for a cluster's timelines (watching together, issue 21): Redis's `TIME`. Each node
 * measures its offset to it NTP-style ({@linkcode ClockOffset}, the sample of least round trip
 * among the last 8) when it starts and every 30 s, and reads the cluster's time as its own clock
 * plus that offset, so that anchors made on one node and `time-is` answered by another agree
 * (within half the round trip to Redis). See docs/watch-together.md, "In a cluster".
 * @module
 */

import { ClockOffset } from "../../protocol/watch_sync.ts";

/** How often a node measures its offset to Redis, ms. @default */
export const CLOCK_EVERY_MS = 30_000;

/** Samples taken when the node starts (the best of them is used). @default */
export const CLOCK_FIRST_SAMPLES = 4;

/** Options for {@linkcode ClusterClock}. */
export interface ClusterClockOptions {
  /** This node's clock, ms since the epoch. */
  local: () => number;
  /** How often to measure, ms. @default {CLOCK_EVERY_MS} */
  everyMs?: number;
  /** A measure that failed (Redis did not answer): the offset measured before stays. */
  log?: (line: string) => void;
}

/** A node's reading of the cluster's clock (Redis `TIME`). */
export class ClusterClock {
  readonly #redisTime: () => Promise<number>;
  readonly #options: ClusterClockOptions;
  readonly #offset = new ClockOffset();
  #timer?: ReturnType<typeof setInterval>;
  /** Stopped (the node is shutting down): a measure failing then is not news. */
  #stopped = false;

  /**
   * @param redisTime Reads Redis's clock (`ClusterTimelineStore.time`), ms since the epoch.
   * @param options This node's clock, the period, the log.
   */
  constructor(redisTime: () => Promise<number>, options: ClusterClockOptions) {
    this.#redisTime = redisTime;
    this.#options = options;
  }

  /** ms to add to this node's clock to read the cluster's; 0 before the first sample. */
  get offset(): number {
    return this.#offset.offset ?? 0;
  }

  /** The round trip of the sample in use, ms (the offset is within half of it). */
  get roundTrip(): number | undefined {
    return this.#offset.roundTrip;
  }

  /** The cluster's time now, ms since the epoch. */
  now(): number {
    return this.#offset.serverTime(this.#options.local());
  }

  /**
   * Takes samples of the offset, one after the other.
   *
   * @param samples How many. @default {1}
   * @returns Whether at least one was taken (a failure is logged).
   */
  async measure(samples = 1): Promise<boolean> {
    let taken = false;
    for (let i = 0; i < samples; i++) {
      try {
        const t0 = this.#options.local();
        const server = await this.#redisTime();
        this.#offset.add(t0, server, this.#options.local());
        taken = true;
      } catch (error) {
        if (this.#stopped) break;
        this.#options.log?.(
          `cluster: cannot read the cluster's clock (Redis TIME): ${
            error instanceof Error ? error.message : String(error)
          }; the offset measured before stays`,
        );
        break;
      }
    }
    return taken;
  }

  /**
   * Measures {@linkcode CLOCK_FIRST_SAMPLES} times, then once every period until stopped.
   *
   * @returns When the first samples are taken (or failed).
   */
  async start(): Promise<void> {
    await this.measure(CLOCK_FIRST_SAMPLES);
    clearInterval(this.#timer);
    this.#stopped = false;
    this.#timer = setInterval(() => this.measure(), this.#options.everyMs ?? CLOCK_EVERY_MS);
  }

  /** Stops measuring. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
