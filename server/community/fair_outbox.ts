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
 *
 * A message released and not confirmed within the receipt deadline, while the recipient confirmed
 * nothing else for as long, is taken out of the window by {@linkcode FairOutbox.overdue} (issue
 * 16): a recipient's client that stops confirming cannot hold its window, and its senders'
 * messages, for good; one that is slow but still confirming keeps them. The caller gives the time; nothing here reads
 * a clock.
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

/** What {@linkcode FairOutbox.overdue} took out of the window. */
export interface Overdue<T> {
  /** The messages released and not confirmed in time, oldest first: no longer in flight. */
  late: T[];
  /** The messages to send now, in the places they freed. */
  released: T[];
}

interface InFlight<T> {
  item: T;
  /** When it was released, ms. */
  at: number;
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
  /** In release order. */
  readonly #inFlight = new Map<string, InFlight<T>>();
  #inFlightBytes = 0;
  /** When the recipient last confirmed a message in flight, ms; -Infinity before its first. */
  #confirmedAt = -Infinity;
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
   * @param now The time, ms: what is released now is due back by now plus the receipt deadline.
   * @returns The messages to send now, in order (this one, or none, or others first).
   */
  push(item: T, now: number): T[] {
    let sender = this.#senders.get(item.from);
    if (sender === undefined) {
      sender = { queue: [], inFlight: 0, servedAt: -1 };
      this.#senders.set(item.from, sender);
    }
    sender.queue.push(item);
    this.#queued++;
    return this.#release(now);
  }

  /**
   * Notes the recipient's receipt for a message: its place in the window is free.
   *
   * @param rid The relay id; one not in flight here (never sent, confirmed, or overdue) is ignored.
   * @param now The time, ms.
   * @returns The messages to send now.
   */
  confirm(rid: string, now: number): T[] {
    if (!this.#remove(rid)) return [];
    this.#confirmedAt = now;
    return this.#release(now);
  }

  /**
   * Takes out of the window the messages released at least `maxMs` ago and still unconfirmed, as
   * if refused, and releases the next ones in their places, once the recipient has confirmed
   * nothing for `maxMs` either. A receipt for one of them later is ignored here.
   *
   * @param now The time, ms.
   * @param maxMs The receipt deadline, ms.
   * @returns The late messages and the messages to send now.
   */
  overdue(now: number, maxMs: number): Overdue<T> {
    const late: T[] = [];
    // A recipient still confirming is slow, not silent (a loaded client opening a backlog): none
    // of its messages is late while its last receipt is recent.
    if (now - this.#confirmedAt < maxMs) return { late, released: [] };
    for (const [rid, { item, at }] of this.#inFlight) {
      // In release order: the first one in time means the rest are too.
      if (now - at < maxMs) break;
      this.#remove(rid);
      late.push(item);
    }
    return { late, released: late.length === 0 ? [] : this.#release(now) };
  }

  /** Frees an in-flight message's place; false when it is not in flight. */
  #remove(rid: string): boolean {
    const entry = this.#inFlight.get(rid);
    if (entry === undefined) return false;
    const { item } = entry;
    this.#inFlight.delete(rid);
    this.#inFlightBytes -= item.bytes;
    const sender = this.#senders.get(item.from);
    if (sender !== undefined) {
      sender.inFlight--;
      if (sender.inFlight === 0 && sender.queue.length === 0) this.#senders.delete(item.from);
    }
    return true;
  }

  #release(now: number): T[] {
    const out: T[] = [];
    while (this.#queued > 0 && this.#hasRoom()) {
      const sender = this.#next();
      const item = sender.queue.shift()!;
      this.#queued--;
      sender.inFlight++;
      sender.servedAt = this.#served++;
      this.#inFlight.set(item.rid, { item, at: now });
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
