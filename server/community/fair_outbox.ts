/**
 * What a recipient's connection is given of the messages relayed to it: a small window at a time,
 * the rest held here, released fairly between senders. Without it every relayed message went
 * straight into the connection's queue, so one sender's backlog sat in front of every other
 * sender's first message (20 colluders made an honest message wait 1.5 s). Pure: the caller
 * writes what it returns.
 *
 * The rule: while the window (bytes and messages sent but not yet confirmed by a receipt) has
 * room, release the next message of the sender with the fewest messages in flight, between
 * equals the one served longest ago (a newcomer first). Each sender's own messages keep their
 * order. The relay's budgets bound what is held.
 * @module
 */

/** One relayed message. */
export interface OutboxItem {
  /** The relay id, which the recipient's receipt names. */
  rid: string;
  /** The sender's name: fairness is between senders. */
  from: string;
  /** What it costs the window, bytes. */
  bytes: number;
}

/** The window of a {@linkcode FairOutbox}. */
export interface OutboxWindow {
  /** Bytes sent and unconfirmed at most (one message always goes, however large). */
  bytes: number;
  /** Messages sent and unconfirmed at most. */
  messages: number;
}

interface Sender<T> {
  queue: T[];
  inFlight: number;
  /** When it was last served (a counter); newcomers are -1. */
  servedAt: number;
}

/** The per-recipient fair queue. */
export class FairOutbox<T extends OutboxItem> {
  readonly #window: OutboxWindow;
  readonly #senders = new Map<string, Sender<T>>();
  readonly #inFlight = new Map<string, T>();
  #inFlightBytes = 0;
  #queued = 0;
  #served = 0;

  /** @param window The window. */
  constructor(window: OutboxWindow) {
    this.#window = window;
  }

  /** Messages held back. */
  get queued(): number {
    return this.#queued;
  }

  /** Messages sent and unconfirmed. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Whether a message is sent and awaits its receipt.
   *
   * @param rid The relay id.
   */
  holds(rid: string): boolean {
    return this.#inFlight.has(rid);
  }

  /**
   * Takes a message relayed to this recipient.
   *
   * @param item The message.
   * @returns The messages to send now, in order (this one, or none, or others first).
   */
  push(item: T): T[] {
    let sender = this.#senders.get(item.from);
    if (sender === undefined) {
      sender = { queue: [], inFlight: 0, servedAt: -1 };
      this.#senders.set(item.from, sender);
    }
    sender.queue.push(item);
    this.#queued++;
    return this.#release();
  }

  /**
   * Notes the recipient's receipt for a message: its place in the window is free.
   *
   * @param rid The relay id; one not in flight here is ignored.
   * @returns The messages to send now.
   */
  confirm(rid: string): T[] {
    const item = this.#inFlight.get(rid);
    if (item === undefined) return [];
    this.#inFlight.delete(rid);
    this.#inFlightBytes -= item.bytes;
    const sender = this.#senders.get(item.from);
    if (sender !== undefined) {
      sender.inFlight--;
      if (sender.inFlight === 0 && sender.queue.length === 0) this.#senders.delete(item.from);
    }
    return this.#release();
  }

  #release(): T[] {
    const out: T[] = [];
    while (this.#queued > 0 && this.#hasRoom()) {
      const sender = this.#next();
      const item = sender.queue.shift()!;
      this.#queued--;
      sender.inFlight++;
      sender.servedAt = this.#served++;
      this.#inFlight.set(item.rid, item);
      this.#inFlightBytes += item.bytes;
      out.push(item);
    }
    return out;
  }

  #hasRoom(): boolean {
    if (this.#inFlight.size === 0) return true;
    return this.#inFlight.size < this.#window.messages && this.#inFlightBytes < this.#window.bytes;
  }

  /** The sender with a message waiting, fewest in flight, then served longest ago. */
  #next(): Sender<T> {
    let best: Sender<T> | undefined;
    for (const sender of this.#senders.values()) {
      if (sender.queue.length === 0) continue;
      if (
        best === undefined || sender.inFlight < best.inFlight ||
        (sender.inFlight === best.inFlight && sender.servedAt < best.servedAt)
      ) {
        best = sender;
      }
    }
    return best!;
  }
}
