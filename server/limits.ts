/**
 * The server's limits, in one place. Every rejection names its limit and error code.
 * @module
 */

import { KEEPALIVE_MS, SILENCE_MS } from "../protocol/bounds.ts";
import { MAX_SEALED_BYTES } from "../protocol/messages.ts";
import { LOG_TEXT_MAX } from "../protocol/text.ts";
import { DEFAULT_RELAY_BUDGETS, type RelayBudgets } from "./community/relay.ts";
import { QUEUE_DEFAULTS, type QueueLimits } from "./community/offline_queue.ts";
import { ROOM_DEFAULTS, type RoomServerLimits } from "./community/rooms.ts";

/**
 * Tunable limits of a server. The frame size (1 MiB) and the name rules are the protocol's and
 * cannot be tuned: `protocol/frame.ts` and `protocol/names.ts` enforce them.
 */
export interface ServerLimits {
  /** Largest sealed message, bytes (`MESSAGE_TOO_LARGE`). */
  maxSealedBytes: number;
  /** Most connections at once (`SERVER_FULL`). */
  maxConnections: number;
  /**
   * Most connections from one address (`SERVER_FULL`). Behind a NAT or a load balancer every
   * client shares one address: raise it there.
   */
  maxConnectionsPerAddress: number;
  /**
   * New connections per second from one address, sustained (`RATE_LIMITED`, refused right after
   * accept), so that a reconnect loop costs its address its own budget, not everyone's slots.
   */
  connectsPerAddressPerSecond: number;
  /** New connections one address may open in a burst. */
  connectBurstPerAddress: number;
  /** Messages per second per connection, sustained (`RATE_LIMITED`). */
  messagesPerSecond: number;
  /** Messages a connection may send in a burst (`RATE_LIMITED`). */
  messageBurst: number;
  /** Time from connect to `welcome`, ms, however many bytes trickle in (`HANDSHAKE_TIMEOUT`). */
  handshakeMs: number;
  /**
   * Time from accept to the end of the TLS handshake, ms (TLS only); the connection counts against
   * its address meanwhile and is closed without a word when it passes.
   */
  tlsHandshakeMs: number;
  /** Refused `hello`s on one connection; the last one closes it. */
  maxRefusedHellos: number;
  /** `hello`s per second from one address, sustained (`RATE_LIMITED`, and the connection closes). */
  hellosPerAddressPerSecond: number;
  /** `hello`s one address may send in a burst. */
  helloBurstPerAddress: number;
  /** Names one signing key may hold (`NAME_LIMIT`). */
  maxNamesPerKey: number;
  /** New name bindings from one address per day, in a burst of as many (`NAME_LIMIT`). */
  newNamesPerAddressPerDay: number;
  /** Name bindings the server keeps in all (`NAME_LIMIT`). */
  maxNames: number;
  /** Messages waiting for one offline peer (`serve --queue-messages`; `QUEUE_FULL`). */
  queueMessages: number;
  /** Bytes of messages waiting for one offline peer (`serve --queue-bytes`; `QUEUE_FULL`). */
  queueBytes: number;
  /** How long a queued message waits before it expires, ms (`serve --queue-days`). */
  queueMaxAgeMs: number;
  /** Bytes of messages waiting in all queues (`QUEUE_FULL`). */
  queueTotalBytes: number;
  /** Members plus pending invitees of one room (`serve --room-members`; `ROOM_LIMIT`). */
  roomMembers: number;
  /** Entries in one room's chain (`ROOM_LIMIT`): past it, the owner starts a new room. */
  roomEntries: number;
  /** Rooms one person is a member of (`serve --rooms-per-person`; `ROOM_LIMIT`). */
  roomsPerPerson: number;
  /** Pending room invitations one person holds (`ROOM_LIMIT`). */
  roomInvitesPerPerson: number;
  /** Rooms one signing key may create in 24 hours (`ROOM_LIMIT`). */
  roomCreatesPerKeyPerDay: number;
  /** Bytes of room changes all rooms hold, in memory and in `DATA/rooms` (`ROOM_LIMIT`). */
  roomTotalBytes: number;
  /** Silence after which a connection is pinged, ms. */
  keepaliveMs: number;
  /** Silence after which a connection is dropped, ms (`IDLE_TIMEOUT`). */
  idleMs: number;
  /** Control bytes queued for one slow reader before it is dropped (`SLOW_CONSUMER`). */
  maxQueuedControlBytes: number;
  /** Unconfirmed messages from one sender to one recipient (`INBOX_FULL`). */
  relayPairMessages: number;
  /** Unconfirmed bytes from one sender to one recipient (`INBOX_FULL`). */
  relayPairBytes: number;
  /** Unconfirmed messages to one recipient from everyone (`INBOX_FULL`). */
  relayRecipientMessages: number;
  /**
   * Unconfirmed bytes to one recipient from everyone (`INBOX_FULL`); kept at or below half of
   * `maxQueuedControlBytes`, so that relaying never makes the server drop a recipient.
   */
  relayRecipientBytes: number;
  /**
   * Relayed bytes sent to one recipient and not yet confirmed; the rest waits in the server and
   * goes out fairly between senders (`fair_outbox.ts`), so that no sender's backlog sits in front
   * of another's next message. One message always goes, however large.
   */
  relayWindowBytes: number;
  /** Relayed messages sent to one recipient and not yet confirmed. */
  relayWindowMessages: number;
  /**
   * How long a relayed message sent to its recipient may wait for their client's receipt, ms,
   * while the client confirms nothing else either (slow but confirming is not silent). Past it
   * the message leaves the recipient's window (the next one goes) and its sender gets
   * `PEER_UNREACHABLE`, as if the client had refused it; a later receipt is ignored. Below the
   * client's 60 s request timeout, so that a recipient that never confirms cannot leave its
   * senders waiting on the server, nor hold its window for good (issue 16).
   */
  receiptTimeoutMs: number;
  /** Most characters of one untrusted string (name, title, field) in a log line. */
  logTextChars: number;
  /**
   * Log lines per second one connection (or, before it registers, one address) may cause,
   * sustained; the others are counted and summarised once per `logWindowMs`.
   */
  logLinesPerSecond: number;
  /** Log lines one connection (or address) may cause in a burst. */
  logLineBurst: number;
  /** Log lines per second across all connections and addresses, sustained (summaries aside). */
  logTotalLinesPerSecond: number;
  /** Log lines across all connections and addresses in a burst. */
  logTotalLineBurst: number;
  /** How long held-back log lines are counted before their summary line is written, ms. */
  logWindowMs: number;
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
   * Media bytes of all streams waiting for their sockets above which segments that only fill a
   * viewer's lead wait; segments within 2 s of a viewer's playback always go.
   */
  leadBacklogBytes: number;
  /**
   * A stream whose socket write has made no progress this long stops counting in that backlog,
   * ms, so that viewers who stop reading cannot hold everyone else's lead back.
   */
  leadBacklogStallMs: number;
  /**
   * A viewer whose window stays full, or who confirms nothing, this long is stopped, ms
   * (`SLOW_CONSUMER`).
   */
  stallStopMs: number;
  /** Cluster mode: a node whose heartbeat is this old is gone and its peers offline, ms. */
  clusterTtlMs: number;
  /** Cluster mode: how often a node renews its heartbeat, ms. */
  clusterBeatMs: number;
  /** A stream paused longer than this ends with `PAUSE_TIMEOUT`, ms. */
  pauseTimeoutMs: number;
  /** `--web` with TLS: a connection's TLS handshake must end within this, ms (else closed). */
  webTlsHandshakeMs: number;
  /** `--web`: a request's head must arrive whole within this of its first byte, ms (408). */
  webRequestHeadMs: number;
  /** `--web`: a kept-alive connection may wait this long for its next request, ms (closed). */
  webKeepAliveMs: number;
  /** `--web`: requests one kept-alive connection may make; the last is answered and closed. */
  webRequestsPerConnection: number;
  /** `--web`: a response must be taken by the peer within this, ms (else closed). */
  webResponseMs: number;
  /**
   * `--web`: a WebSocket's first frame must arrive within this of the upgrade, ms
   * (`HANDSHAKE_TIMEOUT`).
   */
  webSocketFirstFrameMs: number;
  /** `--web`: how long a closing WebSocket waits for the peer's close frame, ms (then destroyed). */
  webSocketCloseMs: number;
}

