/**
 * Sealed messages between cluster nodes: a message to a peer on another node is published to that
 * node's channel and waits here (by its `ref`) for the result that node publishes back; it fails
 * when that node cannot be reached, when the peer leaves, when Redis is lost, or past
 * `remoteTimeoutMs`. Results this node owes others are published, and kept and retried each beat
 * while they cannot go.
 * @module
 */

import type { DeliveryOutcome } from "./community.ts";
import { encodeNodeMessage, type NodeMessage } from "./cluster_wire.ts";
import { newRelayId } from "./relay.ts";

/** The most results kept for retry; past it the oldest go (their senders time out instead). */
const MAX_UNSENT_RESULTS = 10_000;

/** What the routes publish through (the node's Redis link). */
export interface RoutesLink {
  /** Whether both Redis connections are up. */
  readonly ready: boolean;
  /** Publishes to a channel; resolves to the number of subscribers that got it. */
  publish(channel: string, message: Uint8Array): Promise<number>;
}

/** Options for {@linkcode ClusterRoutes}. */
export interface ClusterRoutesOptions<C> {
  /** This node's name. */
  node: string;
  /** The channel of a node. */
  channel: (node: string) => string;
  /** The link to publish through, as it is now. */
  link: () => RoutesLink;
  /** Tells a local sender how its message ended. */
  outcome: (sender: C, requestId: number, outcome: DeliveryOutcome) => void;
  /** The clock, ms. */
  now: () => number;
  /** A message whose result never comes fails after this, ms. */
  remoteTimeoutMs: number;
  /** Whether the node has left the cluster (nothing is kept for retry then). */
  closed: () => boolean;
}

/** A message sent to another node, waiting for its result. */
interface Outgoing<C> {
  sender: C;
  requestId: number;
  to: string;
  node: string;
  at: number;
}

/** A result for another node that could not be published yet. */
interface UnsentResult {
  node: string;
  bytes: Uint8Array;
  /** When it was first tried, by the community's clock. */
  at: number;
}

/** The messages of this node's peers to other nodes, and the results it owes them. */
export class ClusterRoutes<C> {
  readonly #options: ClusterRoutesOptions<C>;
  readonly #outgoing = new Map<string, Outgoing<C>>();
  /** Results to other nodes that could not be published yet, oldest first. */
  readonly #unsent: UnsentResult[] = [];

  /** @param options This node, its link and clock, and where outcomes go. */
  constructor(options: ClusterRoutesOptions<C>) {
    this.#options = options;
  }

