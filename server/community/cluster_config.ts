/**
 * What a cluster node is opened with: its limits, its timing and its options, with their
 * defaults. Re-exported by `redis_community.ts`.
 * @module
 */

import type { CommunityEvents } from "./community.ts";
import type { RelayBudgets } from "./relay.ts";
import type { QueueLimits } from "./offline_queue.ts";

/** The limits about names and recipients a cluster keeps for all its nodes. */
export interface ClusterLimits {
  /** Budgets of unconfirmed messages per recipient and per (sender, recipient). */
  budgets: Partial<RelayBudgets>;
  /** Names one signing key may have bound (`NAME_LIMIT`). @default {8} */
  maxNamesPerKey: number;
  /** Names bound in the whole cluster (`NAME_LIMIT`). @default {100000} */
  maxNames: number;
  /** The bounds of the offline queues in Redis. @default {QUEUE_DEFAULTS} */
  queue: Partial<QueueLimits>;
}

/** The defaults of {@linkcode ClusterLimits} (those of a single server). */
export const DEFAULT_CLUSTER_LIMITS: Readonly<ClusterLimits> = {
  budgets: {},
  maxNamesPerKey: 8,
  maxNames: 100_000,
  queue: {},
};

/** The clock of a cluster node. */
export interface ClusterTiming {
  /** Heartbeat TTL: a node silent this long is gone, ms. @default {5000} */
  ttlMs: number;
  /** Heartbeat period, ms. @default {1000} */
  beatMs: number;
  /**
   * After (re)connecting, how long to wait for other nodes to come back before taking their peers
   * offline, ms. @default {ttlMs + 2 * beatMs}
   */
  graceMs: number;
  /** Deadline of one Redis command, ms. @default {2000} */
  commandTimeoutMs: number;
  /** A message sent to another node whose outcome never comes fails after this, ms. @default {30000} */
  remoteTimeoutMs: number;
}

/** The default timing. */
export const DEFAULT_TIMING: Readonly<ClusterTiming> = {
  ttlMs: 5000,
  beatMs: 1000,
  graceMs: 7000,
  commandTimeoutMs: 2000,
  remoteTimeoutMs: 30_000,
};

/** Options for `RedisCommunity.open`. */
export interface RedisCommunityOptions<C> {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** This node's name, unique among live nodes. */
  node: string;
  /** Where announcements, deliveries and outcomes go. */
  events: CommunityEvents<C>;
  /** Limits; missing fields take {@linkcode DEFAULT_CLUSTER_LIMITS}. */
  limits?: Partial<ClusterLimits>;
  /** Timing; missing fields take {@linkcode DEFAULT_TIMING}. */
  timing?: Partial<ClusterTiming>;
  /** Prefix of every key and channel. @default {"peerstream:"} */
  prefix?: string;
  /** Told when this node cannot stay in the cluster (another instance took its name). */
  onFatal?: (message: string) => void;
  /** The clock, ms. @default {performance.now} */
  now?: () => number;
  /**
   * What concerns rooms: a notice on the rooms channel (`cluster_rooms.ts`: another node stored a
   * room's entry), the link to Redis back after an outage (notices may have been missed), and a
   * message on the timelines channel.
   */
  rooms?: {
    notice(message: Uint8Array): void;
    reconnected(): void;
    /** A message on the timelines channel (`cluster_timelines.ts`: a room's timeline stored). */
    timeline?(message: Uint8Array): void;
  };
}