/** The defaults; `peerstream serve --help` and README list them. */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = {
  maxSealedBytes: MAX_SEALED_BYTES,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 64,
  connectsPerAddressPerSecond: 20,
  connectBurstPerAddress: 64,
  messagesPerSecond: 2_000,
  messageBurst: 4_000,
  handshakeMs: 10_000,
  tlsHandshakeMs: 5_000,
  maxRefusedHellos: 3,
  hellosPerAddressPerSecond: 10,
  helloBurstPerAddress: 30,
  maxNamesPerKey: 8,
  newNamesPerAddressPerDay: 100,
  maxNames: 100_000,
  queueMessages: QUEUE_DEFAULTS.maxMessages,
  queueBytes: QUEUE_DEFAULTS.maxBytes,
  queueMaxAgeMs: QUEUE_DEFAULTS.maxAgeMs,
  queueTotalBytes: QUEUE_DEFAULTS.maxTotalBytes,
  roomMembers: ROOM_DEFAULTS.maxMembers,
  roomEntries: ROOM_DEFAULTS.maxEntries,
  roomsPerPerson: ROOM_DEFAULTS.roomsPerPerson,
  roomInvitesPerPerson: ROOM_DEFAULTS.invitesPerPerson,
  roomCreatesPerKeyPerDay: ROOM_DEFAULTS.createsPerKeyPerDay,
  roomTotalBytes: ROOM_DEFAULTS.totalBytes,
  keepaliveMs: KEEPALIVE_MS,
  idleMs: SILENCE_MS,
  maxQueuedControlBytes: 8 * 1024 * 1024,
  relayPairMessages: DEFAULT_RELAY_BUDGETS.pairMessages,
  relayPairBytes: DEFAULT_RELAY_BUDGETS.pairBytes,
  relayRecipientMessages: DEFAULT_RELAY_BUDGETS.recipientMessages,
  relayRecipientBytes: DEFAULT_RELAY_BUDGETS.recipientBytes,
  relayWindowBytes: 64 * 1024,
  relayWindowMessages: 32,
  receiptTimeoutMs: 30_000,
  logTextChars: LOG_TEXT_MAX,
  logLinesPerSecond: 1,
  logLineBurst: 10,
  logTotalLinesPerSecond: 50,
  logTotalLineBurst: 200,
  logWindowMs: 10_000,
  maxUnackedMediaBytes: 4 * 1024 * 1024,
  maxWriteStallMs: 15_000,
  stallStepDownMs: 3_000,
  leadBacklogBytes: 16 * 1024 * 1024,
  leadBacklogStallMs: 2_000,
  stallStopMs: 15_000,
  clusterTtlMs: 5000,
  clusterBeatMs: 1000,
  pauseTimeoutMs: 30 * 60_000,
  webTlsHandshakeMs: 5_000,
  webRequestHeadMs: 10_000,
  webKeepAliveMs: 5_000,
  webRequestsPerConnection: 100,
  webResponseMs: 10_000,
  webSocketFirstFrameMs: 10_000,
  webSocketCloseMs: 2_000,
};

