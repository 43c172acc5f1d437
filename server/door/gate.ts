/**
 * Who may come in: counts each new connection against the server's and its address's limits and
 * its address's connect rate, and when the server is full makes room by evicting a connection
 * still in its handshake, fairly between addresses (see `chooseEviction`), so that idle
 * unauthenticated connections cannot lock registered people out, and a flood from a few
 * addresses cannot lock out newcomers from others. Refusals are counted and logged,
 * rate-limited per address.
 * @module
 */

import type { ServerLimits } from "../limits.ts";
import type { ServerLog } from "../ops/server_log.ts";
import type { ServerStats } from "../ops/server_stats.ts";
import { addressGroup } from "./address_group.ts";
import { type Admission, type Admit, chooseEviction, type EvictionCandidate } from "./admission.ts";
import type { Arriving } from "./tcp_door.ts";

/** A connection that may be evicted to make room, and how. */
export interface Evictable extends EvictionCandidate {
  /** Closes it and frees its slot at once. */
  drop: () => void;
}

/** Options for {@linkcode Gate}. */
export interface GateOptions {
  /** The counts and rates. */
  admission: Admission;
  /** The connection limits, for the log. */
  limits: Pick<
    ServerLimits,
    "maxConnections" | "maxConnectionsPerAddress" | "connectsPerAddressPerSecond"
  >;
  /** Counts each refusal by the limit it hit. */
  stats: ServerStats;
  /** Where refusals go. */
  log: ServerLog;
  /** The connections still in their handshake that may be evicted now. */
  evictable: () => Iterable<Evictable>;
}

/** The server's admission, with fair eviction when full. */
export class Gate {
  readonly #options: GateOptions;

  /** @param options The counts, limits and evictable connections. */
  constructor(options: GateOptions) {
    this.#options = options;
  }

  /**
   * Counts a new connection, making room when the server is full.
   *
   * @param host The address it counts against; undefined to count it in all only.
   * @param who For the log; `now` when it was just accepted, to take a token of its connect rate.
   * @returns `ok`, or why it is refused (logged, rate-limited per address).
   */
  admit(host: string | undefined, who: Arriving): Admit {
    const admission = this.#options.admission;
    let verdict = host !== undefined && who.now !== undefined
      ? admission.enter(host, who.now)
      : admission.admit(host);
    if (verdict === "server-full" && this.#evictFairly()) verdict = admission.admit(host);
    if (verdict === "ok") return verdict;
    this.#options.stats.limit(
      verdict === "address-full"
        ? "connections_per_address"
        : verdict === "server-full"
        ? "connections"
        : "connects_per_address",
    );
    const code = verdict === "rate-limited" ? "RATE_LIMITED" : "SERVER_FULL";
    this.#options.log.limited(
      `refused ${addressGroup(host ?? "")}`,
      `refused #${who.id} ${who.remote}: ${code}: ${this.#why(verdict)}`,
      {
        event: "refused",
        level: "warn",
        fields: { id: who.id, remote: who.remote, code, reason: verdict },
      },
    );
    return verdict;
  }

  /**
   * Counts a connection accepted elsewhere (the web door) from its accept, making room as
   * {@linkcode Gate.admit} does; a refusal is logged, rate-limited per address.
   *
   * @param addr The client's address.
   * @returns Its release (idempotent), or undefined when refused.
   */
  admitConnection(addr: Deno.NetAddr): (() => void) | undefined {
    const admission = this.#options.admission;
    const host = addr.hostname;
    let verdict = admission.admit(host);
    if (verdict === "server-full" && this.#evictFairly()) verdict = admission.admit(host);
    if (verdict !== "ok") {
      this.#options.log.limited(
        `refused ${host}`,
        `refused web ${host}:${addr.port}: SERVER_FULL: ${this.#why(verdict)}`,
      );
      return undefined;
    }
    let counted = true;
    return () => {
      if (counted) admission.release(host);
      counted = false;
    };
  }

  #why(verdict: Exclude<Admit, "ok">): string {
    const limits = this.#options.limits;
    return verdict === "address-full"
      ? `${limits.maxConnectionsPerAddress} connections from this address`
      : verdict === "server-full"
      ? `${limits.maxConnections} connections`
      : `over ${limits.connectsPerAddressPerSecond} connects per second from this address`;
  }

  /**
   * Drops one connection still in its handshake (TLS, PROXY header or hello) and not verifying a
   * hello right now: from the address holding the most such connections, its oldest (see
   * `chooseEviction`). An honest client sends its hello as soon as it is greeted, so a connection
   * left idle there is a squatter.
   */
  #evictFairly(): boolean {
    const victim = chooseEviction(this.#options.evictable(), {
      admission: this.#options.admission,
      now: performance.now(),
    });
    victim?.drop();
    return victim !== undefined;
  }
}
