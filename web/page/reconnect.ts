/**
 * Reconnecting with backoff: a small state machine (`connected`, `waiting`, `connecting`,
 * `stopped`) with its timer and randomness injected, so that the page's reconnect can be tested
 * from tables without a browser or a clock. Waits start at {@linkcode BACKOFF_DEFAULTS}'s
 * `initialMs`, double up to `maxMs`, and are jittered down by up to `jitter` of themselves, so
 * that many pages that lost the same server do not all come back in the same instant.
 * @module
 */

/** Tunables of the backoff. */
export interface BackoffOptions {
  /** The first wait, ms. @default {500} */
  initialMs?: number;
  /** The longest wait, ms. @default {10000} */
  maxMs?: number;
  /** The growth of each wait over the last. @default {2} */
  factor?: number;
  /** The share of a wait that may be taken off at random, 0–1. @default {0.5} */
  jitter?: number;
}

/** The defaults of {@linkcode BackoffOptions}. */
export const BACKOFF_DEFAULTS: Required<BackoffOptions> = {
  initialMs: 500,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * The wait before an attempt.
 *
 * @param attempt 1 for the first try after the loss.
 * @param random A number in [0, 1), e.g. `Math.random()`.
 * @param options The tunables.
 * @returns The wait, ms: `min(maxMs, initialMs × factor^(attempt−1)) × (1 − jitter × random)`.
 * @throws {RangeError} When `attempt` is not a whole number of at least 1.
 */
export function backoffDelay(
  attempt: number,
  random: number,
  options: BackoffOptions = {},
): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`Cannot compute a backoff: attempt ${attempt} is not a whole number ≥ 1`);
  }
  const { initialMs, maxMs, factor, jitter } = { ...BACKOFF_DEFAULTS, ...options };
  // Capped before it is raised too far to stay finite.
  const exponent = Math.min(attempt - 1, 64);
  const base = Math.min(maxMs, initialMs * factor ** exponent);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(base * (1 - jitter * r));
}

/** Where the connection stands. */
export type ReconnectState =
  | { kind: "connected" }
  | { kind: "waiting"; attempt: number; delayMs: number }
  | { kind: "connecting"; attempt: number }
  | { kind: "stopped"; error?: unknown };

/** A timer, as `setTimeout`/`clearTimeout` give one; tests pass a fake. */
export interface ReconnectTimers {
  /** Calls `fn` after `ms`; returns a handle for `clear`. */
  set(fn: () => void, ms: number): unknown;
  /** Cancels a timer. */
  clear(handle: unknown): void;
}

/** Options for {@linkcode Reconnector}. */
export interface ReconnectorOptions extends BackoffOptions {
  /** Connects and rejoins; rejects when it could not. */
  connect: () => Promise<void>;
  /** Whether a failure is final (e.g. the name now belongs to someone else): then it stops. */
  isFatal?: (error: unknown) => boolean;
  /** Told each state as it is entered. */
  onState?: (state: ReconnectState) => void;
  /** @default {setTimeout and clearTimeout} */
  timers?: ReconnectTimers;
  /** @default {Math.random} */
  random?: () => number;
}

/** Drives reconnects after a lost connection, one attempt at a time. */
export class Reconnector {
  readonly #options: ReconnectorOptions;
  readonly #timers: ReconnectTimers;
  #state: ReconnectState = { kind: "connected" };
  #timer?: unknown;
  /** Bumped by `stop` and `connected`, so that an attempt in flight then is ignored. */
  #generation = 0;

  /** @param options What to call to connect, and the tunables. */
  constructor(options: ReconnectorOptions) {
    this.#options = options;
    this.#timers = options.timers ?? {
      set: (fn, ms) => setTimeout(fn, ms),
      clear: (handle) => clearTimeout(handle as number),
    };
  }

  /** The current state. */
  get state(): ReconnectState {
    return this.#state;
  }

  /** The connection was lost, or trying again after a stop: wait, then try. Ignored while trying. */
  lost(): void {
    if (this.#state.kind === "waiting" || this.#state.kind === "connecting") return;
    this.#wait(1);
  }

  /** Skips the wait (e.g. the browser came back online). Ignored unless waiting. */
  retryNow(): void {
    if (this.#state.kind !== "waiting") return;
    this.#timers.clear(this.#timer);
    this.#attempt(this.#state.attempt);
  }

  /** A connection was made some other way (e.g. a tab took the conversation back). */
  connected(): void {
    this.#cancel();
    this.#enter({ kind: "connected" });
  }

  /** Stops trying (the person left, or forgot this browser). */
  stop(error?: unknown): void {
    this.#cancel();
    this.#enter(error === undefined ? { kind: "stopped" } : { kind: "stopped", error });
  }

  #cancel() {
    this.#generation++;
    this.#timers.clear(this.#timer);
    this.#timer = undefined;
  }

  #wait(attempt: number) {
    const random = (this.#options.random ?? Math.random)();
    const delayMs = backoffDelay(attempt, random, this.#options);
    this.#enter({ kind: "waiting", attempt, delayMs });
    this.#timer = this.#timers.set(() => this.#attempt(attempt), delayMs);
  }

  #attempt(attempt: number) {
    const generation = ++this.#generation;
    this.#timer = undefined;
    this.#enter({ kind: "connecting", attempt });
    this.#options.connect().then(() => {
      if (generation === this.#generation) this.#enter({ kind: "connected" });
    }, (error) => {
      if (generation !== this.#generation) return;
      if (this.#options.isFatal?.(error)) this.#enter({ kind: "stopped", error });
      else this.#wait(attempt + 1);
    });
  }

  #enter(state: ReconnectState) {
    this.#state = state;
    this.#options.onState?.(state);
  }
}
