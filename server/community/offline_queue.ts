/**
 * Sealed offline delivery (protocol version 3): what waits for a persistently bound peer who is
 * offline. Per recipient, in order: sealed messages (kept until the recipient's receipt) and
 * notices for them as a sender (`delivered`, `expired` of messages they queued for others). Pure:
 * the storage is an interface (a folder of append-only files in `offline_store.ts`), the time is
 * given.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { quoted } from "../../protocol/text.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";

/** A sealed message waiting for its recipient. */
export interface QueuedSealed {
  kind: "message";
  /** Its place in the recipient's queue, from 1. */
  qseq: number;
  /** The sender. */
  from: string;
  /** The sender's request id (echoed in the later `delivered`). */
  re: number;
  /** When the server queued it, ms. */
  at: number;
  /** The sealed envelope, as the sender sent it. */
  body: Uint8Array;
  /** The room it was sent to (a room envelope), absent for a 1:1 message. */
  room?: string;
}

/** A notice for a sender: a message they queued was confirmed, or expired unread. */
export interface QueuedNotice {
  kind: "delivered" | "expired";
  /** Its place in this (the sender's) queue. */
  qseq: number;
  /** The recipient the message was for. */
  to: string;
  /** The message's place in the recipient's queue. */
  ofQseq: number;
  /** The sender's request id. */
  re: number;
  /** When the server queued the notice, ms. */
  at: number;
}

/** One entry of a queue. */
export type QueuedEntry = QueuedSealed | QueuedNotice;

/** One record of a queue's log: an entry added, or an entry's removal. */
export type QueueRecord = QueuedEntry | { kind: "removed"; qseq: number };

/** Where queues persist: one append-only log per recipient. */
export interface QueueStorage {
  /** Every recipient's records, oldest first (a torn last record is left out). */
  load(): Map<string, QueueRecord[]>;
  /**
   * Appends records to a recipient's log; with `durable` (what a `queued` answer promises) they
   * are on disk (fsync) before it returns, without it the system writes them back when it will.
   */
  append(name: string, records: readonly QueueRecord[], durable: boolean): void;
  /** Deletes a recipient's log (their queue is empty). */
  remove(name: string): void;
  /** The public keys of bound names, as last saved. */
  loadKeys(): Map<string, PublicKeysText>;
  /** Saves one bound name's public keys (atomically). */
  saveKeys(name: string, keys: PublicKeysText): void;
}

/** The bounds of the queues. */
export interface QueueLimits {
  /** Messages waiting per recipient at most. @default {1000} */
  maxMessages: number;
  /** Bytes of sealed messages waiting per recipient at most. @default {16777216} */
  maxBytes: number;
  /** How long a message waits before it expires, ms. @default {1209600000} (14 days) */
  maxAgeMs: number;
  /** Bytes of sealed messages waiting in all at most. @default {1073741824} */
  maxTotalBytes: number;
}

/**
 * The default bounds (design: docs/PROTOCOL.md "Sealed offline delivery"): 1,000 messages and 16
 * MiB per recipient, 14 days, 1 GiB in all. XMPP servers commonly keep 100 messages per user and
 * Signal keeps queued envelopes 14 days; 1,000 covers a busy group over a weekend.
 */
export const QUEUE_DEFAULTS: Readonly<QueueLimits> = {
  maxMessages: 1000,
  maxBytes: 16 * 1024 * 1024,
  maxAgeMs: 14 * 24 * 3600 * 1000,
  maxTotalBytes: 1024 * 1024 * 1024,
};

/** Notices kept per sender at most: beyond, the oldest notice goes (it is only a notice). */
const MAX_NOTICES = 1000;

interface Queue {
  entries: Map<number, QueuedEntry>;
  next: number;
  bytes: number;
  messages: number;
}

/** What expired, for the server to tell the senders. */
export interface Expiry {
  /** The recipient. */
  to: string;
  /** The message that expired. */
  message: QueuedSealed;
}

