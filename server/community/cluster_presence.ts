/**
 * One node's copy of who is online on the other nodes, kept from presence events and snapshots,
 * and what to announce to local clients as it changes. Pure: the caller feeds it what Redis said
 * and sends the announcements it returns.
 *
 * Events carry Redis's sequence number: one already covered by a snapshot is skipped, and a jump
 * means something was missed (the caller then takes a snapshot). While this node cannot reach
 * Redis, the others' peers are marked unreachable, not gone; after it reconnects, a snapshot marks
 * the ones still there reachable again, announces joins and leaves that happened meanwhile once
 * each, and keeps peers of nodes that have not come back yet unreachable until
 * {@linkcode PresenceReplica.expire} (after a grace period) announces them gone.
 * @module
 */

import type { PublicKeysText } from "../../protocol/e2e.ts";
import type { LeaveReason, PeerReachability } from "../../protocol/messages.ts";
import type { PresenceEntry, PresenceEvent } from "./cluster_wire.ts";

/** What to tell local clients. */
export type Announcement =
  | { kind: "joined"; name: string }
  | { kind: "left"; name: string; reason: LeaveReason; keys?: PublicKeysText }
  | { kind: "peer-state"; names: string[]; state: PeerReachability };

/** A peer online on another node. */
export interface RemotePeer {
  /** The node holding its connection. */
  node: string;
  /** Its public keys. */
  keys: PublicKeysText;
  /** Whether its node can be reached now. */
  reachable: boolean;
}

/** A full read of the presence table. */
export interface PresenceSnapshot {
  /** The last sequence number the table reflects. */
  seq: number;
  /** Everyone online, on every node (this node's entries are skipped). */
  entries: PresenceEntry[];
  /** Nodes whose heartbeat is alive and that listen on their channel now. */
  liveNodes: string[];
}

/** Remote presence as one node sees it. */
export class PresenceReplica {
  readonly #self: string;
  readonly #peers = new Map<string, RemotePeer>();
  #applied = 0;
  #held: PresenceEvent[] | null = null;
  #gap = false;
  #reaped = false;

  /** @param self This node's name; its own entries are the caller's business. */
  constructor(self: string) {
    this.#self = self;
  }

  /** Whether an event was missed since the last snapshot: take a new one. */
  get gap(): boolean {
    return this.#gap;
  }

  /** Whether the cluster declared this node gone (it was cut off too long): resynchronise. */
  get reaped(): boolean {
    return this.#reaped;
  }

  /** How many remote peers are known. */
  get size(): number {
    return this.#peers.size;
  }

  /**
   * Forgets a remote peer without announcing it: the name is online on this node now (its leave
   * elsewhere may still be on its way).
   *
   * @param name The name.
   */
  forget(name: string): void {
    this.#peers.delete(name);
  }

  /**
   * A remote peer.
   *
   * @param name The name.
   * @returns Where it is, or undefined.
   */
  get(name: string): RemotePeer | undefined {
    return this.#peers.get(name);
  }

