/**
 * A harness for community tests: each node's community with fake connections that record what
 * the server would send them, exactly as `server.ts` routes the community's events. The same
 * test runs on one in-memory community (every "node" is the one process) and on Redis nodes
 * sharing one real `redis-server`. Test-only.
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import type { LeaveReason, PeerReachability } from "../protocol/messages.ts";
import { nameKeys } from "../protocol/names.ts";
import {
  type Community,
  type CommunityEvents,
  type DeliveryOutcome,
  MemoryCommunity,
  type QueueNotice,
  type Welcome,
} from "../server/community/community.ts";
import {
  type ClusterLimits,
  type ClusterTiming,
  RedisCommunity,
} from "../server/community/redis_community.ts";
import { Directory } from "../server/community/directory.ts";
import { Relay } from "../server/community/relay.ts";
import { OfflineQueue, type QueueStorage } from "../server/community/offline_queue.ts";
import type { RedisServer } from "./_redis.ts";
import { until } from "./_util.ts";

/** What a fake connection received. */
export type Received =
  | { k: "joined"; name: string }
  | { k: "left"; name: string; reason: LeaveReason }
  | { k: "peer-state"; names: string[]; state: PeerReachability }
  | { k: "deliver"; rid: string; from: string; body: Uint8Array; queued?: boolean; qseq?: number }
  | { k: "outcome"; requestId: number; outcome: DeliveryOutcome }
  | { k: "queued"; requestId: number; to: string; qseq: number }
  | { k: "notice"; notice: QueueNotice }
  | { k: "kick"; code: ErrorCode };

/** A fake connection. */
export interface Conn {
  id: number;
  node: number;
  name?: string;
  registered: boolean;
  inbox: Received[];
  /** The barrier markers it was told of (kept out of `inbox`), see {@linkcode barrier}. */
  markers?: string[];
}

/** One node: its community and its connections. */
export interface TestNode {
  index: number;
  community: Community<Conn>;
  conns: Set<Conn>;
  log: string[];
}

/** Nodes over one shared state. */
export interface Harness {
  kind: "memory" | "redis";
  /** Node `i` (for memory, every index is the one node). */
  node(i: number): TestNode;
  /** How many distinct nodes (memory: 1). */
  count: number;
  close(): Promise<void>;
}

/** The prefix of barrier markers' names: their joins go to `Conn.markers`, not the inbox. */
const MARKER = "zzbarrier";

let nextConn = 1;

/**
 * The events a server would act on, recorded into the node's connections.
 *
 * @param node The node.
 * @returns The events.
 */
export function recordingEvents(node: TestNode): CommunityEvents<Conn> {
  const registered = () => [...node.conns].filter((c) => c.registered);
  return {
    joined: (name) => {
      for (const c of registered()) {
        if (c.name === name) continue;
        if (name.startsWith(MARKER)) (c.markers ??= []).push(name);
        else c.inbox.push({ k: "joined", name });
      }
    },
    left: (name, reason) => {
      if (name.startsWith(MARKER)) return;
      for (const c of registered()) c.inbox.push({ k: "left", name, reason });
    },
    peerState: (names, state) => {
      for (const c of registered()) c.inbox.push({ k: "peer-state", names: [...names], state });
    },
    deliver: (to, d) => to.inbox.push({ k: "deliver", ...d }),
    outcome: (sender, requestId, outcome) =>
      sender.inbox.push({ k: "outcome", requestId, outcome }),
    queued: (sender, requestId, { to, qseq }) =>
      sender.inbox.push({ k: "queued", requestId, to, qseq }),
    notice: (sender, notice) => sender.inbox.push({ k: "notice", notice: { ...notice } }),
    kick: (conn, code) => {
      conn.inbox.push({ k: "kick", code });
      conn.registered = false;
      node.conns.delete(conn);
    },
    log: (line) => node.log.push(line),
  };
}

/** Options for a harness. */
export interface HarnessOptions {
  limits?: Partial<ClusterLimits>;
  timing?: Partial<ClusterTiming>;
}

/**
 * One in-memory community.
 *
 * @param options Limits.
 * @returns The harness.
 */
export function memoryHarness(options: HarnessOptions = {}): Harness {
  const node: TestNode = { index: 0, community: undefined!, conns: new Set(), log: [] };
  node.community = new MemoryCommunity({
    events: recordingEvents(node),
    directory: new Directory({
      maxNamesPerKey: options.limits?.maxNamesPerKey,
      maxNames: options.limits?.maxNames,
    }),
    relay: new Relay(options.limits?.budgets),
    // The queue itself is in memory: a storage that keeps nothing is enough for one process.
    queue: new OfflineQueue(keepsNothing, options.limits?.queue),
  });
  return { kind: "memory", node: () => node, count: 1, close: () => node.community.close() };
}

/** A {@linkcode QueueStorage} that keeps nothing (the queue holds its entries in memory). */
const keepsNothing: QueueStorage = {
  load: () => new Map(),
  append: () => {},
  remove: () => {},
  loadKeys: () => new Map(),
  saveKeys: () => {},
};

let nextPrefix = 1;

/**
 * Redis nodes over one server, isolated from other harnesses by a key prefix.
 *
 * @param redis The server.
 * @param count How many nodes.
 * @param options Limits and timing.
 * @returns The harness, every node up.
 */
