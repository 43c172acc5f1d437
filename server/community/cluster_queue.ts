/**
 * Sealed offline delivery in cluster mode: what waits for an offline, persistently bound peer is
 * kept in Redis (`cluster_queue_scripts.ts`), so that whichever node the peer next joins sends it,
 * and it survives the node that queued it. The node's side: a sender's message kept (`queued`), a
 * joiner's queue sent in order before any live message to them, receipts that delete entries
 * (their senders told `delivered` wherever they are), notices for the node's online peers, and
 * expiry. Nothing here is on the path of a message to an online peer.
 * @module
 */

import type { ReceiptVerdict } from "./relay.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { quoted } from "../../protocol/text.ts";
import type { QueueEvent } from "./cluster_wire.ts";
import { expiryInterval, fullError, parseAddReply, parseTaken } from "./cluster_queue_wire.ts";
import { QUEUE_ACK, QUEUE_ADD, QUEUE_EXPIRE, QUEUE_TAKE } from "./cluster_queue_scripts.ts";
import { type CommunityEvents, errorText, peerOffline } from "./community.ts";
import { QUEUE_DEFAULTS, type QueueLimits } from "./offline_queue.ts";
import type { RedisLink } from "./redis_link.ts";

/** Notices kept per sender at most (as in one process): past it the oldest notice goes. */
const MAX_NOTICES = 1000;
/** Queues looked at per expiry run. */
const EXPIRE_BATCH = 50;

/** A live delivery to a local peer. */
type Delivery = { rid: string; from: string; body: Uint8Array; room?: string };

/** Options for {@linkcode ClusterQueue}. */
export interface ClusterQueueOptions<C> {
  /** The key prefix. */
  prefix: string;
  /** The bounds; missing fields take {@linkcode QUEUE_DEFAULTS}. */
  limits?: Partial<QueueLimits>;
  /** The link as it is now. */
  link: () => RedisLink;
  /** Where deliveries, notices and outcomes go. */
  events: CommunityEvents<C>;
  /** A peer's connection if it is online on this node now. */
  local: (name: string) => C | undefined;
}

/** A message to keep for an offline peer. */
export interface QueueSend {
  requestId: number;
  from: string;
  to: string;
  /** The signing key the recipient's name was bound to when the sender sealed for it. */
  signKey: string;
  body: Uint8Array;
  /** The room, for a room message. */
  room?: string;
}

/**
 * `UNAVAILABLE`: a message for an offline peer cannot be queued while Redis is away.
 *
 * @param to The recipient.
 * @returns The error.
 */
export function queueUnavailable(to: string): PeerstreamError {
  return new PeerstreamError(
    "UNAVAILABLE",
    `Cannot queue for ${quoted(to)}: the cluster cannot be reached now; try again shortly`,
  );
}

/** The offline queues of a cluster, as one node uses them. */
export class ClusterQueue<C> {
  readonly #options: ClusterQueueOptions<C>;
  readonly #limits: QueueLimits;
  /** Per connection, the relay ids of queued messages sent to it and their `qseq`. */
  readonly #rids = new Map<C, Map<string, number>>();
  /** Live deliveries held while a joiner's queue is read, so that they follow it. */
  readonly #held = new Map<C, Delivery[]>();
  #expiring = false;
  #expiredAt = -Infinity;

  /** @param options The prefix, bounds, link, events and local peers. */
  constructor(options: ClusterQueueOptions<C>) {
    this.#options = options;
    this.#limits = { ...QUEUE_DEFAULTS, ...options.limits };
  }

