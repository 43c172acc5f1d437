/**
 * A cluster node's claims of names: the `JOIN` script (asked again with leave to bind when a new
 * binding is due and the node's per-address budget allows it), its refusals, and the connections
 * that closed while Redis answered.
 * @module
 */

import { quoted } from "../../protocol/text.ts";
import type { ClusterLimits } from "./cluster_config.ts";
import { asList } from "./cluster_heartbeat.ts";
import { throwRefusal, unavailable } from "./cluster_refusals.ts";
import { JOIN } from "./cluster_scripts.ts";
import { errorText, type JoinRequest, nameLimit } from "./community.ts";
import type { RedisLink } from "./redis_link.ts";

/** Options for {@linkcode ClusterClaims}. */
export interface ClusterClaimsOptions {
  /** The key prefix. */
  prefix: string;
  /** This node's name. */
  node: string;
  /** This instance's id (its heartbeat's value). */
  inst: string;
  /** The cluster's limits. */
  limits: ClusterLimits;
  /** The link as it is now. */
  link: () => RedisLink;
  /** The server log. */
  log: (line: string) => void;
  /** Says (rate-limited) that a script found corrupt state; returns what it found. */
  corrupt: (reply: readonly unknown[], effect: string) => string;
  /** Takes the node down. */
  down: (cause: string) => void;
}

/** What a claim came to. */
export interface Claim {
  /** Whether it bound the name to the key for the first time. */
  newBinding: boolean;
  /** Whether the connection closed while Redis answered (the name is online in Redis anyway). */
  cancelled: boolean;
  /** Whether messages or notices wait for the name in its offline queue. */
  queued: boolean;
}

/** Names claimed through Redis for this node's joining connections. */
export class ClusterClaims<C> {
  readonly #options: ClusterClaimsOptions;
  readonly #joining = new Set<C>();
  readonly #cancelled = new Set<C>();

  /** @param options The node, its link, limits and log. */
  constructor(options: ClusterClaimsOptions) {
    this.#options = options;
  }

  /**
   * Claims a name for a key and puts it online on this node.
   *
   * @param request The checked join request.
   * @returns Whether the binding is new, and whether the connection left meanwhile.
   * @throws {PeerstreamError} The refusal (`NAME_TAKEN`, `NAME_CONFUSABLE`, `NAME_LIMIT`), or
   * `UNAVAILABLE` when Redis fails.
   */
  async claim<R extends C>(request: JoinRequest<R>): Promise<Claim> {
    const { name, conn } = request;
    this.#joining.add(conn);
    let reply: unknown[];
    let cancelled = false;
    try {
      reply = await this.#run(request, false);
      // A new binding spends the node's per-address budget: ask only when one is due.
      if (reply[0] === "NEEDBIND") {
        if (request.canBind !== undefined && !request.canBind()) throw nameLimit(name, "address");
        reply = await this.#run(request, true);
      }
    } finally {
      this.#joining.delete(conn);
      cancelled = this.#cancelled.delete(conn);
    }
    const { limits, corrupt, down } = this.#options;
    throwRefusal(name, reply, { limits, corrupt, down });
    return { newBinding: Number(reply[1]) === 1, cancelled, queued: Number(reply[2]) === 1 };
  }

  /**
   * Marks a connection whose join is in flight as gone.
   *
   * @param conn The connection.
   * @returns Whether it had a join in flight.
   */
  cancel(conn: C): boolean {
    if (!this.#joining.has(conn)) return false;
    this.#cancelled.add(conn);
    return true;
  }

  /** Runs `JOIN`; a Redis failure is `UNAVAILABLE`. */
  async #run(request: JoinRequest<C>, mayBind: boolean): Promise<unknown[]> {
    const { prefix, node, inst, limits } = this.#options;
    try {
      return asList(
        await this.#options.link().run(JOIN, [
          prefix,
          node,
          inst,
          request.name,
          JSON.stringify(request.lookalikes),
          request.keys.encKey,
          request.keys.signKey,
          request.ephemeral ? "1" : "0",
          String(limits.maxNamesPerKey),
          String(limits.maxNames),
          mayBind ? "1" : "0",
        ]),
      );
    } catch (error) {
      this.#options.log(`cluster: cannot register ${quoted(request.name)}: ${errorText(error)}`);
      throw unavailable();
    }
  }
}
