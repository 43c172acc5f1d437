/**
 * What a server, honest or not, can make a client session hold, and the defaults.
 * @module
 */

import { KEEPALIVE_MS, MAX_LISTED_NAMES, SILENCE_MS } from "../../protocol/bounds.ts";

/** What a server, honest or not, can make the client hold. */
export interface ClientLimits {
  /** Peers remembered from the server's announcements. */
  maxPeers: number;
  /** Messages held unopened (waiting for a sender's key, or behind other messages). */
  maxInbox: number;
  /** Bytes of messages held unopened. */
  maxInboxBytes: number;
  /** Peers' keys cached. */
  maxKeys: number;
  /** Longest wait for an answer, ms. */
  requestTimeoutMs: number;
  /** Bytes waiting to be written; more means the server does not read, and the client leaves. */
  maxQueuedBytes: number;
  /** Silence from the server after which the client pings it, ms. */
  keepaliveMs: number;
  /** Silence from the server after which the client gives up on it, ms. */
  silenceMs: number;
}

/**
 * The defaults: 100,000 peers (what `welcome` may list: `MAX_LISTED_NAMES`), 1,024 unopened
 * messages or 8 MiB (what an honest server's relay budgets let through: 1,024 or 4 MiB), 1,024
 * cached keys, 60 s per answer, 8 MiB of unwritten data; a ping after 30 s of silence from the
 * server and a lost connection after 90 s (the protocol's keepalive rule, `KEEPALIVE_MS` and
 * `SILENCE_MS`, which the server follows too), so a silently dead server is noticed.
 * Media is not held here: the session hands it to the `MediaSink` as it arrives, and the
 * terminal's sink, the playout queue, has its own bound (`PLAYOUT_DEFAULTS` in `playout.ts`: the
 * stream is held at 10 s queued and refused past 16 s or 64 MiB).
 */
export const CLIENT_LIMITS: Readonly<ClientLimits> = {
  maxPeers: MAX_LISTED_NAMES,
  maxInbox: 1024,
  maxInboxBytes: 8 * 1024 * 1024,
  maxKeys: 1024,
  requestTimeoutMs: 60_000,
  maxQueuedBytes: 8 * 1024 * 1024,
  keepaliveMs: KEEPALIVE_MS,
  silenceMs: SILENCE_MS,
};

/**
 * How old a message may be (protocol version 3): 15 days, so that one the server kept 14 days
 * for this client while it was offline still opens. Replays stay refused: every id is remembered
 * this long, or until 4,096 newer ones push the floor past it.
 */
export const REPLAY_WINDOW_MS = 15 * 24 * 3600 * 1000;
