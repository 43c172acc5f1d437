/**
 * The community seam's types: a join, a welcome, delivery outcomes, the events a community
 * raises and the {@linkcode Community} interface every implementation keeps. Re-exported by
 * `./community.ts`, where importers find them.
 * @module
 */

import type { ReceiptVerdict } from "./relay.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import type { DeliverMessage, LeaveReason, PeerReachability } from "../../protocol/messages.ts";

/** A registration request, checked by the server (proof, name rules) before it gets here. */
export interface JoinRequest<C> {
  /** The normalized name. */
  name: string;
  /**
   * The name's look-alike keys (`nameKeys` of protocol/names.ts): two names that share one are
   * one name for uniqueness.
   */
  lookalikes: string[];
  /** The public keys as registered. */
  keys: PublicKeysText;
  /** The server's handle for the connection. */
  conn: C;
  /** Hold the name only while connected, and never persist its binding. */
  ephemeral: boolean;
  /**
   * Asked before a new binding is made (the per-address budget of new names, kept by each node);
   * false refuses it with `NAME_LIMIT`. Not asked for a name already bound to the key.
   */
  canBind?: () => boolean;
  /**
   * Called synchronously once the name is claimed, before anyone is told of the join: the server
   * marks the connection registered and sends `welcome` here, so that every announcement made
   * after this moment reaches it and none made before it is missed. Not called when the join fails
   * or the connection left meanwhile.
   */
  admit?: (welcome: Welcome) => void;
}

/** What the server puts in `welcome`. */
export interface Welcome {
  /** Names online and reachable, without the joiner. */
  peers: string[];
  /** Names online on a node that cannot be reached now. */
  unreachable: string[];
  /** Whether this join bound the name to the key for the first time. */
  newBinding: boolean;
}

/** How a relayed message ended, for its sender. */
export type DeliveryOutcome =
  | { ok: true; to: string }
  | { ok: false; code: ErrorCode; message: string };

/** What became of a message its sender queued: `delivered` or `expired`, with its `qseq`. */
export interface QueueNotice {
  kind: "delivered" | "expired";
  /** The recipient. */
  to: string;
  /** The message's place in the recipient's queue. */
  qseq: number;
  /** The sender's request id. */
  re: number;
}

/** What `send` did when it did not throw: relayed, or kept for an offline recipient. */
export type SendResult = { queued: false } | { queued: true; qseq: number };

/** A peer's public keys, and whether it is online now. */
export interface PeerKeys {
  /** The keys it registered with. */
  keys: PublicKeysText;
  /** Whether it is online (anywhere in the community). */
  online: boolean;
}

/**
 * What the community tells the server. The server sends the frames; the community never touches a
 * connection. Calls made from `send`, `receipt`, `leave` and `join` happen before those return.
 */
export interface CommunityEvents<C> {
  /** Someone joined (here or elsewhere): tell every registered local connection but theirs. */
  joined(name: string): void;
  /** Someone left (here or elsewhere): tell every registered local connection. */
  left(name: string, reason: LeaveReason): void;
  /** Peers online elsewhere became unreachable, or reachable again: tell every local connection. */
  peerState(names: string[], state: PeerReachability): void;
  /**
   * A sealed message for a local connection (`queued` and `qseq` when it waited offline; `room`
   * when it was sent to a room).
   */
  deliver(to: C, delivery: Omit<DeliverMessage, "type">): void;
  /**
   * A message a local connection queued earlier (maybe on an earlier connection) was confirmed
   * (`delivered`) or expired unread: tell it. Only with an offline queue.
   */
  notice?(sender: C, notice: QueueNotice): void;
  /**
   * A message a local connection sent was kept for its offline recipient (`queued`), when the
   * community learns it after `send` returned (in cluster mode, once Redis answered).
   */
  queued?(sender: C, requestId: number, queued: { to: string; qseq: number }): void;
  /** How a message a local connection sent ended (`delivered`, or `error` with `re`). */
  outcome(sender: C, requestId: number, outcome: DeliveryOutcome): void;
  /**
   * A local connection lost its name (the cluster gave it to someone else while this node was cut
   * off): tell it why and close it. Its `left` has been announced.
   */
  kick(conn: C, code: ErrorCode, message: string): void;
  /** One line for the server log, without message contents. */
  log(line: string): void;
}

/** One community of peers, as a server node sees it. */
export interface Community<C> {
  /**
   * Registers a peer: claims its name for its key (atomically across nodes), admits it (see
   * {@linkcode JoinRequest.admit}), then announces it.
   *
   * @param request The checked request.
   * @returns What was put in `welcome`.
   * @throws {PeerstreamError} `NAME_TAKEN`, `NAME_CONFUSABLE`, `NAME_LIMIT`, or `UNAVAILABLE`
   * when the shared store cannot be reached.
   */
  join(request: JoinRequest<C>): Promise<Welcome>;
  /**
   * Removes a local connection (registered or with a join in flight) and announces the leave;
   * messages it had not confirmed fail to their senders with `PEER_OFFLINE`. Synchronous.
   *
   * @param conn The connection.
   * @param reason Why it left.
   * @returns Whether it was online under its name.
   */
  leave(conn: C, reason: LeaveReason): boolean;
  /**
   * A peer's keys: online anywhere, or left recently.
   *
   * @param name The normalized name.
   * @returns The keys, or undefined for an unknown name.
   */
  lookup(name: string): PeerKeys | undefined;
  /**
   * A bound name's keys from the shared store, for a name {@linkcode Community.lookup} does not
   * know (offline since before this node started); later lookups know it. Only where the store is
   * shared (cluster mode).
   *
   * @param name The normalized name.
   * @returns The keys, or undefined for a name that is not bound.
   * @throws {PeerstreamError} `UNAVAILABLE` when the shared store cannot be reached.
   */
  find?(name: string): Promise<PeerKeys | undefined>;
  /**
   * Routes a sealed message. A local recipient gets it before this returns; for a remote one the
   * outcome comes later through {@linkcode CommunityEvents.outcome}.
   *
   * @param sender The sender's (registered) connection.
   * @param message The request id, the recipient, the sealed body and, for one recipient of a
   * `room-send`, the room (delivered and queued with it).
   * @returns Whether it was queued for an offline recipient (and where); void when relayed, or
   * when the answer comes later (`queued`, or `outcome` with a refusal, through the events).
   * @throws {PeerstreamError} `UNKNOWN_PEER`, `PEER_OFFLINE`, `PEER_UNREACHABLE`, `QUEUE_FULL`,
   * or the recipient's budget code.
   */
  send(
    sender: C,
    message: { requestId: number; to: string; body: Uint8Array; room?: string },
  ): SendResult | void;
  /**
   * Resolves a recipient's receipt; a stale or forged one is ignored. Synchronous.
   *
   * @param by The recipient's connection.
   * @param receipt The relay id and verdict.
   */
  receipt(by: C, receipt: ReceiptVerdict): void;
  /**
   * Frees a name from the key that owns it, everywhere.
   *
   * @param name The normalized name.
   * @returns Whether a binding existed.
   */
  release(name: string): Promise<boolean>;
  /** Called about once a second: picks up outside changes, expires what waited too long. */
  tick(): void;
  /** Names online on this node. */
  readonly localCount: number;
  /** Saves what must persist and leaves the community. */
  close(): Promise<void>;
}
