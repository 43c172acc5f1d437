/**
 * Unread messages per peer while someone watches or talks to another peer, and the tab's title
 * that shows them. Pure: the page tells it where the person is looking.
 * @module
 */

/** Whether a person is reading the conversation with a peer right now. */
export interface Attention {
  /** The peer chosen in "To". */
  selected: string;
  /** The tab is in the background. */
  hidden: boolean;
  /** The player fills the screen. */
  fullscreen: boolean;
}

/** Unread messages per peer. */
export class UnreadCounts {
  readonly #counts = new Map<string, number>();

  /**
   * Counts a message from a peer, unless its conversation is being read.
   *
   * @param from The sender.
   * @param attention Where the person is looking.
   * @returns Whether it counted.
   */
  received(from: string, attention: Attention): boolean {
    const reading = attention.selected === from && !attention.hidden && !attention.fullscreen;
    if (reading) return false;
    this.#counts.set(from, (this.#counts.get(from) ?? 0) + 1);
    return true;
  }

  /**
   * Marks a peer's messages read.
   *
   * @param name The peer.
   * @returns Whether any were unread.
   */
  read(name: string): boolean {
    return this.#counts.delete(name);
  }

  /**
   * Unread messages from a peer.
   *
   * @param name The peer.
   * @returns The count.
   */
  of(name: string): number {
    return this.#counts.get(name) ?? 0;
  }

  /** Unread messages from everyone. */
  get total(): number {
    let n = 0;
    for (const count of this.#counts.values()) n += count;
    return n;
  }
}

/**
 * The tab's title with the unread count first, as mail and chat apps do.
 *
 * @param total Unread messages.
 * @returns For example `(3) peerstream`.
 */
export function pageTitle(total: number): string {
  return total > 0 ? `(${total}) peerstream` : "peerstream";
}
