/**
 * Which queued receipts are room members' (issue 20): a member the server queued a room message
 * for confirms it later as `delivered` with their `qseq` and no room, like a 1:1 message. The
 * `room-sent` answer names each queued member's `qseq` (in a cluster a member on another node
 * found offline comes later, as `queued` with the room-send's id); kept here, the router turns
 * that receipt into the room message's (`SessionEvents.roomDelivered`). Only for this
 * connection: a receipt that comes after a reconnect is shown as a 1:1 one.
 * @module
 */

/** Most queued room receipts awaited; the oldest is forgotten past it. */
export const MAX_QUEUED_ROOM_RECEIPTS = 1_000;

/** The `room-send` ids of queued room messages, by recipient and `qseq`. */
export class QueuedRoomSends {
  readonly #re = new Map<string, number>();
  readonly #limit: number;

  /** @param limit Most receipts awaited. */
  constructor(limit: number = MAX_QUEUED_ROOM_RECEIPTS) {
    this.#limit = limit;
  }

  /**
   * A room message was queued for a member.
   *
   * @param re The `room-send` request's id.
   * @param queued The member and their `qseq`.
   */
  add(re: number, queued: { name: string; qseq: number }): void {
    this.#re.set(key(queued.name, queued.qseq), re);
    while (this.#re.size > this.#limit) this.#re.delete(this.#re.keys().next().value!);
  }

  /**
   * Takes the room message a queued receipt is for, if it is one.
   *
   * @param to The recipient.
   * @param qseq Its place in their queue.
   * @returns The `room-send` id, or undefined for a 1:1 message's receipt.
   */
  take(to: string, qseq: number): number | undefined {
    const k = key(to, qseq);
    const re = this.#re.get(k);
    this.#re.delete(k);
    return re;
  }
}

function key(name: string, qseq: number): string {
  return `${qseq} ${name}`;
}