/**
 * The offline queues of one server: bounded, persisted before a `send` is answered `queued`, and
 * emptied by receipts.
 */
export class OfflineQueue {
  readonly #queues = new Map<string, Queue>();
  readonly #storage: QueueStorage;
  readonly #limits: QueueLimits;
  readonly #keys: Map<string, PublicKeysText>;
  #totalBytes = 0;

  /**
   * @param storage Where the queues persist; what it holds is loaded now.
   * @param limits The bounds.
   */
  constructor(storage: QueueStorage, limits: Partial<QueueLimits> = {}) {
    this.#storage = storage;
    this.#limits = { ...QUEUE_DEFAULTS, ...limits };
    this.#keys = storage.loadKeys();
    for (const [name, records] of storage.load()) {
      const queue = this.#queue(name);
      for (const record of records) {
        if (record.kind === "removed") this.#drop(queue, record.qseq);
        else this.#put(queue, record);
        queue.next = Math.max(queue.next, record.qseq + 1);
      }
      if (queue.entries.size === 0) {
        this.#queues.delete(name);
        storage.remove(name);
      }
    }
  }

  /**
   * Keeps a bound name's public keys, so that `key-info` answers for it while it is offline, after
   * a restart too (saved only when they changed).
   *
   * @param name The bound name.
   * @param keys Its keys.
   */
  rememberKeys(name: string, keys: PublicKeysText): void {
    const known = this.#keys.get(name);
    if (known?.encKey === keys.encKey && known.signKey === keys.signKey) return;
    this.#keys.set(name, { encKey: keys.encKey, signKey: keys.signKey });
    this.#storage.saveKeys(name, { encKey: keys.encKey, signKey: keys.signKey });
  }

  /**
   * A bound name's keys as last seen, if they are still the bound key's.
   *
   * @param name The name.
   * @param boundSignKey The signing key the name is bound to now.
   * @returns The keys, or undefined.
   */
  keysOf(name: string, boundSignKey: string | undefined): PublicKeysText | undefined {
    const keys = this.#keys.get(name);
    return keys !== undefined && keys.signKey === boundSignKey ? keys : undefined;
  }

  /** Messages waiting, in all. */
  get size(): number {
    let n = 0;
    for (const queue of this.#queues.values()) n += queue.messages;
    return n;
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = { entries: new Map(), next: 1, bytes: 0, messages: 0 };
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #put(queue: Queue, entry: QueuedEntry) {
    queue.entries.set(entry.qseq, entry);
    if (entry.kind === "message") {
      queue.messages++;
      queue.bytes += entry.body.length;
      this.#totalBytes += entry.body.length;
    }
  }

  #drop(queue: Queue, qseq: number): QueuedEntry | undefined {
    const entry = queue.entries.get(qseq);
    if (entry === undefined) return undefined;
    queue.entries.delete(qseq);
    if (entry.kind === "message") {
      queue.messages--;
      queue.bytes -= entry.body.length;
      this.#totalBytes -= entry.body.length;
    }
    return entry;
  }

  /**
   * Keeps a sealed message for an offline recipient, durably, within the bounds.
   *
   * @param to The recipient (persistently bound, offline).
   * @param message The sender, their request id, the sealed body and, for a room message, its room.
   * @param now The time, ms.
   * @returns Its place in the recipient's queue.
   * @throws {PeerstreamError} `QUEUE_FULL` when the recipient's queue, or all queues, are full.
   */
  add(
    to: string,
    message: { from: string; re: number; body: Uint8Array; room?: string },
    now: number,
  ): number {
    const queue = this.#queues.get(to);
    const { maxMessages, maxBytes, maxTotalBytes } = this.#limits;
    const size = message.body.length;
    if ((queue?.messages ?? 0) >= maxMessages) {
      throw queueFull(to, `${maxMessages.toLocaleString("en")} messages wait for them`);
    }
    if ((queue?.bytes ?? 0) + size > maxBytes) {
      throw queueFull(to, `${maxBytes.toLocaleString("en")} bytes of messages wait for them`);
    }
    if (this.#totalBytes + size > maxTotalBytes) {
      throw queueFull(to, "the server's queues are full");
    }
    const q = this.#queue(to);
    const entry: QueuedSealed = { kind: "message", qseq: q.next, at: now, ...message };
    this.#storage.append(to, [entry], true);
    q.next++;
    this.#put(q, entry);
    return entry.qseq;
  }

