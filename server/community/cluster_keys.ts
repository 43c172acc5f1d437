/**
 * Whose keys a cluster node can tell: a peer online here or on another node, one seen leaving
 * lately, or a bound name offline since before this node started (its keys as kept in Redis since
 * its last join, `BOUND_KEYS`).
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { quoted } from "../../protocol/text.ts";
import type { LocalPeers } from "./cluster_locals.ts";
import type { PresenceReplica } from "./cluster_presence.ts";
import { parseBoundKeys } from "./cluster_queue_wire.ts";
import { BOUND_KEYS } from "./cluster_scripts.ts";
import { errorText, type PeerKeys } from "./community.ts";
import type { RedisLink } from "./redis_link.ts";

/** Options for {@linkcode ClusterKeys}. */
export interface ClusterKeysOptions<C> {
  /** The key prefix. */
  prefix: string;
  /** This node's peers and those seen leaving lately. */
  locals: LocalPeers<C>;
  /** The other nodes' peers. */
  replica: PresenceReplica;
  /** The link as it is now. */
  link: () => RedisLink;
  /** The server log. */
  log: (line: string) => void;
}

/** A cluster node's answers to "what are this name's keys". */
export class ClusterKeys<C> {
  readonly #options: ClusterKeysOptions<C>;

  /** @param options The node's peers, the replica and the link. */
  constructor(options: ClusterKeysOptions<C>) {
    this.#options = options;
  }

  /**
   * A peer's keys as this node knows them, at once.
   *
   * @param name The normalized name.
   * @returns The keys and whether the peer is online, or undefined.
   */
  lookup(name: string): PeerKeys | undefined {
    const { locals, replica } = this.#options;
    const local = locals.get(name);
    if (local !== undefined) return { keys: local.keys, online: true };
    const remote = replica.get(name);
    if (remote !== undefined) return { keys: remote.keys, online: true };
    const keys = locals.recent(name);
    return keys === undefined ? undefined : { keys, online: false };
  }

  /**
   * A peer's keys, asking Redis for a bound name this node does not know; remembered then.
   *
   * @param name The normalized name.
   * @returns The keys, or undefined for a name that is not bound.
   * @throws {PeerstreamError} `UNAVAILABLE` when Redis cannot be reached.
   */
  async find(name: string): Promise<PeerKeys | undefined> {
    const known = this.lookup(name);
    if (known !== undefined) return known;
    const { link, prefix, locals } = this.#options;
    let keys;
    try {
      keys = parseBoundKeys(await link().run(BOUND_KEYS, [prefix, name]));
    } catch (error) {
      this.#options.log(`cluster: cannot look up the keys of a name: ${errorText(error)}`);
      throw new PeerstreamError(
        "UNAVAILABLE",
        `Cannot look up ${quoted(name)}: the cluster cannot be reached now; try again shortly`,
      );
    }
    // Online meanwhile: what the presence says wins.
    if (keys === undefined || this.lookup(name) !== undefined) return this.lookup(name);
    locals.remember(name, keys);
    return { keys, online: false };
  }
}
