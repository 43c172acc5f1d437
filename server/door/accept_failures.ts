/**
 * What the accept loop does when `accept()` fails (out of file descriptors, most often): how long
 * to back off, and what to log, once per interval rather than once per failure, and once per interval
 * however often accepts recover and fail again in between (near the limit, every descriptor freed
 * elsewhere lets one accept through). Pure: the caller gives the time and sleeps.
 * @module
 */

/** Options for {@linkcode AcceptFailures}. */
export interface AcceptFailuresOptions {
  /** The first back-off, ms. @default {10} */
  firstDelayMs?: number;
  /** The longest back-off, ms; each failure in a row doubles it up to this. @default {1000} */
  maxDelayMs?: number;
  /** At most one log line per this many ms while accepts keep failing. @default {10000} */
  logIntervalMs?: number;
}

/** What to do after a failed accept. */
export interface AcceptStep {
  /** How long to wait before the next accept, ms. */
  delayMs: number;
  /** A line to log, if one is due. */
  log?: string;
}

/** Back-off and log budget of an accept loop. */
export class AcceptFailures {
  readonly #first: number;
  readonly #max: number;
  readonly #interval: number;
  #delay = 0;
  /** Failures since the last line logged. */
  #unlogged = 0;
  /** Failures since the last success. */
  #inRow = 0;
  /** Failures since the last "again" line (across short recoveries that said nothing). */
  #sinceAgain = 0;
  /** Whether a failure line was logged since the last "again" line. */
  #announced = false;
  #loggedAt = -Infinity;

  /** @param options Back-off and log interval. */
  constructor(options: AcceptFailuresOptions = {}) {
    this.#first = options.firstDelayMs ?? 10;
    this.#max = options.maxDelayMs ?? 1000;
    this.#interval = options.logIntervalMs ?? 10_000;
  }

  /** Failures since the last successful accept. */
  get inRow(): number {
    return this.#inRow;
  }

  /**
   * Records a failed accept.
   *
   * @param now The current time, ms.
   * @param why The error's message.
   * @returns The back-off, and a line to log when one is due.
   */
  failed(now: number, why: string): AcceptStep {
    this.#inRow++;
    this.#sinceAgain++;
    this.#delay = this.#delay === 0 ? this.#first : Math.min(this.#max, this.#delay * 2);
    if (now - this.#loggedAt < this.#interval) {
      this.#unlogged++;
      return { delayMs: this.#delay };
    }
    const more = this.#unlogged > 0
      ? ` (${this.#unlogged.toLocaleString("en-US")} more in the last ${this.#interval / 1000} s)`
      : "";
    this.#unlogged = 0;
    this.#loggedAt = now;
    this.#announced = true;
    return {
      delayMs: this.#delay,
      log:
        `Cannot accept connections: ${why}${more}; refusing new ones and backing off until some close; raise the file limit (ulimit -n) or lower --max-connections`,
    };
  }

  /**
   * Records that a failure was answered by refusing a pending connection (a spare descriptor
   * closed to take it): that made progress, so the back-off starts over, but the run goes on.
   */
  shed(): void {
    this.#delay = 0;
  }

  /**
   * Records a successful accept. The log budget is kept: failures soon after start no new line.
   *
   * @returns A line to log when it ends a run of failures that was logged.
   */
  succeeded(): string | undefined {
    if (this.#inRow === 0) return undefined;
    this.#inRow = 0;
    this.#delay = 0;
    if (!this.#announced) return undefined;
    const line = `Accepting connections again after ${
      this.#sinceAgain.toLocaleString("en-US")
    } failed accepts`;
    this.#announced = false;
    this.#sinceAgain = 0;
    return line;
  }
}

/**
 * Whether an accept failed for want of file descriptors (`EMFILE`, `ENFILE`).
 *
 * @param error What `accept()` threw.
 * @returns True when closing something would let it succeed.
 */
export function isOutOfDescriptors(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /os error 2[34]\b|too many open files/i.test(text);
}
