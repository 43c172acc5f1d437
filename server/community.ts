/**
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

import { PeerstreamError } from "../protocol/errors.ts";
import { nameKeys } from "../protocol/names.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import type { PublicKeysText } from "../protocol/e2e.ts";
import type { LeaveReason, PeerReachability } from "../protocol/messages.ts";
import { Directory } from "./directory.ts";
import { NameSaver, type NameStore } from "./name_store.ts";
import { Relay } from "./relay.ts";

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
  /** A sealed message for a local connection. */
  deliver(to: C, delivery: { rid: string; from: string; body: Uint8Array }): void;
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

/** The limits a community enforces (about names and recipients; per-connection rates stay local). */
export interface CommunityLimits {
  /** The most messages one recipient may have unconfirmed, from everyone (`RATE_LIMITED`). */
  maxPendingPerRecipient: number;
  /** The most names one signing key may have bound (`NAME_LIMIT`). */
  maxBindingsPerKey: number;
}

/** The defaults of {@linkcode CommunityLimits}. */
export const DEFAULT_COMMUNITY_LIMITS: Readonly<CommunityLimits> = {
  maxPendingPerRecipient: 1000,
  maxBindingsPerKey: 1000,
};

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
   */
  leave(conn: C, reason: LeaveReason): void;
  /**
   * A peer's keys: online anywhere, or left recently.
   *
   * @param name The normalized name.
   * @returns The keys, or undefined for an unknown name.
   */
  lookup(name: string): PeerKeys | undefined;
  /**
   * Routes a sealed message. A local recipient gets it before this returns; for a remote one the
   * outcome comes later through {@linkcode CommunityEvents.outcome}.
   *
   * @param sender The sender's (registered) connection.
   * @param message The request id, the recipient and the sealed body.
   * @throws {PeerstreamError} `UNKNOWN_PEER`, `PEER_OFFLINE`, `PEER_UNREACHABLE`, or the
   * recipient's budget code.
   */
  send(sender: C, message: { requestId: number; to: string; body: Uint8Array }): void;
  /**
   * Resolves a recipient's receipt; a stale or forged one is ignored. Synchronous.
   *
   * @param by The recipient's connection.
   * @param receipt The relay id and verdict.
   */
  receipt(by: C, receipt: { rid: string; ok: boolean; code?: ErrorCode }): void;
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

/** Options for {@linkcode MemoryCommunity}. */
export interface MemoryCommunityOptions<C> {
  /** Where announcements, deliveries and outcomes go. */
  events: CommunityEvents<C>;
  /** Where name bindings persist; in memory only when absent. */
  store?: NameStore;
  /** Limits; missing fields take {@linkcode DEFAULT_COMMUNITY_LIMITS}. */
  limits?: Partial<CommunityLimits>;
  /** The look-alike keys of a name (for bindings loaded from the store). @default {nameKeys} */
  lookalikes?: (name: string) => string[];
}

/**
 * The community of one process: today's behaviour. Everything is synchronous; bindings are saved
 * in the background by {@linkcode NameSaver} (coalesced), and `serve --release` run beside it is
 * picked up by {@linkcode MemoryCommunity.tick}.
 */
export class MemoryCommunity<C> implements Community<C> {
  readonly #events: CommunityEvents<C>;
  readonly #limits: CommunityLimits;
  readonly #directory: Directory<C>;
  readonly #relay: Relay<C>;
  readonly #names = new Map<C, string>();
  readonly #saver?: NameSaver;
  readonly #lookalikesOf: (name: string) => string[];
  /** Each look-alike key of the bound names → the signing key it is bound to. */
  readonly #lookalikes = new Map<string, string>();
  /** Signing key → the names bound to it. */
  readonly #byKey = new Map<string, Set<string>>();

