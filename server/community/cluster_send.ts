/**
 * Where a cluster node sends a sealed message: to a peer on this node (`cluster_inbox.ts`, no Redis
 * on the path), to a reachable peer on another node (`cluster_routes.ts`), or, for a peer who left
 * while bound to their keys, into their offline queue in Redis (`cluster_queue.ts`), sent live
 * instead when they joined while Redis answered. Receipts go back the same way. `RedisCommunity`
 * delegates `send` and `receipt` here.
 * @module
 */

import type { ReceiptVerdict } from "./relay.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { PresenceReplica } from "./cluster_presence.ts";
import type { ClusterInbox } from "./cluster_inbox.ts";
import type { LocalPeers } from "./cluster_locals.ts";
import { type ClusterQueue, queueUnavailable } from "./cluster_queue.ts";
import { peerUnreachable, unavailable } from "./cluster_refusals.ts";
import type { ClusterRoutes } from "./cluster_routes.ts";
import { type CommunityEvents, notRegistered, peerOffline, unknownPeer } from "./community.ts";

/** Options for {@linkcode ClusterSend}: the node's parts a message may go through. */
export interface ClusterSendOptions<C> {
  /** This node's name. */
  node: string;
  /** The peers online on this node. */
  locals: LocalPeers<C>;
  /** The peers online elsewhere. */
  replica: PresenceReplica;
  /** Messages to this node's peers. */
  inbox: ClusterInbox<C>;
  /** Messages to other nodes' peers. */
  routes: ClusterRoutes<C>;
  /** The offline queues. */
  queue: ClusterQueue<C>;
  /** Whether this node can reach Redis and is in sync with it. */
  up: () => boolean;
  /** Where a sender is told how its message ended. */
  events: Pick<CommunityEvents<C>, "outcome">;
}

/** A sealed message as a peer sends it. */
type Outgoing = { requestId: number; to: string; body: Uint8Array; room?: string };

/** The send path of one cluster node. */
export class ClusterSend<C> {
  readonly #options: ClusterSendOptions<C>;

  /** @param options The node's parts. */
  constructor(options: ClusterSendOptions<C>) {
    this.#options = options;
  }

  /**
   * Sends a sealed message from a peer on this node (see `Community.send`).
   *
   * @param sender The sender's connection.
   * @param message The request id, the recipient, the sealed body and the room.
   * @throws {PeerstreamError} `NOT_REGISTERED`, `UNKNOWN_PEER`, `PEER_UNREACHABLE`, `UNAVAILABLE`,
   * or the recipient's budget refusal.
   */
  send(sender: C, message: Outgoing): void {
    const { locals, replica, inbox, routes } = this.#options;
    const from = locals.nameOf(sender);
    if (from === undefined) throw notRegistered();
    const { to, requestId } = message;
    const local = locals.get(to);
    if (local !== undefined) return inbox.local(sender, local.conn, { ...message, from });
    const remote = replica.get(to);
    if (remote === undefined) return this.#sendOffline(sender, { ...message, from });
    if (!this.#options.up() || !remote.reachable) throw peerUnreachable(to);
    routes.send(sender, { ...message, requestId, from, to, node: remote.node });
  }

  /**
   * A receipt from a peer on this node: for a queued message or a live one.
   *
   * @param by The receiving peer's connection.
   * @param receipt The message's `rid` and whether it was opened.
   */
  receipt(by: C, receipt: ReceiptVerdict): void {
    const name = this.#options.locals.nameOf(by);
    if (name === undefined) return;
    if (!this.#options.queue.receipt(by, name, receipt)) this.#options.inbox.receipt(name, receipt);
  }

  /** A message to a peer who left: kept in Redis when their name is bound to the keys they had. */
  #sendOffline(sender: C, message: Outgoing & { from: string }) {
    const { locals, queue } = this.#options;
    const { to } = message;
    const keys = locals.recent(to);
    if (keys === undefined) throw unknownPeer(to);
    if (!this.#options.up()) throw queueUnavailable(to);
    queue.send(sender, { ...message, signKey: keys.signKey }, (node) => {
      // They joined while Redis answered: send it live, here or to their node.
      const local = locals.get(to);
      if (local === undefined && node !== this.#options.node && node !== "") {
        this.#options.routes.send(sender, { ...message, node });
        return;
      }
      try {
        if (local === undefined) throw peerOffline(to);
        this.#options.inbox.local(sender, local.conn, message);
      } catch (error) {
        const refused = error instanceof PeerstreamError ? error : unavailable();
        const outcome = { ok: false as const, code: refused.code, message: refused.message };
        this.#options.events.outcome(sender, message.requestId, outcome);
      }
    });
  }
}
