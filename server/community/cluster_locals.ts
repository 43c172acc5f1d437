/**
 * A cluster node's own peers (name, connection, keys) and the keys of peers seen leaving lately,
 * so that `key-info` and `send` can tell an offline name from an unknown one.
 * @module
 */

import type { PublicKeysText } from "../../protocol/e2e.ts";
import type { SyncEntry } from "./cluster_heartbeat.ts";

/** A peer registered on this node. */
export interface LocalPeer<C> {
  /** The server's handle for its connection. */
  conn: C;
  /** The keys it registered with. */
  keys: PublicKeysText;
  /** Its name's look-alike keys. */
  lookalikes: string[];
  /** Whether it holds its name only while connected. */
  ephemeral: boolean;
}

/** Names whose keys are remembered after they left, at most. */
export const RECENT_LIMIT = 10_000;

/** The peers of one node, by name and by connection, and the keys of those who left lately. */
export class LocalPeers<C> {
  readonly #byName = new Map<string, LocalPeer<C>>();
  readonly #byConn = new Map<C, string>();
  readonly #recent = new Map<string, PublicKeysText>();

  /** Peers online here. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * A local peer.
   *
   * @param name The name.
   * @returns The peer, or undefined when it is not on this node.
   */
  get(name: string): LocalPeer<C> | undefined {
    return this.#byName.get(name);
  }

  /**
   * The name a connection registered.
   *
   * @param conn The connection.
   * @returns The name, or undefined.
   */
  nameOf(conn: C): string | undefined {
    return this.#byConn.get(conn);
  }

  /** Names online here. */
  names(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * Adds a peer that joined here (it is no longer "left lately").
   *
   * @param name The name.
   * @param peer Its connection, keys and options.
   */
  add(name: string, peer: LocalPeer<C>): void {
    this.#byName.set(name, peer);
    this.#byConn.set(peer.conn, name);
    this.#recent.delete(name);
  }

  /**
   * Removes a peer that left here, remembering its keys.
   *
   * @param name The name.
   * @returns The peer, or undefined when it was not here.
   */
  remove(name: string): LocalPeer<C> | undefined {
    const peer = this.#byName.get(name);
    if (peer === undefined) return undefined;
    this.#byName.delete(name);
    this.#byConn.delete(peer.conn);
    this.remember(name, peer.keys);
    return peer;
  }

  /** This node's peers as `SYNC` takes them. */
  syncEntries(): SyncEntry[] {
    return [...this.#byName].map(([name, p]) => ({
      name,
      encKey: p.keys.encKey,
      signKey: p.keys.signKey,
      eph: p.ephemeral ? 1 : 0,
      skel: p.lookalikes,
    }));
  }

  /**
   * The keys of a peer that left lately (here or elsewhere).
   *
   * @param name The name.
   * @returns Its keys, or undefined.
   */
  recent(name: string): PublicKeysText | undefined {
    return this.#recent.get(name);
  }

  /**
   * Forgets a name's keys (it is online again somewhere).
   *
   * @param name The name.
   */
  forget(name: string): void {
    this.#recent.delete(name);
  }

  /**
   * Remembers the keys of a peer that left, the newest {@linkcode RECENT_LIMIT} kept.
   *
   * @param name The name.
   * @param keys Its keys.
   */
  remember(name: string, keys: PublicKeysText): void {
    this.#recent.delete(name);
    this.#recent.set(name, keys);
    if (this.#recent.size > RECENT_LIMIT) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }
}