  /** @param options Events, store, limits and the look-alike keys function. */
  constructor(options: MemoryCommunityOptions<C>) {
    this.#events = options.events;
    this.#limits = { ...DEFAULT_COMMUNITY_LIMITS, ...options.limits };
    this.#lookalikesOf = options.lookalikes ?? nameKeys;
    const bindings = options.store?.load() ?? new Map<string, string>();
    this.#directory = new Directory({ bindings });
    this.#relay = new Relay({ maxPendingPerRecipient: this.#limits.maxPendingPerRecipient });
    for (const [name, key] of bindings) this.#indexBinding(name, key);
    if (options.store !== undefined) {
      this.#saver = new NameSaver(options.store, bindings, {
        onError: (error) => this.#events.log(`cannot save name bindings: ${errorText(error)}`),
        onReleased: (names) => {
          for (const name of names) {
            this.#forgetBinding(name);
            this.#events.log(`release "${name}": any key may register it now`);
          }
        },
      });
    }
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
    const { name, keys } = request;
    if (this.#directory.get(name) !== undefined) throw nameInUse(name);
    const bound = this.#directory.bindings.get(name);
    if (bound !== undefined && bound !== keys.signKey) throw nameBound(name);
    if (bound === undefined) {
      for (const lookalike of request.lookalikes) {
        const owner = this.#lookalikes.get(lookalike);
        if (owner !== undefined && owner !== keys.signKey) throw nameConfusable(name);
      }
      const count = this.#byKey.get(keys.signKey)?.size ?? 0;
      if (!request.ephemeral && count >= this.#limits.maxBindingsPerKey) {
        throw nameLimit(name, this.#limits.maxBindingsPerKey);
      }
    }
    const { others, newBinding } = this.#directory.register(name, { keys, conn: request.conn });
    if (newBinding && request.ephemeral) {
      // The directory binds on register; an ephemeral name holds only while connected.
      (this.#directory.bindings as Map<string, string>).delete(name);
    } else if (newBinding) {
      this.#indexBinding(name, keys.signKey, request.lookalikes);
      // Saved in the background and coalesced: a join storm must not write the file per join.
      this.#saver?.request();
    }
    this.#names.set(request.conn, name);
    const welcome = {
      peers: others,
      unreachable: [],
      newBinding: newBinding && !request.ephemeral,
    };
    request.admit?.(welcome);
    this.#events.joined(name);
    return welcome;
  }

  leave(conn: C, reason: LeaveReason): void {
    const name = this.#names.get(conn);
    if (name === undefined) return;
    this.#names.delete(conn);
    this.#directory.unregister(name);
    this.#events.left(name, reason);
    for (const pending of this.#relay.recipientLeft(name)) {
      this.#events.outcome(pending.sender, pending.requestId, {
        ok: false,
        code: "PEER_OFFLINE",
        message: `Message to "${name}" not confirmed: they left before receiving it`,
      });
    }
  }

  lookup(name: string): PeerKeys | undefined {
    return this.#directory.lookup(name);
  }

  send(sender: C, message: { requestId: number; to: string; body: Uint8Array }): void {
    const from = this.#names.get(sender);
    if (from === undefined) throw notRegistered();
    const { to } = message;
    const recipient = this.#directory.get(to);
    if (recipient === undefined) {
      throw this.#directory.lookup(to) !== undefined ? peerOffline(to) : unknownPeer(to);
    }
    const rid = this.#relay.accept({ sender, from, requestId: message.requestId, to });
    this.#events.deliver(recipient.conn, { rid, from, body: message.body });
  }

  receipt(by: C, receipt: { rid: string; ok: boolean; code?: ErrorCode }): void {
    const name = this.#names.get(by);
    if (name === undefined) return;
    const outcome = this.#relay.receipt(receipt.rid, {
      by: name,
      ok: receipt.ok,
      code: receipt.code,
    });
    if (outcome === undefined) return;
    this.#events.outcome(
      outcome.sender,
      outcome.requestId,
      outcome.ok
        ? { ok: true, to: outcome.to }
        : { ok: false, code: outcome.code, message: outcome.message },
    );
  }

  release(name: string): Promise<boolean> {
    const existed = this.#forgetBinding(name);
    if (existed) this.#saver?.request();
    return Promise.resolve(existed);
  }

  tick(): void {
    this.#saver?.refresh();
  }

  async close(): Promise<void> {
    await this.#saver?.flush();
  }

  #indexBinding(name: string, key: string, lookalikes = this.#lookalikesOf(name)) {
    for (const lookalike of lookalikes) {
      if (!this.#lookalikes.has(lookalike)) this.#lookalikes.set(lookalike, key);
    }
    let names = this.#byKey.get(key);
    if (names === undefined) this.#byKey.set(key, names = new Set());
    names.add(name);
  }

  #forgetBinding(name: string): boolean {
    const key = this.#directory.bindings.get(name);
    if (key === undefined) return false;
    this.#directory.release(name);
    const names = this.#byKey.get(key);
    names?.delete(name);
    if (names?.size === 0) this.#byKey.delete(key);
    // Another name of the same key may share a look-alike key: keep those owned.
    const kept = new Set([...(names ?? [])].flatMap((other) => this.#lookalikesOf(other)));
    for (const lookalike of this.#lookalikesOf(name)) {
      if (!kept.has(lookalike) && this.#lookalikes.get(lookalike) === key) {
        this.#lookalikes.delete(lookalike);
      }
    }
    return true;
  }
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

/** `NAME_CONFUSABLE`: the name looks like one bound to another key. */
export function nameConfusable(name: string): PeerstreamError {
  return new PeerstreamError(
    "NAME_CONFUSABLE",
    `Cannot register "${name}": it looks like a name that belongs to another key; choose a name that looks different`,
  );
}

/** `NAME_LIMIT`: the key has bound too many names. */
export function nameLimit(name: string, limit: number): PeerstreamError {
  return new PeerstreamError(
    "NAME_LIMIT",
    `Cannot register "${name}": this key already has ${limit} names; use one of them`,
  );
}

/** `UNKNOWN_PEER`. */
export function unknownPeer(to: string): PeerstreamError {
  return new PeerstreamError(
    "UNKNOWN_PEER",
    `Cannot send to "${to}": no such peer; run WHO to see who is online`,
  );
}

/** `PEER_OFFLINE`. */
export function peerOffline(to: string): PeerstreamError {
  return new PeerstreamError("PEER_OFFLINE", `Cannot send to "${to}": they are offline`);
}

/** `NOT_REGISTERED`: a connection without a name tried to send. */
export function notRegistered(): PeerstreamError {
  return new PeerstreamError("NOT_REGISTERED", 'Cannot send: register first with "hello"');
}
