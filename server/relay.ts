/**
 * The relay: routes sealed messages to exactly one recipient and tracks them until the
 * recipient's client confirms. Pure: the caller sends what it returns.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";

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
}

/** What a receipt resolves to. */
export type ReceiptOutcome<C> =
  & PendingDelivery<C>
  & ({ ok: true } | { ok: false; code: ErrorCode; message: string });

/** Options for {@linkcode Relay}. */
export interface RelayOptions {
  /** The most messages one recipient may have unconfirmed. @default {1000} */
  maxPendingPerRecipient?: number;
}

/**
 * A fresh relay id: 96 random bits as 16 URL-safe base64 characters, so that ids reveal nothing of
 * the server's other traffic.
 */
export function newRelayId(): string {
  return crypto.getRandomValues(new Uint8Array(12)).toBase64({ alphabet: "base64url" });
}

/** Tracks relayed messages from send to receipt. */
export class Relay<C> {
  #pending = new Map<string, PendingDelivery<C>>();
  #perRecipient = new Map<string, Set<string>>();
  #maxPending: number;

  /** @param options Limits. */
  constructor(options: RelayOptions = {}) {
    this.#maxPending = options.maxPendingPerRecipient ?? 1000;
  }

  /** How many messages await a receipt. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Accepts a message for relaying.
   *
   * @param delivery Sender, request id and recipient (already known to be online).
   * @returns The relay id to put in `deliver`.
   * @throws {PeerstreamError} `RATE_LIMITED` when the recipient has too many unconfirmed messages.
   */
  accept(delivery: PendingDelivery<C>): string {
    let set = this.#perRecipient.get(delivery.to);
    if (set === undefined) {
      set = new Set();
      this.#perRecipient.set(delivery.to, set);
    }
    if (set.size >= this.#maxPending) {
      throw new PeerstreamError(
        "RATE_LIMITED",
        `Cannot send to "${delivery.to}": ${set.size} messages await their confirmation; wait and retry`,
      );
    }
    let rid = newRelayId();
    while (this.#pending.has(rid)) rid = newRelayId();
    this.#pending.set(rid, delivery);
    set.add(rid);
    return rid;
  }

  /**
   * Resolves a receipt sent by a recipient's client.
   *
   * @param rid The relay id from `deliver`.
   * @param options Who sent the receipt, and its verdict.
   * @returns The outcome to report to the sender, or undefined when the receipt matches nothing
   * sent to this recipient (a stale or forged receipt is ignored).
   */
  receipt(
    rid: string,
    options: { by: string; ok: boolean; code?: ErrorCode },
  ): ReceiptOutcome<C> | undefined {
    const pending = this.#pending.get(rid);
    if (pending === undefined || pending.to !== options.by) return undefined;
    this.#forget(rid, pending.to);
    if (options.ok) return { ...pending, ok: true };
    const code = options.code ?? "DECRYPT_FAILED";
    return {
      ...pending,
      ok: false,
      code,
      message: `Message to "${pending.to}" was rejected by their client (${code})`,
    };
  }

  /**
   * Fails every message to a recipient who left before confirming.
   *
   * @param name The recipient who left.
   * @returns The deliveries to report as failed to their senders.
   */
  recipientLeft(name: string): PendingDelivery<C>[] {
    const set = this.#perRecipient.get(name);
    if (set === undefined) return [];
    const out: PendingDelivery<C>[] = [];
    for (const rid of set) {
      const pending = this.#pending.get(rid);
      if (pending !== undefined) out.push(pending);
      this.#pending.delete(rid);
    }
    this.#perRecipient.delete(name);
    return out;
  }

  #forget(rid: string, to: string) {
    this.#pending.delete(rid);
    const set = this.#perRecipient.get(to);
    set?.delete(rid);
    if (set?.size === 0) this.#perRecipient.delete(to);
  }
}
