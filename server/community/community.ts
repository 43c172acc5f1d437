/**
 * The folder `server/community/`: who is online, the name→key directory and the relay of sealed
 * messages, in one process (memory and `names.json`) or shared by a cluster's nodes over Redis
 * (the `redis_*` and `cluster_*` files), with the operator's name tools.
 *
 * The community seam: what every `serve` node of one community must share. Presence (who is
 * online, on which node), the name→key bindings, routing a sealed message and its receipt to the
 * connection that holds the recipient (with the limits about a recipient), and join/leave
 * announcements. Two implementations: {@linkcode MemoryCommunity} (one process, bindings in
 * `names.json`) and `RedisCommunity` (several nodes sharing one Redis).
 *
 * The local path stays synchronous: `send`, `receipt` and `leave` never await, and when the
 * recipient (or the sender of a receipt) is on this node, the community calls
 * {@linkcode CommunityEvents.deliver} or {@linkcode CommunityEvents.outcome} before it returns,
 * so the server's replies to one read still leave in one corked write. Only a peer on another
 * node costs an await, off the caller's path; what comes back from there arrives through the same
 * events later.
 * @module
 */

import type { ReceiptVerdict } from "./relay.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { quoted } from "../../protocol/text.ts";
import type { LeaveReason } from "../../protocol/messages.ts";
import type { Directory } from "./directory.ts";
import { DELIVER_OVERHEAD_BYTES, type Relay } from "./relay.ts";
import type { OfflineQueue } from "./offline_queue.ts";
import type {
  Community,
  CommunityEvents,
  DeliveryOutcome,
  JoinRequest,
  PeerKeys,
  QueueNotice,
  SendResult,
  Welcome,
} from "./community_types.ts";

// Every shape of community_types.ts, where importers of this module find them.
export type * from "./community_types.ts";

/** Options for {@linkcode MemoryCommunity}. */
export interface MemoryCommunityOptions<C> {
  /** Where announcements, deliveries and outcomes go. */
  events: CommunityEvents<C>;
  /** The names, their keys and bindings (the server persists its bindings). */
  directory: Directory<C>;
  /** Sealed messages in flight, within their budgets. */
  relay: Relay<C>;
  /** Where messages for offline, persistently bound peers wait; without it they are refused. */
  queue?: OfflineQueue;
  /** The clock, ms. @default {Date.now} */
  now?: () => number;
}

/**
 * The community of one process: today's behaviour, synchronous throughout, over the
 * {@linkcode Directory} and the {@linkcode Relay}. The server keeps the bindings' persistence
 * (`names.json`) and applies `serve --release` through {@linkcode MemoryCommunity.release}.
 */
export class MemoryCommunity<C> implements Community<C> {
  readonly #events: CommunityEvents<C>;
  readonly #directory: Directory<C>;
  readonly #relay: Relay<C>;
  readonly #names = new Map<C, string>();
  readonly #queue?: OfflineQueue;
  readonly #now: () => number;
  /** Per connection, the relay ids of queued messages sent to it and their `qseq`. */
  readonly #queuedRids = new Map<C, Map<string, number>>();

  /** @param options Events, the directory, the relay and the offline queue. */
  constructor(options: MemoryCommunityOptions<C>) {
    this.#events = options.events;
    this.#directory = options.directory;
    this.#relay = options.relay;
    this.#queue = options.queue;
    this.#now = options.now ?? Date.now;
  }

  get localCount(): number {
    return this.#names.size;
  }

  join(request: JoinRequest<C>): Promise<Welcome> {
    try {
      return Promise.resolve(this.#join(request));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #join(request: JoinRequest<C>): Welcome {
    const { name } = request;
    const { others, newBinding } = this.#directory.register(name, {
      keys: request.keys,
      conn: request.conn,
      ephemeral: request.ephemeral,
      canBind: request.canBind,
    });
    this.#names.set(request.conn, name);
    if (!request.ephemeral) this.#queue?.rememberKeys(name, request.keys);
    const welcome = { peers: others, unreachable: [], newBinding };
    request.admit?.(welcome);
    this.#events.joined(name);
    this.#drain(name, request.conn);
    return welcome;
  }