export async function redisHarness(
  redis: RedisServer,
  count: number,
  options: HarnessOptions = {},
): Promise<Harness> {
  const prefix = `t${nextPrefix++}-${crypto.randomUUID().slice(0, 6)}:`;
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await openRedisNode(redis, i, { ...options, prefix }));
  return {
    kind: "redis",
    node: (i) => nodes[i],
    count,
    close: async () => {
      for (const n of nodes) await n.community.close();
    },
  };
}

/**
 * Opens one Redis node named `n<index>`.
 *
 * @param redis The server.
 * @param index The node's index.
 * @param options Limits, timing and the key prefix.
 * @returns The node.
 */
export async function openRedisNode(
  redis: RedisServer,
  index: number,
  options: HarnessOptions & { prefix: string; now?: () => number },
): Promise<TestNode> {
  const node: TestNode = { index, community: undefined!, conns: new Set(), log: [] };
  node.community = await RedisCommunity.open({
    now: options.now,
    url: redis.url,
    node: `n${index}`,
    events: recordingEvents(node),
    limits: options.limits,
    timing: { ttlMs: 1500, beatMs: 200, commandTimeoutMs: 1000, ...options.timing },
    prefix: options.prefix,
  });
  return node;
}

/** Fake public keys for a key pair number. */
export function keysOf(id: number | string): { encKey: string; signKey: string } {
  return { encKey: `enc-${id}`, signKey: `sign-${id}` };
}

/**
 * Joins `name` on a node with a fake connection.
 *
 * @param node The node.
 * @param name The name.
 * @param options The key pair number and whether the name is ephemeral.
 * @returns The connection and its welcome.
 */
export async function join(
  node: TestNode,
  name: string,
  options: { key?: number | string; ephemeral?: boolean; canBind?: () => boolean } = {},
): Promise<{ conn: Conn; welcome: Welcome }> {
  const conn: Conn = { id: nextConn++, node: node.index, registered: false, inbox: [] };
  node.conns.add(conn);
  try {
    const welcome = await node.community.join({
      name,
      lookalikes: nameKeys(name),
      keys: keysOf(options.key ?? name),
      conn,
      ephemeral: options.ephemeral ?? false,
      canBind: options.canBind,
      admit: () => {
        conn.name = name;
        conn.registered = true;
      },
    });
    return { conn, welcome };
  } catch (error) {
    node.conns.delete(conn);
    throw error;
  }
}

/**
 * Takes a connection away, as the server does when it closes.
 *
 * @param node Its node.
 * @param conn The connection.
 * @param reason Why. @default {"quit"}
 */
export function leave(node: TestNode, conn: Conn, reason: LeaveReason = "quit"): void {
  conn.registered = false;
  node.conns.delete(conn);
  node.community.leave(conn, reason);
}

/**
 * The code of a refused call (thrown, or rejected).
 *
 * @param fn The call.
 * @returns The error code, or "none".
 */
export async function codeOf(fn: () => unknown): Promise<ErrorCode | "none"> {
  try {
    await fn();
    return "none";
  } catch (error) {
    if (error instanceof PeerstreamError) return error.code;
    throw error;
  }
}

/**
 * Waits until `condition` holds (the tests' one waiting helper, `until`, with this file's default).
 *
 * @param condition What to wait for.
 * @param what What it is, for the error.
 * @param ms The deadline. @default {10000}
 */
export function eventually(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  return until(condition, { ms, what });
}

let nextBarrier = 1;

/**
 * The distinct nodes of a harness.
 *
 * @param h The harness.
 * @returns Its nodes (memory: the one).
 */
export function nodesOf(h: Harness): TestNode[] {
  return Array.from({ length: h.count }, (_, i) => h.node(i));
}

/**
 * Closes the window for events already in flight, so that "nothing more arrived" is proven by an
 * event rather than a sleep: joins one marker name on every node and waits until each observer
 * was told of every marker. A node announces in order, so whatever a node announced before its
 * marker has reached the observers by then. The markers then leave; their joins and leaves stay
 * out of the inboxes.
 *
 * @param nodes Every node that may still announce something (see {@linkcode nodesOf}).
 * @param observers The connections whose inboxes are about to be checked.
 */
export async function barrier(
  nodes: readonly TestNode[],
  observers: readonly Conn[],
): Promise<void> {
  const round = nextBarrier++;
  const markers: { node: TestNode; conn: Conn }[] = [];
  for (const [i, node] of nodes.entries()) {
    const name = `${MARKER}${"abcdefghij"[i]}${round}`;
    const { conn } = await join(node, name, { key: "barrier", ephemeral: true });
    markers.push({ node, conn });
  }
  const names = markers.map((m) => m.conn.name!);
  await until(
    () => observers.every((o) => names.every((n) => o.markers?.includes(n))),
    { ms: 10_000, what: `every observer to be told of the barrier markers ${names.join(", ")}` },
  );
  for (const m of markers) leave(m.node, m.conn);
}

/**
 * Lets pending events arrive: for Redis, a round trip through every node's channels.
 *
 * @param ms How long. @default {150}
 */
export function settle(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