/**
 * Pacing constants of every stream (not tunable per server): how media is cut into frames and how
 * far ahead of a viewer it may go. The stall and pause limits are in {@linkcode ServerLimits}.
 */
export const STREAM_DEFAULTS = {
  /** Media bytes per frame: a control message never waits for more than the rest of one. */
  chunkBytes: 64 * 1024,
  /** How far ahead of the viewer's playback the server may send, seconds. */
  leadSeconds: 6,
  /** A segment needed within this many seconds of playback goes whatever the lead gate's backlog. */
  urgentSeconds: 2,
  /**
   * Longest sleep of the pacing loop while paused, held or draining, ms, so that stalls are noticed
   * promptly (a leading stream sleeps until its next segment is due).
   */
  maxSleepMs: 500,
  /**
   * Segments sent but not yet confirmed. Bytes written cannot be recalled from the socket, so each
   * one commits a rendition ahead of time: two keep the link busy while a slow link is noticed
   * within about a segment.
   */
  maxSegmentsInFlight: 2,
} as const;

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
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * The tokens left now.
   *
   * @param now The current time, ms.
   * @returns Tokens, fractional.
   */
  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /**
   * Whether the bucket has refilled to its burst.
   *
   * @param now The current time, ms.
   * @returns True when no token is missing.
   */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number) {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}