  /**
   * Keeps a sealed message for an offline peer; its sender is told `queued` (or the refusal)
   * through the events once Redis answered.
   *
   * @param sender The sender's connection.
   * @param message The message, its recipient and the key it was sealed for.
   * @param online Called instead when the recipient turned out to be online (on `node`).
   */
  send(sender: C, message: QueueSend, online: (node: string) => void): void {
    const { to, requestId, body } = message;
    const { events } = this.#options;
    const fail = (error: PeerstreamError) =>
      events.outcome(sender, requestId, { ok: false, code: error.code, message: error.message });
    this.#run(QUEUE_ADD, [
      to,
      message.signKey,
      message.from,
      String(requestId),
      body.toBase64(),
      String(body.length),
      String(this.#limits.maxMessages),
      String(this.#limits.maxBytes),
      String(this.#limits.maxTotalBytes),
      message.room ?? "",
    ]).then((reply) => {
      const answer = parseAddReply(reply);
      if (answer.kind === "queued") events.queued?.(sender, requestId, { to, qseq: answer.qseq });
      else if (answer.kind === "online") online(answer.node);
      else if (answer.kind === "offline") fail(peerOffline(to));
      else fail(fullError(to, answer.bound, this.#limits));
    }).catch((error) => {
      events.log(`cluster: cannot queue a message for ${quoted(to)}: ${errorText(error)}`);
      fail(queueUnavailable(to));
    });
  }

  /**
   * A persistently bound peer joined here: sends what waited for them, in order, then the live
   * messages that came for them meanwhile.
   *
   * @param name The peer.
   * @param conn Its connection.
   */
  drain(name: string, conn: C): void {
    this.#held.set(conn, []);
    const rids = new Map<string, number>();
    this.#rids.set(conn, rids);
    const { events } = this.#options;
    this.#run(QUEUE_TAKE, [name, "0"]).then((reply) => {
      if (this.#options.local(name) !== conn) return;
      for (const entry of parseTaken(reply)) {
        if (entry.kind === "message") {
          // Relay ids are 16 characters: "q" and a number never collide with one.
          const rid = `q${entry.qseq}`;
          rids.set(rid, entry.qseq);
          const { from, body, qseq, room } = entry;
          events.deliver(conn, { rid, from, body, queued: true, qseq, room });
        } else {
          events.notice?.(conn, {
            kind: entry.kind,
            to: entry.to,
            qseq: entry.ofQseq,
            re: entry.re,
          });
        }
      }
    }).catch((error) => {
      events.log(`cluster: cannot read the offline queue of ${quoted(name)}: ${errorText(error)}`);
    }).finally(() => {
      const held = this.#held.get(conn) ?? [];
      this.#held.delete(conn);
      if (this.#options.local(name) !== conn) return;
      for (const delivery of held) events.deliver(conn, delivery);
    });
  }

  /**
   * A live message for a local peer: at once, or after its queue when that is being read.
   *
   * @param conn The recipient's connection.
   * @param delivery The relayed message.
   */
  deliver(conn: C, delivery: Delivery): void {
    const held = this.#held.get(conn);
    if (held !== undefined) held.push(delivery);
    else this.#options.events.deliver(conn, delivery);
  }

  /**
   * A receipt: for a queued message, the entry is deleted (kept when the client was only too full
   * to open it now) and its sender told.
   *
   * @param conn The recipient's connection.
   * @param name The recipient.
   * @param receipt The relay id and verdict.
   * @returns Whether it was a queued message's receipt.
   */
  receipt(conn: C, name: string, receipt: ReceiptVerdict): boolean {
    const rids = this.#rids.get(conn);
    const qseq = rids?.get(receipt.rid);
    if (qseq === undefined) return false;
    rids?.delete(receipt.rid);
    // A client too full to open it now, or silent past the receipt deadline: it stays queued, and
    // comes again on the next join.
    if (!receipt.ok && (receipt.code === "INBOX_FULL" || receipt.unconfirmedMs !== undefined)) {
      return true;
    }
    const { events } = this.#options;
    const ok = receipt.ok ? "1" : "0";
    this.#run(QUEUE_ACK, [name, String(qseq), ok, String(MAX_NOTICES)]).then((reply) => {
      if (!receipt.ok && Array.isArray(reply) && reply[0] === "OK") {
        events.log(`queued message ${qseq} for a peer was refused by their client; deleted`);
      }
    }, (error) => {
      // It stays queued: the peer gets it again on their next join.
      events.log(`cluster: cannot confirm a queued message: ${errorText(error)}`);
    });
    return true;
  }

  /**
   * A connection left: forgets its queued relay ids and held messages.
   *
   * @param conn The connection.
   */
  forget(conn: C): void {
    this.#rids.delete(conn);
    this.#held.delete(conn);
  }

  /**
   * An event of the queue channel: notices for a peer online here.
   *
   * @param event The decoded event.
   */
  onEvent(event: QueueEvent): void {
    const conn = this.#options.local(event.name);
    if (conn === undefined) return;
    const { events } = this.#options;
    if (event.t === "notice") {
      events.notice?.(conn, event.notice);
      return;
    }
    this.#run(QUEUE_TAKE, [event.name, "1"]).then((reply) => {
      const now = this.#options.local(event.name);
      for (const entry of parseTaken(reply)) {
        if (entry.kind === "message" || now === undefined) continue;
        events.notice?.(now, { kind: entry.kind, to: entry.to, qseq: entry.ofQseq, re: entry.re });
      }
    }, (error) => {
      events.log(`cluster: cannot read notices for ${quoted(event.name)}: ${errorText(error)}`);
    });
  }

  /**
   * Deletes messages past their age (senders told `expired`): one run at a time, at most once per
   * {@linkcode expiryInterval}.
   *
   * @param now The node's clock, ms.
   */
  expire(now: number): void {
    if (this.#expiring || now - this.#expiredAt < expiryInterval(this.#limits.maxAgeMs)) return;
    this.#expiring = true;
    this.#expiredAt = now;
    const args = [String(this.#limits.maxAgeMs), String(MAX_NOTICES), String(EXPIRE_BATCH)];
    this.#run(QUEUE_EXPIRE, args).catch((error) => {
      this.#options.events.log(`cluster: cannot expire queued messages: ${errorText(error)}`);
    }).finally(() => this.#expiring = false);
  }

  #run(script: typeof QUEUE_ADD, args: string[]): Promise<unknown> {
    return this.#options.link().run(script, [this.#options.prefix, ...args]);
  }
}
