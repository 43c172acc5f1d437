/**
 * Sealed messages to a cluster node's own peers, from a peer here or from another node: each
 * within the recipient's fair budgets (so they hold for senders on every node), delivered (behind
 * the recipient's offline queue while it is being sent), and its outcome told to its sender here
 * or through the sender's node's channel when the receipt comes or the recipient leaves.
 * @module
 */

import type { ReceiptVerdict } from "./relay.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { NodeMessage } from "./cluster_wire.ts";
import { type DeliveryOutcome, recipientLeft, settleReceipt } from "./community.ts";
import { DELIVER_OVERHEAD_BYTES, Relay, type RelayBudgets } from "./relay.ts";
import { unavailable } from "./cluster_refusals.ts";

/** Who sent a message a local peer has not confirmed yet: a connection here, or another node. */
export type Sender<C> = { conn: C } | { node: string; ref: string };

/** Options for {@linkcode ClusterInbox}. */
export interface ClusterInboxOptions<C> {
  /** The budgets of unconfirmed messages per recipient and per (sender, recipient). */
  budgets: Partial<RelayBudgets>;
  /** A peer's connection if it is online on this node now. */
  local: (name: string) => C | undefined;
  /** Hands a relayed message to a local peer (after its offline queue, if that is being sent). */
  deliver: (
    conn: C,
    delivery: { rid: string; from: string; body: Uint8Array; room?: string },
  ) => void;
  /** Tells a local sender how its message ended. */
  outcome: (sender: C, requestId: number, outcome: DeliveryOutcome) => void;
  /** Tells another node how its sender's message ended. */
  answer: (sender: { node: string; ref: string }, outcome: DeliveryOutcome) => void;
}

/** A message for a local peer. */
interface Inbound {
  requestId: number;
  /** The sender's name. */
  from: string;
  /** The recipient's name. */
  to: string;
  body: Uint8Array;
  /** The room, for a room message. */
  room?: string;
}

/** What this node's peers were sent and have not confirmed yet. */
export class ClusterInbox<C> {
  readonly #options: ClusterInboxOptions<C>;
  readonly #relay: Relay<Sender<C>>;

  /** @param options The budgets, the local peers and where deliveries and outcomes go. */
  constructor(options: ClusterInboxOptions<C>) {
    this.#options = options;
    this.#relay = new Relay(options.budgets);
  }

  /**
   * A message from a peer on this node to another one here, delivered before this returns.
   *
   * @param sender The sender's connection.
   * @param to The recipient's connection.
   * @param message The request, the names and the sealed body.
   * @throws {PeerstreamError} The recipient's budget code (`INBOX_FULL`).
   */
  local(sender: C, to: C, message: Inbound): void {
    const { requestId, from, body } = message;
    const bytes = body.length + DELIVER_OVERHEAD_BYTES;
    const rid = this.#relay.accept({
      sender: { conn: sender },
      from,
      requestId,
      to: message.to,
      bytes,
    });
    this.#options.deliver(to, {
      rid,
      from,
      body,
      ...(message.room === undefined ? {} : { room: message.room }),
    });
  }

  /**
   * A message from another node for a peer here; a refusal goes back to that node.
   *
   * @param message The decoded node message.
   */
  fromNode(message: Extract<NodeMessage, { t: "deliver" }>): void {
    const sender: Sender<C> = { node: message.from, ref: message.ref };
    const conn = this.#options.local(message.to);
    if (conn === undefined) {
      this.#settle(sender, 0, {
        ok: false,
        code: "PEER_OFFLINE",
        message: `Message to "${message.to}" not delivered: they left`,
      });
      return;
    }
    let rid: string;
    try {
      rid = this.#relay.accept({
        sender,
        from: message.sender,
        requestId: 0,
        to: message.to,
        bytes: message.body.length + DELIVER_OVERHEAD_BYTES,
      });
    } catch (error) {
      const refused = error instanceof PeerstreamError ? error : unavailable();
      this.#settle(sender, 0, { ok: false, code: refused.code, message: refused.message });
      return;
    }
    this.#options.deliver(conn, {
      rid,
      from: message.sender,
      body: message.body,
      ...(message.room === undefined ? {} : { room: message.room }),
    });
  }

  /**
   * A local recipient's receipt; a stale or forged one is ignored.
   *
   * @param by The recipient's name.
   * @param receipt The relay id and verdict.
   */
  receipt(by: string, receipt: ReceiptVerdict): void {
    const settled = settleReceipt(this.#relay, { by, ...receipt });
    if (settled !== undefined) this.#settle(settled.sender, settled.requestId, settled.outcome);
  }

  /**
   * A local recipient left: what it had not confirmed fails to its senders (`PEER_OFFLINE`).
   *
   * @param name The recipient.
   */
  recipientLeft(name: string): void {
    for (const pending of this.#relay.recipientLeft(name)) {
      this.#settle(pending.sender, pending.requestId, recipientLeft(name));
    }
  }

  /** Tells a sender how its message ended: locally, or through its node's channel. */
  #settle(sender: Sender<C>, requestId: number, outcome: DeliveryOutcome) {
    if ("conn" in sender) this.#options.outcome(sender.conn, requestId, outcome);
    else this.#options.answer(sender, outcome);
  }
}
