/**
 * What each end of a connection may count on from an honest other end, whichever side it is: the
 * keepalive rule and the longest list of names a message carries. The server's tunable limits
 * (`server/limits.ts`) and the client's (`client/session/limits.ts`) both start from these, so the
 * two sides cannot drift apart; see docs/PROTOCOL.md (`ping`/`pong`, `IDLE_TIMEOUT`, `welcome`).
 * @module
 */

/** Silence after which an end pings the other, ms: 30 s. */
export const KEEPALIVE_MS = 30_000;

/**
 * Silence after which an end gives the other up, ms: 90 s, three keepalive periods, so that two
 * unanswered pings are not enough (the server closes with `IDLE_TIMEOUT`; the client reports the
 * connection lost).
 */
export const SILENCE_MS = 3 * KEEPALIVE_MS;

/** Most names one `welcome` or `peer-state` lists: 100,000. */
export const MAX_LISTED_NAMES = 100_000;