  /**
   * Remote peers by reachability, for `welcome`.
   *
   * @returns The names.
   */
  names(): { reachable: string[]; unreachable: string[] } {
    const reachable: string[] = [];
    const unreachable: string[] = [];
    for (const [name, peer] of this.#peers) (peer.reachable ? reachable : unreachable).push(name);
    return { reachable, unreachable };
  }

  /** Holds events back until the snapshot being taken arrives. */
  hold(): void {
    this.#held ??= [];
  }

  /** Drops the events held for a snapshot that could not be taken; the next one covers them. */
  unhold(): void {
    this.#held = null;
  }

  /**
   * Applies one presence event.
   *
   * @param event The event.
   * @returns What to announce.
   */
  apply(event: PresenceEvent): Announcement[] {
    if (this.#held !== null) {
      this.#held.push(event);
      return [];
    }
    if (event.seq <= this.#applied) return [];
    if (event.seq > this.#applied + 1) this.#gap = true;
    this.#applied = event.seq;
    const out: Announcement[] = [];
    switch (event.t) {
      case "join":
        if (event.entry.node !== this.#self) this.#upsert(event.entry, out);
        break;
      case "leave":
        if (event.node !== this.#self) this.#remove(event.name, event.node, event.reason, out);
        break;
      case "gone":
        if (event.node === this.#self) this.#reaped = true;
        for (const name of event.names) this.#remove(name, event.node, "disconnected", out);
        break;
      case "sync": {
        if (event.node === this.#self) break;
        const names = new Set(event.entries.map((e) => e.name));
        for (const [name, peer] of this.#peers) {
          if (peer.node === event.node && !names.has(name)) {
            this.#remove(name, event.node, "disconnected", out);
          }
        }
        for (const entry of event.entries) this.#upsert(entry, out);
        break;
      }
    }
    return merge(out);
  }

  /**
   * This node lost Redis: every remote peer becomes unreachable.
   *
   * @returns The announcement (none when there were no reachable peers).
   */
  lost(): Announcement[] {
    const names: string[] = [];
    for (const [name, peer] of this.#peers) {
      if (peer.reachable) {
        peer.reachable = false;
        names.push(name);
      }
    }
    return names.length > 0 ? [{ kind: "peer-state", names, state: "unreachable" }] : [];
  }

  /**
   * Applies a full read of the presence table, then the events held since {@linkcode hold}.
   * Peers missing from it whose node is alive have left; those listed or not whose node is not
   * alive stay (or become) unreachable until their node comes back or {@linkcode expire} is
   * called.
   *
   * @param snapshot The table.
   * @returns What to announce.
   */
  snapshot(snapshot: PresenceSnapshot): Announcement[] {
    const out: Announcement[] = [];
    this.#applied = snapshot.seq;
    this.#gap = false;
    this.#reaped = false;
    const live = new Set(snapshot.liveNodes);
    const present = new Set<string>();
    const lost: string[] = [];
    for (const entry of snapshot.entries) {
      if (entry.node === this.#self) continue;
      present.add(entry.name);
      if (live.has(entry.node)) {
        this.#upsert(entry, out);
        continue;
      }
      // Listed, but its node is not back yet: unreachable until it is (or the grace ends).
      const known = this.#peers.get(entry.name);
      if (known === undefined) this.#upsert(entry, out);
      const peer = this.#peers.get(entry.name)!;
      if (peer.reachable) lost.push(entry.name);
      peer.reachable = false;
    }
    for (const [name, peer] of this.#peers) {
      if (present.has(name)) continue;
      if (live.has(peer.node)) {
        this.#remove(name, peer.node, "disconnected", out);
      } else if (peer.reachable) {
        peer.reachable = false;
        lost.push(name);
      }
    }
    if (lost.length > 0) out.push({ kind: "peer-state", names: lost, state: "unreachable" });
    const held = this.#held ?? [];
    this.#held = null;
    for (const event of held) out.push(...this.apply(event));
    return merge(out);
  }

  /**
   * Gives up on unreachable peers: their node did not come back within the grace period.
   *
   * @returns Their leaves.
   */
  expire(): Announcement[] {
    const out: Announcement[] = [];
    for (const [name, peer] of this.#peers) {
      if (!peer.reachable) this.#remove(name, peer.node, "disconnected", out);
    }
    return out;
  }

  #upsert(entry: PresenceEntry, out: Announcement[]) {
    const peer = this.#peers.get(entry.name);
    const keys = { encKey: entry.encKey, signKey: entry.signKey };
    if (peer === undefined) {
      this.#peers.set(entry.name, { node: entry.node, keys, reachable: true });
      out.push({ kind: "joined", name: entry.name });
      return;
    }
    if (!peer.reachable) out.push({ kind: "peer-state", names: [entry.name], state: "reachable" });
    peer.node = entry.node;
    peer.keys = keys;
    peer.reachable = true;
  }

  #remove(name: string, node: string, reason: LeaveReason, out: Announcement[]) {
    const peer = this.#peers.get(name);
    if (peer?.node !== node) return;
    this.#peers.delete(name);
    out.push({ kind: "left", name, reason, keys: peer.keys });
  }
}

/** Folds consecutive peer-state announcements of one state into one. */
function merge(announcements: Announcement[]): Announcement[] {
  const out: Announcement[] = [];
  for (const a of announcements) {
    const last = out.at(-1);
    if (a.kind === "peer-state" && last?.kind === "peer-state" && last.state === a.state) {
      last.names.push(...a.names);
    } else {
      out.push(a.kind === "peer-state" ? { ...a, names: [...a.names] } : a);
    }
  }
  return out;
}
