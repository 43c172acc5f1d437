/**
 * The relay: routes sealed messages to exactly one recipient and tracks them until the
 * recipient's client confirms, within fair budgets. Pure: the caller sends what it returns.
 *
 * What one recipient may have unconfirmed is bounded in count and bytes, per (sender, recipient)
 * pair and per recipient in all; a sender over budget gets `INBOX_FULL` for that message, and one
 * flooding sender uses at most its pair budget of another person's inbox. When senders fill an
 * inbox together, a sender still under its fair share (the recipient's budget over the senders
 * holding messages there) gets in anyway, up to twice the budget in all: colluders cannot lock an
 * honest sender out. What is unconfirmed waits in the server (`fair_outbox.ts` releases it to the
 * recipient's connection a small window at a time, fairly between senders), so relaying never
 * fills a recipient's connection queue.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../../protocol/errors.ts";

/** A message waiting for the recipient's receipt. */
export interface PendingDelivery<C> {
  /** The sender's connection. */
  sender: C;
  /** The sender's name. */
  from: string;
  /** The sender's request id, echoed in `delivered` or `error`. */
  requestId: number;
  /** The recipient's name. */
  to: string;
  /** What the message costs the recipient's queue: its `deliver` frame, bytes. */
  bytes: number;
}

/**
 * The most a `deliver` frame adds to its sealed body: frame and JSON headers, a relay id and a
 * sender name JSON-escaped at worst (32 characters × 6). Budgets count body plus this.
 */
export const DELIVER_OVERHEAD_BYTES = 512;

/** What a receipt resolves to. */
export type ReceiptOutcome<C> =
  & PendingDelivery<C>
  & ({ ok: true } | { ok: false; code: ErrorCode; message: string });

/** A recipient's verdict on a relayed message: its client's `receipt`, or the server's deadline. */
export interface ReceiptVerdict {
  /** The relay id from `deliver`. */
  rid: string;
  /** Whether the recipient's client opened it. */
  ok: boolean;
  /** Why not, when not. */
  code?: ErrorCode;
  /**
   * Set by the server, never from the wire: no receipt came within this receipt deadline, ms
   * (`receiptTimeoutMs`). The sender is told so, and a queued message stays queued.
   */
  unconfirmedMs?: number;
}

/** Budgets of unconfirmed messages; see {@linkcode DEFAULT_RELAY_BUDGETS}. */
export interface RelayBudgets {
  /** Unconfirmed messages from one sender to one recipient. */
  pairMessages: number;
  /** Unconfirmed bytes from one sender to one recipient. */
  pairBytes: number;
  /** Unconfirmed messages to one recipient from everyone. */
  recipientMessages: number;
  /** Unconfirmed bytes to one recipient from everyone. */
  recipientBytes: number;
}

/**
 * The default budgets: 256 messages or 1 MiB per pair, 1,024 messages or 4 MiB per recipient. Four
 * senders flooding at once fill an inbox; the recipient's 8 MiB control queue keeps 4 MiB for
 * everything else (announcements, answers).
 */
export const DEFAULT_RELAY_BUDGETS: Readonly<RelayBudgets> = {
  pairMessages: 256,
  pairBytes: 1024 * 1024,
  recipientMessages: 1024,
  recipientBytes: 4 * 1024 * 1024,
};

/**
 * A fresh relay id: 96 random bits as 16 URL-safe base64 characters, so that ids reveal nothing of
 * the server's other traffic.
 */
export function newRelayId(): string {
  if (_randomAt + 12 > _random.length) {
    crypto.getRandomValues(_random);
    _randomAt = 0;
  }
  const id = _random.subarray(_randomAt, _randomAt + 12).toBase64({ alphabet: "base64url" });
  _randomAt += 12;
  return id;
}

/** Random bytes drawn 4,092 at a time (one call per 341 ids), each byte used once. */
const _random = new Uint8Array(4092);
let _randomAt = _random.length;

interface Usage {
  messages: number;
  bytes: number;
}

interface Inbox extends Usage {
  rids: Set<string>;
  /** Usage per sender name. */
  senders: Map<string, Usage>;
}

/**
 * A sender's fair share of a full inbox: the recipient's budget over the senders holding messages
 * there (this one included), never less than the one message at hand.
 *
 * @param budgets The budgets.
 * @param options How many senders, and the size of the message at hand.
 * @returns The messages and bytes one sender may hold.
 */
export function fairShare(
  budgets: Pick<RelayBudgets, "recipientMessages" | "recipientBytes">,
  options: { senders: number; bytes: number },
): { messages: number; bytes: number } {
  const senders = Math.max(1, options.senders);
  return {
    messages: Math.max(1, Math.floor(budgets.recipientMessages / senders)),
    bytes: Math.max(options.bytes, Math.floor(budgets.recipientBytes / senders)),
  };
}

/** Tracks relayed messages from send to receipt. */
export class Relay<C> {
  #pending = new Map<string, PendingDelivery<C>>();
  #inboxes = new Map<string, Inbox>();
  #budgets: RelayBudgets;

  /** @param budgets The budgets; missing fields take {@linkcode DEFAULT_RELAY_BUDGETS}. */
  constructor(budgets: Partial<RelayBudgets> = {}) {
    this.#budgets = { ...DEFAULT_RELAY_BUDGETS, ...budgets };
  }

  /** How many messages await a receipt. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * What a recipient has unconfirmed.
   *
   * @param to The recipient.
   * @returns Messages and bytes.
   */
  usage(to: string): { messages: number; bytes: number } {
    const inbox = this.#inboxes.get(to);
    return { messages: inbox?.messages ?? 0, bytes: inbox?.bytes ?? 0 };
  }

