/**
 * The client's view of who is online, updated from `welcome`, `joined` and `left`. Pure.
 * @module
 */

/** Names online, in the order they arrived. */
export class PeerList {
  #names = new Set<string>();
  #me = "";

  /**
   * Starts over from a `welcome`.
   *
   * @param me The client's own name.
   * @param names The other peers online.
   */
  reset(me: string, names: readonly string[]): void {
    this.#me = me;
    this.#names = new Set(names.filter((n) => n !== me));
  }

  /** Records a join; returns false if the name was already listed. */
  joined(name: string): boolean {
    if (name === this.#me || this.#names.has(name)) return false;
    this.#names.add(name);
    return true;
  }

  /** Records a leave; returns false if the name was not listed. */
  left(name: string): boolean {
    return this.#names.delete(name);
  }

  /** How many other peers are online. */
  get size(): number {
    return this.#names.size;
  }

  /** Whether a peer is online. */
  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** The other peers online, sorted. */
  names(): string[] {
    return [...this.#names].sort((a, b) => a.localeCompare(b));
  }
}
