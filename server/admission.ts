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
import { KeyedBuckets, type ServerLimits } from "./limits.ts";

/** The limits {@linkcode Admission} applies. */
export type AdmissionLimits = Pick<
  ServerLimits,
  | "maxConnections"
  | "maxConnectionsPerAddress"
  | "hellosPerAddressPerSecond"
  | "helloBurstPerAddress"
  | "newNamesPerAddressPerDay"
>;

/** Whether a new connection may stay. */
export type Admit = "ok" | "address-full" | "server-full";

const DAY_SECONDS = 24 * 3600;

/** Connection counts and per-address rates. */
export class Admission {
  readonly #limits: AdmissionLimits;
  #perAddress = new Map<string, number>();
  #total = 0;
  readonly #hellos: KeyedBuckets<string>;
  readonly #newNames: KeyedBuckets<string>;

  /** @param limits The limits. */
  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
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
    this.#hellos.prune(now);
    this.#newNames.prune(now);
  }
}
