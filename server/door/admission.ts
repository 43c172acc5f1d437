/**
 * Who may connect and how fast: connections counted per address and in all, `hello`s and new
 * name bindings rate-limited per address. Pure: the caller gives the time.
 *
 * Behind a NAT or a load balancer every client shares one address, so per-address limits count
 * them together; such a server raises `maxConnectionsPerAddress` (the cluster issue adds the PROXY
 * protocol so that the real address is seen). Every budget is kept per address group (see
 * `address_group.ts`): an IPv6 client counts with its whole /64.
 * @module
 */

import { addressGroup } from "./address_group.ts";
import { KeyedBuckets, type ServerLimits } from "../limits.ts";

/** The limits {@linkcode Admission} applies. */
export type AdmissionLimits = Pick<
  ServerLimits,
  | "maxConnections"
  | "maxConnectionsPerAddress"
  | "connectsPerAddressPerSecond"
  | "connectBurstPerAddress"
  | "hellosPerAddressPerSecond"
  | "helloBurstPerAddress"
  | "newNamesPerAddressPerDay"
>;

/** Whether a new connection may stay. */
export type Admit = "ok" | "address-full" | "server-full" | "rate-limited";

const DAY_SECONDS = 24 * 3600;

/** Connection counts and per-address rates. */
export class Admission {
  readonly #limits: AdmissionLimits;
  #perAddress = new Map<string, number>();
  #total = 0;
  readonly #connects: KeyedBuckets<string>;
  readonly #hellos: KeyedBuckets<string>;
  readonly #newNames: KeyedBuckets<string>;

  /** @param limits The limits. */
  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
    this.#connects = new KeyedBuckets(limits.connectsPerAddressPerSecond, {
      burst: limits.connectBurstPerAddress,
    });
    this.#hellos = new KeyedBuckets(limits.hellosPerAddressPerSecond, {
      burst: limits.helloBurstPerAddress,
    });
    this.#newNames = new KeyedBuckets(limits.newNamesPerAddressPerDay / DAY_SECONDS, {
      burst: limits.newNamesPerAddressPerDay,
    });
  }

  /** Connections counted now. */
  get connections(): number {
    return this.#total;
  }

  /**
   * Connections counted from one address.
   *
   * @param host The address.
   * @returns The count.
   */
  connectionsFrom(host: string): number {
    return this.#perAddress.get(addressGroup(host)) ?? 0;
  }

  /**
   * Counts a new connection if the limits allow it.
   *
   * @param host The client's address; undefined to count it in all only (a trusted balancer's
   * connection, whose client's address is not known yet).
   * @returns `ok` (counted; call {@linkcode Admission.release} when it ends), or which limit is
   * reached.
   */
  admit(host: string | undefined): Admit {
    const from = host === undefined ? 0 : this.connectionsFrom(host);
    if (from >= this.#limits.maxConnectionsPerAddress) return "address-full";
    if (this.#total >= this.#limits.maxConnections) return "server-full";
    if (host === undefined) {
      this.#total++;
      return "ok";
    }
    this.#perAddress.set(addressGroup(host), from + 1);
    this.#total++;
    return "ok";
  }

  /**
   * Counts a connection just accepted: like {@linkcode Admission.admit}, but each connection an
   * address opens while it has room also takes one token of its connect rate, so that a
   * reconnect loop is refused (`rate-limited`) before it can make anyone else's slot its own.
   *
   * @param host The client's address.
   * @param now The current time, ms.
   * @returns `ok` (counted), or which limit is reached.
   */
  enter(host: string, now: number): Admit {
    if (this.connectionsFrom(host) >= this.#limits.maxConnectionsPerAddress) return "address-full";
    if (!this.#connects.take(addressGroup(host), now)) return "rate-limited";
    return this.admit(host);
  }

  /**
   * How much of its connect burst an address has left: a reconnect loop has none.
   *
   * @param host The address.
   * @param now The current time, ms.
   * @returns Tokens, fractional.
   */
  connectTokens(host: string, now: number): number {
    return this.#connects.tokens(addressGroup(host), now);
  }

  /**
   * Uncounts a connection that {@linkcode Admission.admit} counted.
   *
   * @param host The client's address, as given to `admit`.
   */
  release(host: string | undefined): void {
    if (host === undefined) {
      if (this.#total > 0) this.#total--;
      return;
    }
    const from = this.connectionsFrom(host);
    if (from === 0) return;
    if (from === 1) this.#perAddress.delete(addressGroup(host));
    else this.#perAddress.set(addressGroup(host), from - 1);
    this.#total--;
  }

  /**
   * Takes one `hello` from an address's budget.
   *
   * @param host The address.
   * @param now The current time, ms.
   * @returns False when the address sends hellos too fast.
   */
  takeHello(host: string, now: number): boolean {
    return this.#hellos.take(addressGroup(host), now);
  }

  /**
   * Takes one new name binding from an address's daily budget.
   *
   * @param host The address.
   * @param now The current time, ms.
   * @returns False when the address made too many names lately.
   */
  takeNewName(host: string, now: number): boolean {
    return this.#newNames.take(addressGroup(host), now);
  }

  /**
   * Forgets addresses whose budgets are full again, so that memory follows recent activity.
   *
   * @param now The current time, ms.
   */
  prune(now: number): void {
    this.#connects.prune(now);
    this.#hellos.prune(now);
    this.#newNames.prune(now);
  }
}

/** A connection that could make room: one still in its handshake. */
export interface EvictionCandidate {
  /** Its address. */
  host: string;
  /** When it connected (ms). */
  since: number;
}

/**
 * Which handshaking connection makes room when the server is full, fairly between addresses: one
 * of the address group holding the most of them, so that no address keeps more than its share of
 * the handshake slots; between groups holding as many, the one that spent most of its connect
 * burst (a reconnect loop before a newcomer); within the group, its oldest.
 *
 * @param candidates Connections still in their handshake and not being verified.
 * @param options The admission (for connect tokens) and the time.
 * @returns The one to drop, or undefined when there is none.
 */
export function chooseEviction<T extends EvictionCandidate>(
  candidates: Iterable<T>,
  options: { admission: Admission; now: number },
): T | undefined {
  const groups = new Map<string, T[]>();
  for (const candidate of candidates) {
    const key = addressGroup(candidate.host);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [candidate]);
    else group.push(candidate);
  }
  let best: { size: number; tokens: number; oldest: T } | undefined;
  for (const members of groups.values()) {
    const tokens = options.admission.connectTokens(members[0].host, options.now);
    const oldest = members.reduce((a, b) => (b.since < a.since ? b : a));
    const size = members.length;
    if (
      best === undefined || size > best.size ||
      (size === best.size &&
        (tokens < best.tokens || (tokens === best.tokens && oldest.since < best.oldest.since)))
    ) {
      best = { size, tokens, oldest };
    }
  }
  return best?.oldest;
}