  /** Sends what waited for a peer who just joined, in order, after its `welcome`. */
  #drain(name: string, conn: C) {
    const queue = this.#queue;
    if (queue === undefined) return;
    const rids = new Map<string, number>();
    this.#queuedRids.set(conn, rids);
    for (const entry of queue.entries(name)) {
      if (entry.kind === "message") {
        // Relay ids are 16 characters: "q" and a number never collide with one.
        const rid = `q${entry.qseq}`;
        rids.set(rid, entry.qseq);
        const { from, body, qseq, room } = entry;
        this.#events.deliver(conn, { rid, from, body, queued: true, qseq, room });
      } else {
        this.#events.notice?.(conn, {
          kind: entry.kind,
          to: entry.to,
          qseq: entry.ofQseq,
          re: entry.re,
        });
        queue.remove(name, entry.qseq);
      }
    }
  }

  /** Tells a sender what became of a message it queued: at once if online, else on its join. */
  #notify(sender: string, notice: QueueNotice) {
    const online = this.#directory.get(sender);
    if (online !== undefined && this.#events.notice !== undefined) {
      this.#events.notice(online.conn, notice);
      return;
    }
    // Only a bound name keeps a queue: an ephemeral one may belong to someone else next.
    if (!this.#directory.bindings.has(sender)) return;
    const { kind, to, qseq: ofQseq, re } = notice;
    this.#queue?.notify(sender, { kind, to, ofQseq, re }, this.#now());
  }

  leave(conn: C, reason: LeaveReason): boolean {
    const name = this.#names.get(conn);
    if (name === undefined) return false;
    this.#names.delete(conn);
    this.#queuedRids.delete(conn);
    if (this.#directory.get(name)?.conn !== conn) return false;
    this.#directory.unregister(name);
    this.#events.left(name, reason);
    for (const pending of this.#relay.recipientLeft(name)) {
      this.#events.outcome(pending.sender, pending.requestId, recipientLeft(name));
    }
    return true;
  }

  lookup(name: string): PeerKeys | undefined {
    const found = this.#directory.lookup(name);
    if (found !== undefined) return found;
    // A bound name not seen since this server started: its keys as saved with the queues.
    const keys = this.#queue?.keysOf(name, this.#directory.bindings.get(name));
    return keys === undefined ? undefined : { keys, online: false };
  }

  send(
    sender: C,
    message: { requestId: number; to: string; body: Uint8Array; room?: string },
  ): SendResult | void {
    const from = this.#names.get(sender);
    if (from === undefined) throw notRegistered();
    const { to, body, room } = message;
    const recipient = this.#directory.get(to);
    if (recipient === undefined) {
      if (this.lookup(to) === undefined) throw unknownPeer(to);
      // Only a persistently bound name: an ephemeral one is free again once its holder left.
      if (this.#queue === undefined || !this.#directory.bindings.has(to)) throw peerOffline(to);
      const qseq = this.#queue.add(
        to,
        { from, re: message.requestId, body, ...(room === undefined ? {} : { room }) },
        this.#now(),
      );
      return { queued: true, qseq };
    }
    // Within the fair budgets (INBOX_FULL otherwise), so the recipient's queue never overflows.
    const rid = this.#relay.accept({
      sender,
      from,
      requestId: message.requestId,
      to,
      bytes: body.length + DELIVER_OVERHEAD_BYTES,
    });
    this.#events.deliver(recipient.conn, { rid, from, body, room });
  }

  /**
   * The connection of a name online in this process (rooms reach their members through it).
   *
   * @param name The normalized name.
   * @returns Its connection, or undefined when it is offline.
   */
  connectionOf(name: string): C | undefined {
    return this.#directory.get(name)?.conn;
  }

  receipt(by: C, receipt: ReceiptVerdict): void {
    const name = this.#names.get(by);
    if (name === undefined) return;
    const qseq = this.#queuedRids.get(by)?.get(receipt.rid);
    if (qseq !== undefined) return this.#queuedReceipt(by, name, qseq, receipt);
    const settled = settleReceipt(this.#relay, { by: name, ...receipt });
    if (settled !== undefined) {
      this.#events.outcome(settled.sender, settled.requestId, settled.outcome);
    }
  }

  /**
   * A receipt for a queued message: deleted from the queue either way (a refusal would only come
   * again), and its sender told of a confirmation.
   */
  #queuedReceipt(
    by: C,
    name: string,
    qseq: number,
    receipt: ReceiptVerdict,
  ) {
    this.#queuedRids.get(by)?.delete(receipt.rid);
    // A client too full to open it now, or silent past the receipt deadline: it stays queued, and
    // comes again on the next join.
    if (!receipt.ok && (receipt.code === "INBOX_FULL" || receipt.unconfirmedMs !== undefined)) {
      return;
    }
    const entry = this.#queue?.remove(name, qseq);
    if (entry === undefined || entry.kind !== "message") return;
    if (!receipt.ok) {
      this.#events.log(`queued message ${qseq} for a peer was refused by their client; deleted`);
      return;
    }
    this.#notify(entry.from, { kind: "delivered", to: name, qseq, re: entry.re });
  }

  release(name: string): Promise<boolean> {
    // What waited for the name was sealed for the key that held it: never for the next holder.
    this.#queue?.drop(name);
    return Promise.resolve(this.#directory.release(name));
  }

  tick(): void {
    for (const { to, message } of this.#queue?.expire(this.#now()) ?? []) {
      this.#notify(message.from, { kind: "expired", to, qseq: message.qseq, re: message.re });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Settles a relayed message with its recipient's receipt (the memory and the Redis communities
 * alike).
 *
 * @param relay The relay that holds the message.
 * @param receipt The recipient's name (`by`), the relay id, and how it went.
 * @returns Whom to tell what, or undefined when the receipt matches nothing sent to `by`.
 */
export function settleReceipt<S>(
  relay: Relay<S>,
  receipt: { by: string } & ReceiptVerdict,
): { sender: S; requestId: number; outcome: DeliveryOutcome } | undefined {
  const { rid, ...verdict } = receipt;
  const done = relay.receipt(rid, verdict);
  if (done === undefined) return undefined;
  const outcome: DeliveryOutcome = done.ok
    ? { ok: true, to: done.to }
    : { ok: false, code: done.code, message: done.message };
  return { sender: done.sender, requestId: done.requestId, outcome };
}

/**
 * Text of an unknown thrown value, for a log line.
 *
 * @param error Anything thrown.
 * @returns Its message.
 */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `NAME_TAKEN`: the name is online. */
export function nameInUse(name: string): PeerstreamError {
  return new PeerstreamError(
    "NAME_TAKEN",
    `Cannot register "${name}": the name is in use; choose another name`,
  );
}

/** `NAME_TAKEN`: the name is bound to another key. */
export function nameBound(name: string): PeerstreamError {
  return new PeerstreamError(
    "NAME_TAKEN",
    `Cannot register "${name}": the name belongs to another key; choose another name or ask the operator to release it`,
  );
}

/** `NAME_CONFUSABLE`: the name looks like one bound to, or online with, another key. */
export function nameConfusable(name: string, lookalike: string): PeerstreamError {
  return new PeerstreamError(
    "NAME_CONFUSABLE",
    `Cannot register "${name}": it looks like "${lookalike}", a name of another key; choose a name that looks different`,
  );
}

/**
 * `NAME_LIMIT`: a new binding would pass a limit (the directory's wording).
 *
 * @param name The name.
 * @param limit Which limit, and its value.
 * @returns The error.
 */
export function nameLimit(
  name: string,
  limit: { perKey: number } | { total: number } | "address",
): PeerstreamError {
  const why = limit === "address"
    ? "too many new names were registered from your address today; try tomorrow"
    : "perKey" in limit
    ? `your key already holds ${limit.perKey} names; use one of them, or ask the operator to release one`
    : `the server holds ${limit.total} names, its limit; ask the operator to release some`;
  return new PeerstreamError("NAME_LIMIT", `Cannot register "${name}": ${why}`);
}

/** `UNKNOWN_PEER`. */
export function unknownPeer(to: string): PeerstreamError {
  return new PeerstreamError(
    "UNKNOWN_PEER",
    `Cannot send to ${quoted(to)}: no such peer; run WHO to see who is online`,
  );
}

/** `PEER_OFFLINE`. */
export function peerOffline(to: string): PeerstreamError {
  return new PeerstreamError("PEER_OFFLINE", `Cannot send to ${quoted(to)}: they are offline`);
}

/** The outcome of a message whose recipient left before confirming it. */
export function recipientLeft(name: string): DeliveryOutcome {
  return {
    ok: false,
    code: "PEER_OFFLINE",
    message: `Message to "${name}" not confirmed: they left before receiving it`,
  };
}

/** `NOT_REGISTERED`: a connection without a name tried to send. */
export function notRegistered(): PeerstreamError {
  return new PeerstreamError("NOT_REGISTERED", 'Cannot send: register first with "hello"');
}
