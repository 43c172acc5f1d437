/**
 * What comes in on a cluster node's Redis channels, each to its part: room notices and timelines
 * to the rooms, queue events to `cluster_queue.ts`, presence events to the replica (their changes
 * announced here as joins, leaves and reachability), and this node's own channel to the routes
 * (results) or the inbox (messages for its peers). A bad message is logged and dropped.
 * `RedisCommunity` hands it every pub/sub message and the heartbeat's announcements.
 * @module
 */

import { decodeNodeMessage, decodePresenceEvent, decodeQueueEvent } from "./cluster_wire.ts";
import type { Announcement, PresenceReplica } from "./cluster_presence.ts";
import type { RedisCommunityOptions } from "./cluster_config.ts";
import type { ClusterHeartbeat } from "./cluster_heartbeat.ts";
import type { ClusterInbox } from "./cluster_inbox.ts";
import type { LocalPeers } from "./cluster_locals.ts";
import type { ClusterQueue } from "./cluster_queue.ts";
import type { ClusterRoutes } from "./cluster_routes.ts";
import { type CommunityEvents, errorText } from "./community.ts";

/** Options for {@linkcode ClusterChannels}: the node's parts messages go to. */
export interface ClusterChannelsOptions<C> {
  /** The prefix of the cluster's keys and channels. */
  prefix: string;
  /** Whether the node has closed (then messages are dropped). */
  closed: () => boolean;
  /** Where room notices and timelines go, if anywhere. */
  rooms?: RedisCommunityOptions<C>["rooms"];
  /** The peers online on this node. */
  locals: LocalPeers<C>;
  /** The peers online elsewhere. */
  replica: PresenceReplica;
  /** Whether the node is up or resynchronising. */
  heartbeat: Pick<ClusterHeartbeat, "up" | "syncing">;
  /** The offline queues. */
  queue: ClusterQueue<C>;
  /** Messages to other nodes' peers, and their results. */
  routes: ClusterRoutes<C>;
  /** Messages to this node's peers. */
  inbox: ClusterInbox<C>;
  /** Where joins, leaves, peer states and log lines go. */
  events: CommunityEvents<C>;
}

/** The incoming side of one cluster node's Redis channels. */
export class ClusterChannels<C> {
  readonly #options: ClusterChannelsOptions<C>;

  /** @param options The node's parts. */
  constructor(options: ClusterChannelsOptions<C>) {
    this.#options = options;
  }

  /**
   * A message on one of the node's channels, routed to its part.
   *
   * @param channel The channel's full name.
   * @param message The bytes.
   */
  receive(channel: string, message: Uint8Array): void {
    const { prefix, rooms, queue, heartbeat, replica, routes, inbox } = this.#options;
    if (this.#options.closed()) return;
    try {
      if (channel === `${prefix}rooms`) {
        rooms?.notice(message);
      } else if (channel === `${prefix}timelines`) {
        rooms?.timeline?.(message);
      } else if (channel === `${prefix}queue`) {
        queue.onEvent(decodeQueueEvent(new TextDecoder().decode(message)));
      } else if (channel === `${prefix}events`) {
        const event = decodePresenceEvent(new TextDecoder().decode(message));
        if (!heartbeat.up && heartbeat.syncing === null) return; // The next snapshot covers it.
        this.announce(replica.apply(event));
      } else {
        const decoded = decodeNodeMessage(message);
        if (decoded.t === "result") routes.result(decoded);
        else inbox.fromNode(decoded);
      }
    } catch (error) {
      this.#options.events.log(`cluster: dropped a bad message on ${channel}: ${errorText(error)}`);
    }
  }

  /**
   * Tells this node's side of changes in presence elsewhere.
   *
   * @param announcements Joins, leaves (with the keys a bound name had) and reachability.
   */
  announce(announcements: Announcement[]): void {
    const { locals, routes, events } = this.#options;
    for (const a of announcements) {
      if (a.kind === "joined") {
        locals.forget(a.name);
        events.joined(a.name);
      } else if (a.kind === "left") {
        if (a.keys !== undefined) locals.remember(a.name, a.keys);
        routes.recipientLeft(a.name);
        events.left(a.name, a.reason);
      } else {
        events.peerState(a.names, a.state);
      }
    }
  }
}
