/**
 * The server's limits, in one place. Every rejection names its limit and error code.
 * @module
 */

import { MAX_FRAME_BYTES } from "../protocol/frame.ts";
import { MAX_SEALED_BYTES } from "../protocol/messages.ts";
import { MAX_NAME_LENGTH } from "../protocol/names.ts";

/** Tunable limits of a server. */
export interface ServerLimits {
  /** Largest frame payload, bytes (`FRAME_TOO_LARGE`). */
  maxFrameBytes: number;
  /** Largest sealed message, bytes (`MESSAGE_TOO_LARGE`). */
  maxSealedBytes: number;
  /** Longest name, characters (`NAME_INVALID`). */
  maxNameLength: number;
  /** Most connections at once (`SERVER_FULL`). */
  maxConnections: number;
  /** Most connections from one address (`SERVER_FULL`). */
  maxConnectionsPerAddress: number;
  /** Messages per second per connection, sustained (`RATE_LIMITED`). */
  messagesPerSecond: number;
  /** Messages a connection may send in a burst (`RATE_LIMITED`). */
  messageBurst: number;
  /** Time to complete the handshake, ms (`HANDSHAKE_TIMEOUT`). */
  handshakeMs: number;
  /** Silence after which a connection is pinged, ms. */
  keepaliveMs: number;
  /** Silence after which a connection is dropped, ms (`IDLE_TIMEOUT`). */
  idleMs: number;
  /** Control bytes queued for one slow reader before it is dropped (`SLOW_CONSUMER`). */
  maxQueuedControlBytes: number;
  /** Media bytes sent to a viewer but not yet confirmed (`SLOW_CONSUMER` once exceeded too long). */
  maxUnackedMediaBytes: number;
  /**
   * How long one socket write may make no progress before the reader is dropped, ms
   * (`SLOW_CONSUMER`). A viewer that stops reading blocks the write of a media chunk; the stream's
   * own window check never runs while that write waits, so the connection watches it.
   */
  maxWriteStallMs: number;
  /** A viewer whose window stays full this long is moved to the lowest rendition, ms. */
  stallStepDownMs: number;
  /**
   * A viewer whose window stays full, or who confirms nothing, this long is stopped, ms
   * (`SLOW_CONSUMER`).
   */
  stallStopMs: number;
  /** A stream paused longer than this ends with `PAUSE_TIMEOUT`, ms. */
  pauseTimeoutMs: number;
}

/** The defaults; `peerstream serve --help` and README list them. */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = {
  maxFrameBytes: MAX_FRAME_BYTES,
  maxSealedBytes: MAX_SEALED_BYTES,
  maxNameLength: MAX_NAME_LENGTH,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 10_000,
  messagesPerSecond: 2_000,
  messageBurst: 4_000,
  handshakeMs: 10_000,
  keepaliveMs: 30_000,
  idleMs: 90_000,
  maxQueuedControlBytes: 8 * 1024 * 1024,
  maxUnackedMediaBytes: 4 * 1024 * 1024,
  maxWriteStallMs: 15_000,
  stallStepDownMs: 3_000,
  stallStopMs: 15_000,
  pauseTimeoutMs: 30 * 60_000,
};

/** The environment variable that overrides limits (tests): a JSON object of {@linkcode ServerLimits} fields. */
export const LIMITS_ENV = "PEERSTREAM_LIMITS";

/**
 * Parses limit overrides, e.g. `{"handshakeMs": 500, "maxUnackedMediaBytes": 65536}`.
 *
 * @param text JSON text, or undefined for none.
 * @returns The overrides.
 * @throws {SyntaxError} When the text is not a JSON object of known fields.
 * @throws {RangeError} When a value is not a non-negative integer.
 */
export function parseLimits(text: string | undefined): Partial<ServerLimits> {
  if (text === undefined || text.trim() === "") return {};
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Invalid ${LIMITS_ENV}: expected a JSON object of limits`);
  }
  const out: Partial<ServerLimits> = {};
  for (const [key, n] of Object.entries(value)) {
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) {
      throw new SyntaxError(
        `Invalid ${LIMITS_ENV}: unknown limit "${key}"; use ${
          Object.keys(DEFAULT_LIMITS).join(", ")
        }`,
      );
    }
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`Invalid ${LIMITS_ENV}: "${key}" must be a whole number from 0`);
    }
    out[key as keyof ServerLimits] = n;
  }
  return out;
}

/**
 * A token bucket: `take()` is false once the rate is exceeded. Pure: the caller gives the time.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #rate: number;
  readonly #burst: number;

  /**
   * @param rate Tokens per second.
   * @param options The burst size and the starting time (ms).
   */
  constructor(rate: number, options: { burst: number; now: number }) {
    this.#rate = rate;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#last = options.now;
  }

  /**
   * Takes one token.
   *
   * @param now The current time, ms.
   * @returns Whether a token was available.
   */
  take(now: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