  /**
   * Sends a sealed message to a peer on another node.
   *
   * @param sender The local sender.
   * @param message Its request, the sender's and the recipient's names, the recipient's node and
   * the sealed body.
   */
  send(
    sender: C,
    message: {
      requestId: number;
      from: string;
      to: string;
      node: string;
      body: Uint8Array;
      room?: string;
    },
  ): void {
    const { to, node } = message;
    let ref = newRelayId();
    while (this.#outgoing.has(ref)) ref = newRelayId();
    this.#outgoing.set(ref, {
      sender,
      requestId: message.requestId,
      to,
      node,
      at: this.#options.now(),
    });
    const bytes = encodeNodeMessage({
      t: "deliver",
      from: this.#options.node,
      ref,
      sender: message.from,
      to,
      body: message.body,
      ...(message.room === undefined ? {} : { room: message.room }),
    });
    this.#options.link().publish(this.#options.channel(node), bytes).then(
      (receivers) => {
        if (receivers === 0) this.#fail(ref, unreachableOutcome(to));
      },
      () => this.#fail(ref, unreachableOutcome(to)),
    );
  }

  /**
   * Takes a result another node published for a message sent from here.
   *
   * @param message The result; one from a node the message did not go to is ignored.
   */
  result(message: Extract<NodeMessage, { t: "result" }>): void {
    const out = this.#outgoing.get(message.ref);
    if (out === undefined || out.node !== message.from) return;
    this.#outgoing.delete(message.ref);
    this.#options.outcome(
      out.sender,
      out.requestId,
      message.ok
        ? { ok: true, to: out.to }
        : { ok: false, code: message.code, message: message.message },
    );
  }

  /**
   * Publishes how a message from another node ended to that node. After Redis comes back, this
   * node may hear deliveries (its subscriber is back) before it can publish (its command
   * connection is not), or the sender's node may not be subscribed again yet: a result that
   * cannot go now is kept and retried each beat, until the sender's node would have given up.
   *
   * @param sender The sending node and its id for the message.
   * @param outcome How it ended.
   */
  answer(sender: { node: string; ref: string }, outcome: DeliveryOutcome): void {
    const from = this.#options.node;
    const bytes = encodeNodeMessage(
      outcome.ok ? { t: "result", from, ref: sender.ref, ok: true } : {
        t: "result",
        from,
        ref: sender.ref,
        ok: false,
        code: outcome.code,
        message: outcome.message,
      },
    );
    this.#publishResult({ node: sender.node, bytes, at: this.#options.now() });
  }

  /** Publishes the results kept while they could not go, if the link is ready. */
  retry(): void {
    if (this.#unsent.length === 0 || !this.#options.link().ready) return;
    for (const result of this.#unsent.splice(0)) this.#publishResult(result);
  }

  /** Fails the messages whose result is overdue (`PEER_UNREACHABLE`: it may have arrived). */
  expire(): void {
    const now = this.#options.now();
    const timeoutMs = this.#options.remoteTimeoutMs;
    for (const [ref, out] of this.#outgoing) {
      if (now - out.at > timeoutMs) {
        this.#fail(ref, {
          ok: false,
          code: "PEER_UNREACHABLE",
          message: `Message to "${out.to}" not confirmed within ${
            Math.round(timeoutMs / 1000)
          } s: their server did not answer; it may have arrived`,
        });
      }
    }
  }

  /**
   * Fails the messages to a peer that left before receiving them (`PEER_OFFLINE`).
   *
   * @param name The peer.
   */
  recipientLeft(name: string): void {
    for (const [ref, out] of this.#outgoing) {
      if (out.to === name) {
        this.#fail(ref, {
          ok: false,
          code: "PEER_OFFLINE",
          message: `Message to "${name}" not confirmed: they left before receiving it`,
        });
      }
    }
  }

  /** Fails every message waiting (Redis is lost: `PEER_UNREACHABLE`). */
  lost(): void {
    for (const [ref, out] of this.#outgoing) this.#fail(ref, unreachableOutcome(out.to));
  }

  #publishResult(result: UnsentResult) {
    const retry = () => this.#keepResult(result);
    const link = this.#options.link();
    if (!link.ready) return retry();
    link.publish(this.#options.channel(result.node), result.bytes).then(
      (receivers) => {
        if (receivers === 0) retry();
      },
      retry,
    );
  }

  #keepResult(result: UnsentResult) {
    if (this.#options.closed()) return;
    if (this.#options.now() - result.at > this.#options.remoteTimeoutMs) return;
    if (this.#unsent.length >= MAX_UNSENT_RESULTS) this.#unsent.shift();
    this.#unsent.push(result);
  }

  #fail(ref: string, outcome: DeliveryOutcome) {
    const out = this.#outgoing.get(ref);
    if (out === undefined) return;
    this.#outgoing.delete(ref);
    this.#options.outcome(out.sender, out.requestId, outcome);
  }
}

/**
 * A message to a node that cannot be reached now.
 *
 * @param to The recipient.
 * @returns `PEER_UNREACHABLE`, saying it may have arrived.
 */
export function unreachableOutcome(to: string): DeliveryOutcome {
  return {
    ok: false,
    code: "PEER_UNREACHABLE",
    message:
      `Message to "${to}" not confirmed: their server cannot be reached now; it may have arrived`,
  };
}