  /**
   * Keeps a notice for a sender who is offline (the oldest notice goes past the bound).
   *
   * @param sender The sender.
   * @param notice What happened to which message.
   * @param now The time, ms.
   */
  notify(
    sender: string,
    notice: { kind: "delivered" | "expired"; to: string; ofQseq: number; re: number },
    now: number,
  ): void {
    const q = this.#queue(sender);
    const records: QueueRecord[] = [];
    if (q.entries.size - q.messages >= MAX_NOTICES) {
      for (const entry of q.entries.values()) {
        if (entry.kind === "message") continue;
        this.#drop(q, entry.qseq);
        records.push({ kind: "removed", qseq: entry.qseq });
        break;
      }
    }
    const entry: QueuedNotice = { ...notice, qseq: q.next, at: now };
    records.push(entry);
    this.#storage.append(sender, records, true);
    q.next++;
    this.#put(q, entry);
  }

  /**
   * What waits for a recipient, in order.
   *
   * @param name The recipient.
   * @returns Messages and notices, oldest first.
   */
  entries(name: string): QueuedEntry[] {
    return [...this.#queues.get(name)?.entries.values() ?? []];
  }

  /**
   * Deletes an entry (a message on its receipt, a notice once sent).
   *
   * @param name The queue's owner.
   * @param qseq The entry.
   * @returns The entry, or undefined when there was none (a stale or forged receipt).
   */
  remove(name: string, qseq: number): QueuedEntry | undefined {
    const queue = this.#queues.get(name);
    if (queue === undefined) return undefined;
    const entry = this.#drop(queue, qseq);
    if (entry === undefined) return undefined;
    if (queue.entries.size === 0) {
      this.#queues.delete(name);
      this.#storage.remove(name);
    } else {
      // Not fsynced: a removal lost in a crash only sends the entry again, which its client
      // confirms without showing it twice. With an fsync per receipt, 1,000 queued messages
      // took 586 ms to drain to a client that confirms at once; without, 141 ms (here, loaded).
      this.#storage.append(name, [{ kind: "removed", qseq }], false);
    }
    return entry;
  }

  /**
   * Deletes a name's whole queue (the operator released the name).
   *
   * @param name The name.
   */
  drop(name: string): void {
    const queue = this.#queues.get(name);
    if (queue === undefined) return;
    for (const qseq of [...queue.entries.keys()]) this.#drop(queue, qseq);
    this.#queues.delete(name);
    this.#storage.remove(name);
  }

  /**
   * Deletes messages older than the bound.
   *
   * @param now The time, ms.
   * @returns What expired, for the senders to be told.
   */
  expire(now: number): Expiry[] {
    const out: Expiry[] = [];
    for (const [name, queue] of [...this.#queues]) {
      for (const entry of [...queue.entries.values()]) {
        if (entry.kind !== "message") continue;
        // Oldest first: the first one young enough ends this queue's scan.
        if (now - entry.at <= this.#limits.maxAgeMs) break;
        this.remove(name, entry.qseq);
        out.push({ to: name, message: entry });
      }
    }
    return out;
  }
}

/**
 * `QUEUE_FULL`, in the design's words (the cluster's queue says it the same way).
 *
 * @param to The recipient.
 * @param why Which bound is reached.
 * @returns The error.
 */
export function queueFull(to: string, why: string): PeerstreamError {
  return new PeerstreamError(
    "QUEUE_FULL",
    `Cannot queue for ${quoted(to)}: ${why}; try when ${quoted(to)} is online`,
  );
}
