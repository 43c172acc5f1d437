/**
 * What the server counts for `serve --metrics`: plain numbers incremented where things happen (a
 * segment sent costs two additions and a short bucket search), read by the metrics module at
 * scrape time. Every label has a bounded set of values: error codes, limit reasons, doors,
 * renditions; never a connection or a user. Pure.
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";

/** Upper bounds of the pacing lag histogram's buckets, seconds. */
export const PACING_LAG_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The limits a refusal can be for (the `reason` label of `peerstream_limit_refusals_total`). */
export const LIMIT_REASONS = [
  "connections",
  "connections_per_address",
  "connects_per_address",
  "hellos_per_address",
  "messages_per_connection",
  "message_size",
  "frame_size",
  "relay_budget",
  "names",
  "handshake_timeout",
  "idle_timeout",
  "slow_consumer",
] as const;

/** A limit a refusal is for. */
export type LimitReason = typeof LIMIT_REASONS[number];

/** The limit behind an error code sent to a client, when the code alone says which. */
const LIMIT_OF_CODE: Partial<Record<ErrorCode, LimitReason>> = {
  MESSAGE_TOO_LARGE: "message_size",
  FRAME_TOO_LARGE: "frame_size",
  INBOX_FULL: "relay_budget",
  NAME_LIMIT: "names",
  HANDSHAKE_TIMEOUT: "handshake_timeout",
  IDLE_TIMEOUT: "idle_timeout",
  SLOW_CONSUMER: "slow_consumer",
};

/**
 * The limit an error code stands for, when it stands for one alone (`RATE_LIMITED` and
 * `SERVER_FULL` need their context and are counted where they happen).
 *
 * @param code The error code.
 * @returns The limit, or undefined.
 */
export function limitOfCode(code: ErrorCode): LimitReason | undefined {
  return LIMIT_OF_CODE[code];
}

/** A histogram as plain counts: `counts[i]` holds the observations `<= bounds[i]` and above the previous bound; the last holds the rest. */
export class BucketCounts {
  /** The upper bounds. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative), the last past every bound. */
  readonly counts: number[];
  /** The sum of observations. */
  sum = 0;
  /** How many observations. */
  count = 0;

  /** @param bounds Upper bounds, ascending. */
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /**
   * Counts one observation.
   *
   * @param value The value.
   */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /**
   * A copy, to read while the original goes on counting.
   *
   * @returns The copy.
   */
  copy(): BucketCounts {
    const out = new BucketCounts(this.bounds);
    out.counts.splice(0, out.counts.length, ...this.counts);
    out.sum = this.sum;
    out.count = this.count;
    return out;
  }

  /**
   * The counts as Prometheus wants them: cumulative, per upper bound, `+Inf` last.
   *
   * @returns `[bound, cumulative count]` pairs.
   */
  cumulative(): [number, number][] {
    let total = 0;
    const out: [number, number][] = [];
    for (let i = 0; i <= this.bounds.length; i++) {
      total += this.counts[i];
      out.push([this.bounds[i] ?? Infinity, total]);
    }
    return out;
  }
}

/** The server's counters. */
export class ServerStats {
  /** Sealed messages relayed (to a recipient here, or to its node). */
  relayed = 0;
  /** Media segments sent to viewers. */
  segments = 0;
  /** Bytes written by connections that have ended (live ones are added at scrape time). */
  endedBytes = 0;
  /** Requests refused, by the error code sent back. */
  readonly refused: Map<ErrorCode, number> = new Map();
  /** Refusals because of a limit, by limit. */
  readonly limits: Map<LimitReason, number> = new Map();
  /** How late segments went out after they were due, seconds. */
  readonly pacingLag: BucketCounts = new BucketCounts(PACING_LAG_BUCKETS);

  /**
   * Counts a request refused with `code` (and its limit, when the code names one).
   *
   * @param code The error code sent back.
   */
  refuse(code: ErrorCode): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
    const limit = LIMIT_OF_CODE[code];
    if (limit !== undefined) this.limit(limit);
  }

  /**
   * Counts a refusal because of a limit.
   *
   * @param reason The limit.
   */
  limit(reason: LimitReason): void {
    this.limits.set(reason, (this.limits.get(reason) ?? 0) + 1);
  }

  /**
   * A copy of the counters at this moment, so that one scrape reads one consistent state.
   *
   * @returns The copy.
   */
  copy(): ServerStats {
    const out = new ServerStats();
    out.relayed = this.relayed;
    out.segments = this.segments;
    out.endedBytes = this.endedBytes;
    for (const [code, n] of this.refused) out.refused.set(code, n);
    for (const [reason, n] of this.limits) out.limits.set(reason, n);
    const lag = this.pacingLag.copy();
    out.pacingLag.counts.splice(0, lag.counts.length, ...lag.counts);
    out.pacingLag.sum = lag.sum;
    out.pacingLag.count = lag.count;
    return out;
  }

  /**
   * Counts a segment sent.
   *
   * @param lagSeconds How late it went out after it was due.
   */
  segment(lagSeconds: number): void {
    this.segments++;
    this.pacingLag.observe(lagSeconds);
  }
}

/** How a connection reached the server (the `door` label). */
export type Door = "tcp" | "tls" | "websocket" | "http";

/** Whether the server is ready to serve, and why not. */
export interface Readiness {
  /** Ready: the video library is open and, in a cluster, Redis is reachable. */
  ready: boolean;
  /** Why not, one line. */
  reason?: string;
}

/** The server's state at one scrape, read in one pass over its connections. */
export interface ServerSnapshot {
  /** Open connections by door and state. */
  connections: Map<`${Door} ${"handshake" | "registered"}`, number>;
  /** Registered users on this node. */
  registered: number;
  /** Streams by the height of the rendition being sent, e.g. `720p`. */
  viewers: Map<string, number>;
  /** Bytes written to clients since the start, ended connections included. */
  bytesSent: number;
  /** Whether the link to Redis is up; undefined outside a cluster. */
  redisUp?: boolean;
}

/** What the metrics read from the server. */
export interface MetricsSource {
  /** The counters. */
  readonly stats: ServerStats;
  /** The state now. */
  snapshot(): ServerSnapshot;
  /** Whether it is ready. */
  readiness(): Readiness;
}
