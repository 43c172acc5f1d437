/**
 * How a server joins a cluster (`serve --redis`): the Redis community opened, the cluster's rooms
 * loaded and kept in step, and the rooms' timelines shared on the cluster's clock (Redis `TIME`).
 * The server's parts it changes (the community, the rooms) are handed back through `update` as
 * soon as each is ready, so that notices learned while the rest loads reach members.
 * @module
 */

import { quoted } from "../protocol/text.ts";
import { ClusterClock } from "./community/cluster_clock.ts";
import { ClusterRooms, RoomNotices } from "./community/cluster_room_sync.ts";
import type { ClusterRoomLog } from "./community/cluster_rooms.ts";
import { ClusterTimelines } from "./community/cluster_timeline_sync.ts";
import type { ClusterTimelineStore } from "./community/cluster_timelines.ts";
import type { Community } from "./community/community.ts";
import type { CommunityEvents } from "./community/community_types.ts";
// Type only: the Redis community (and its npm client) loads only in cluster mode, see joinCluster.
import type { ClusterTiming } from "./community/redis_community.ts";
import { RoomTimelines } from "./community/room_timelines.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import { queueLimits, relayBudgets, roomLimits, type ServerLimits } from "./limits.ts";
import type { ServerClient } from "./member.ts";
import { lineShape, type ServerLog } from "./ops/server_log.ts";
import type { RoomContext } from "./room_context.ts";
import { pushRoomChange } from "./room_requests.ts";
import { serverClock, tellTimeline } from "./watch_requests.ts";

/** How a server joins a cluster. */
export interface ClusterOptions {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** This node's name, unique among live nodes. */
  node: string;
  /** Heartbeat and deadlines; the defaults otherwise. */
  timing?: Partial<ClusterTiming>;
  /** This node cannot stay in the cluster (another instance took its name). */
  onFatal?: (message: string) => void;
}

/** What joining needs of the server. */
export interface JoinParts {
  /** The server's limits. */
  limits: ServerLimits;
  /** The server's log. */
  log: ServerLog;
  /** The community's events as frames on this server's connections. */
  events: CommunityEvents<ServerClient>;
  /** The server's parts now. */
  ctx(): DispatchContext;
  /** Replaces some of the server's parts. */
  update(parts: { community?: Community<ServerClient>; rooms?: RoomContext }): void;
}

/** The community of a cluster as joining uses it. */
interface ClusterCommunity {
  roomLog(): ClusterRoomLog;
  timelineStore(): ClusterTimelineStore;
  connectionOf(name: string): ServerClient | undefined;
}

/** Set once the rooms are loaded; a timeline stored before is read by its load. */
interface WatchHooks {
  timelines?: ClusterTimelines;
  reload?: () => void;
}

/**
 * Joins the cluster: opens the Redis community, loads the rooms and the timelines.
 *
 * @param cluster Where Redis is, this node's name and timing.
 * @param parts The server's parts.
 * @returns The cluster's clock, to stop at shutdown.
 * @throws When Redis cannot be reached or holds what cannot be read; nothing is left open.
 */
export async function joinCluster(
  cluster: ClusterOptions,
  parts: JoinParts,
): Promise<{ clock: ClusterClock }> {
  // Loaded here only: the Redis client adds some 18 MB to the heap of every server that
  // imports it, and a larger heap makes every full collection (and the message tail) longer.
  const { RedisCommunity } = await import("./community/redis_community.ts");
  const { limits } = parts;
  const roomNotices = new RoomNotices();
  const watch: WatchHooks = {};
  const community = await RedisCommunity.open({
    url: cluster.url,
    node: cluster.node,
    events: parts.events,
    timing: cluster.timing,
    limits: {
      budgets: relayBudgets(limits),
      maxNamesPerKey: limits.maxNamesPerKey,
      maxNames: limits.maxNames,
      queue: queueLimits(limits),
    },
    onFatal: cluster.onFatal,
    rooms: {
      notice: (message) => roomNotices.notice(message),
      reconnected: () => {
        roomNotices.reconnected();
        watch.reload?.();
      },
      timeline: (message) => watch.timelines?.notice(message),
    },
  });
  parts.update({ community });
  let clock: ClusterClock;
  try {
    const context = await openClusterRooms(community, roomNotices, parts);
    clock = await openClusterTimelines(community, context, { parts, watch });
  } catch (error) {
    await community.close();
    throw error;
  }
  parts.log.line(`cluster: node ${parts.log.text(cluster.node)} joined the cluster`, {
    event: "cluster",
  });
  return { clock };
}

/**
 * Loads the cluster's rooms from Redis and keeps them in step: notices that came while they
 * loaded are applied once they are (a notice for what the load read already is skipped).
 */
async function openClusterRooms(
  community: ClusterCommunity,
  notices: RoomNotices,
  parts: JoinParts,
): Promise<RoomContext> {
  const log = parts.log;
  const rooms = await ClusterRooms.open(community.roomLog(), {
    limits: roomLimits(parts.limits),
    // Told once the rooms are in the context: changes learned during the load are in it.
    onLearned: (change) => {
      const ctx = parts.ctx();
      if (ctx.rooms !== undefined) pushRoomChange(change, { except: "", ctx, rooms: ctx.rooms });
    },
    log: (line) => log.line(line, { event: "cluster" }),
  });
  const context: RoomContext = {
    rooms: rooms.rooms,
    connectionOf: (name) => community.connectionOf(name),
    apply: (stage) => rooms.apply(stage),
    timelines: new RoomTimelines(),
  };
  parts.update({ rooms: context });
  notices.attach(
    rooms,
    (error) => log.line(`cluster: cannot read a room from Redis: ${error}`, { event: "cluster" }),
  );
  return context;
}

/**
 * Shares the rooms' timelines through Redis (watching together): on the cluster's clock, changed
 * at the next epoch in Redis, told by every node to its members; read when the node starts and
 * when its link to Redis comes back.
 */
async function openClusterTimelines(
  community: ClusterCommunity,
  context: RoomContext,
  options: { parts: JoinParts; watch: WatchHooks },
): Promise<ClusterClock> {
  const { parts, watch } = options;
  const log = (line: string) => parts.log.limited(lineShape(line), line, { event: "cluster" });
  const store = community.timelineStore();
  const clock = new ClusterClock(() => store.time(), { local: serverClock, log });
  try {
    await clock.start();
    await shareTimelines(community, context, { parts, watch, clock, log });
  } catch (error) {
    clock.stop();
    throw error;
  }
  return clock;
}

/** The timelines kept in step through Redis, on the cluster's clock, loaded once. */
async function shareTimelines(
  community: ClusterCommunity,
  context: RoomContext,
  options: {
    parts: JoinParts;
    watch: WatchHooks;
    clock: ClusterClock;
    log: (line: string) => void;
  },
): Promise<void> {
  const { parts, watch, clock, log } = options;
  const store = community.timelineStore();
  context.clock = () => clock.now();
  const timelines = new ClusterTimelines(store, {
    timelines: context.timelines,
    tell: (room, timeline, except) =>
      tellTimeline(room, timeline, { except, ctx: parts.ctx(), rooms: context }),
    log,
  });
  context.changeTimeline = (room, change) =>
    timelines.change(
      room,
      change,
      `change the playback of ${quoted(context.rooms.get(room)?.name ?? room)}`,
    );
  const roomLog = community.roomLog();
  const load = async () => timelines.load(await roomLog.ids());
  watch.timelines = timelines;
  watch.reload = () => {
    load().catch((error) => log(`cluster: cannot read the rooms' timelines from Redis: ${error}`));
  };
  await load();
}