  /**
   * Accepts a message for relaying, within the budgets.
   *
   * @param delivery Sender, request id, recipient (already known to be online) and size.
   * @returns The relay id to put in `deliver`.
   * @throws {PeerstreamError} `INBOX_FULL` when the message would pass the sender's budget toward
   * this recipient, or the recipient's budget in all.
   */
  accept(delivery: PendingDelivery<C>): string {
    const inbox = this.#inboxes.get(delivery.to) ??
      { messages: 0, bytes: 0, rids: new Set<string>(), senders: new Map<string, Usage>() };
    const pair = inbox.senders.get(delivery.from) ?? { messages: 0, bytes: 0 };
    this.#check(delivery, { inbox, pair });
    let rid = newRelayId();
    while (this.#pending.has(rid)) rid = newRelayId();
    this.#pending.set(rid, delivery);
    this.#inboxes.set(delivery.to, inbox);
    inbox.senders.set(delivery.from, pair);
    inbox.rids.add(rid);
    inbox.messages++;
    inbox.bytes += delivery.bytes;
    pair.messages++;
    pair.bytes += delivery.bytes;
    return rid;
  }

  #check(delivery: PendingDelivery<C>, usage: { inbox: Inbox; pair: Usage }) {
    const { inbox, pair } = usage;
    const b = this.#budgets;
    const full = (what: string) =>
      new PeerstreamError(
        "INBOX_FULL",
        `Cannot send to "${delivery.to}": ${what}; wait for delivered and retry`,
      );
    if (pair.messages + 1 > b.pairMessages || pair.bytes + delivery.bytes > b.pairBytes) {
      throw full(
        `${pair.messages} messages from you (${pair.bytes} bytes) await their confirmation`,
      );
    }
    const messages = inbox.messages + 1;
    const bytes = inbox.bytes + delivery.bytes;
    if (messages <= b.recipientMessages && bytes <= b.recipientBytes) return;
    // Full: a sender still under its fair share gets in anyway, up to twice the budget, so that
    // senders who fill an inbox together cannot lock anyone else out of it.
    const senders = inbox.senders.size + (inbox.senders.has(delivery.from) ? 0 : 1);
    const share = fairShare(b, { senders, bytes: delivery.bytes });
    if (
      pair.messages + 1 <= share.messages && pair.bytes + delivery.bytes <= share.bytes &&
      messages <= 2 * b.recipientMessages && bytes <= 2 * b.recipientBytes
    ) {
      return;
    }
    throw full(
      `their inbox holds ${inbox.messages} messages (${inbox.bytes} bytes) awaiting confirmation, and ${pair.messages} (${pair.bytes} bytes) of them are yours, your share while ${senders} people write to them`,
    );
  }

  /**
   * Resolves a receipt sent by a recipient's client.
   *
   * @param rid The relay id from `deliver`.
   * @param options Who sent the receipt, and its verdict.
   * @returns The outcome to report to the sender, or undefined when the receipt matches nothing
   * sent to this recipient (a stale or forged receipt, or one after the deadline, is ignored).
   */
  receipt(
    rid: string,
    options: { by: string } & Omit<ReceiptVerdict, "rid">,
  ): ReceiptOutcome<C> | undefined {
    const pending = this.#pending.get(rid);
    if (pending === undefined || pending.to !== options.by) return undefined;
    this.#forget(rid, pending);
    if (options.ok) return { ...pending, ok: true };
    const code = options.code ?? "DECRYPT_FAILED";
    const message = options.unconfirmedMs === undefined
      ? `Message to "${pending.to}" was rejected by their client (${code})`
      : unconfirmedMessage(pending.to, options.unconfirmedMs);
    return { ...pending, ok: false, code, message };
  }

  /**
   * Fails every message to a recipient who left before confirming.
   *
   * @param name The recipient who left.
   * @returns The deliveries to report as failed to their senders.
   */
  recipientLeft(name: string): PendingDelivery<C>[] {
    const inbox = this.#inboxes.get(name);
    if (inbox === undefined) return [];
    const out: PendingDelivery<C>[] = [];
    for (const rid of inbox.rids) {
      const pending = this.#pending.get(rid);
      if (pending !== undefined) out.push(pending);
      this.#pending.delete(rid);
    }
    this.#inboxes.delete(name);
    return out;
  }

  #forget(rid: string, pending: PendingDelivery<C>) {
    this.#pending.delete(rid);
    const inbox = this.#inboxes.get(pending.to);
    if (inbox === undefined) return;
    inbox.rids.delete(rid);
    inbox.messages--;
    inbox.bytes -= pending.bytes;
    const pair = inbox.senders.get(pending.from);
    if (pair !== undefined) {
      pair.messages--;
      pair.bytes -= pending.bytes;
      if (pair.messages === 0) inbox.senders.delete(pending.from);
    }
    if (inbox.rids.size === 0) this.#inboxes.delete(pending.to);
  }
}

/**
 * What a sender is told of a message its recipient's client did not confirm in time.
 *
 * @param to The recipient.
 * @param ms The receipt deadline, ms.
 * @returns The message, e.g. `Message to "bob" was not confirmed by their client within 30 s; …`.
 */
export function unconfirmedMessage(to: string, ms: number): string {
  const within = ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
  return `Message to "${to}" was not confirmed by their client within ${within}; it may not have been shown; send it again later`;
}