/** Options for {@linkcode KeyedBuckets}. */
export interface KeyedBucketsOptions {
  /** Tokens a key may take in a burst. */
  burst: number;
  /** Keys tracked at most; beyond, the oldest is forgotten (it starts full again). @default {100000} */
  maxKeys?: number;
}

/**
 * One {@linkcode TokenBucket} per key (an address, a connection), created on first use and
 * forgotten once refilled, so that the map holds only keys that spent tokens recently. Pure: the
 * caller gives the time.
 */
export class KeyedBuckets<K> {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  #buckets = new Map<K, TokenBucket>();

  /**
   * @param rate Tokens per second per key.
   * @param options The burst and the most keys tracked.
   */
  constructor(rate: number, options: KeyedBucketsOptions) {
    this.#rate = rate;
    this.#burst = options.burst;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** How many keys are tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one token for a key.
   *
   * @param key The key.
   * @param now The current time, ms.
   * @returns Whether a token was available.
   */
  take(key: K, now: number): boolean {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) {
        this.#buckets.delete(this.#buckets.keys().next().value as K);
      }
      bucket = new TokenBucket(this.#rate, { burst: this.#burst, now });
      this.#buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /**
   * The tokens a key has left now: the burst when it is not tracked.
   *
   * @param key The key.
   * @param now The current time, ms.
   * @returns Tokens, fractional.
   */
  tokens(key: K, now: number): number {
    return this.#buckets.get(key)?.tokens(now) ?? this.#burst;
  }

  /**
   * Forgets the keys whose buckets are full again: they behave as new keys would.
   *
   * @param now The current time, ms.
   */
  prune(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.full(now)) this.#buckets.delete(key);
    }
  }

  /**
   * Whether a key is tracked (it spent tokens and has not refilled since the last prune).
   *
   * @param key The key.
   * @returns True when tracked.
   */
  has(key: K): boolean {
    return this.#buckets.has(key);
  }

  /**
   * Forgets one key.
   *
   * @param key The key.
   */
  delete(key: K): void {
    this.#buckets.delete(key);
  }
}

/** The relay budgets among the limits. */
export function relayBudgets(limits: ServerLimits): RelayBudgets {
  return {
    pairMessages: limits.relayPairMessages,
    pairBytes: limits.relayPairBytes,
    recipientMessages: limits.relayRecipientMessages,
    recipientBytes: limits.relayRecipientBytes,
  };
}

/**
 * How long a cluster node waits for the outcome of a message it sent to another node, ms: 30 s,
 * and at least 5 s past the receipt deadline, so that the recipient's node, which ends a message
 * its client leaves unconfirmed, answers first and with that reason.
 *
 * @param limits The limits (overrides; the rest take their defaults).
 * @returns The timeout, ms.
 */
export function remoteTimeoutOf(limits: Partial<ServerLimits>): number {
  const receiptMs = limits.receiptTimeoutMs ?? DEFAULT_LIMITS.receiptTimeoutMs;
  return Math.max(30_000, receiptMs + 5_000);
}

/** The offline queues' bounds among the server's limits. */
export function queueLimits(limits: ServerLimits): QueueLimits {
  return {
    maxMessages: limits.queueMessages,
    maxBytes: limits.queueBytes,
    maxAgeMs: limits.queueMaxAgeMs,
    maxTotalBytes: limits.queueTotalBytes,
  };
}

/** The room bounds of the server's limits. */
export function roomLimits(limits: ServerLimits): Partial<RoomServerLimits> {
  return {
    maxMembers: limits.roomMembers,
    maxEntries: limits.roomEntries,
    roomsPerPerson: limits.roomsPerPerson,
    invitesPerPerson: limits.roomInvitesPerPerson,
    createsPerKeyPerDay: limits.roomCreatesPerKeyPerDay,
    totalBytes: limits.roomTotalBytes,
  };
}
