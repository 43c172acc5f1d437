/**
 * The terminal's receipts for room messages (issue 20): after the `* #room: sent to …` line, the
 * members' receipts are summed up so a 100-member room does not print 100 lines. A receipt from a
 * member who was online is shown at most once a second as a count (`* #club: delivered to 5 of
 * 7`), and the last one as one line (`* #club: delivered to alice, bob`, or `to all 7` past five
 * names); a receipt from a member the message was queued for comes later, alone, and is shown at
 * once. A count held back within its second is shown once the second is up (`flush`), so
 * receipts that stop coming are still counted. Pure: the caller passes the clock's reading and
 * prints the lines. In a cluster a member listed as sent to may turn out offline: that `queued`
 * comes later and is shown at once (`* #club: queued for bob`), and their receipt when they are back.
 * @module
 */

import { showName } from "../protocol/shown_name.ts";
import type { RoomSendOutcome } from "./session.ts";
import { safe } from "./render.ts";

/** Least time between two count lines of one message, in ms. */
export const RECEIPT_LINE_INTERVAL_MS = 1_000;

/** Most messages whose receipts are awaited; the oldest is forgotten past it. */
export const MAX_AWAITED_RECEIPTS = 200;

/** Most names a line lists; past it, a count. */
const MAX_NAMES = 5;

/** Most refusals printed one by one after the sent line; past it, a count. */
const MAX_REFUSALS_SHOWN = 3;

/** What the terminal prints once a room message is sent: a line, and refusals as errors. */
export interface RoomSentLines {
  /** The `* #club: sent to …; queued for …; not sent to …` line. */
  lines: string[];
  /** The server's words for the first refusals, then a count of the rest (raw: print as errors). */
  errors: string[];
}

/**
 * The lines for a room message just sent, in few lines however large the room: names up to five
 * per part, else a count.
 *
 * @param room The room's display name.
 * @param sent What `room-send` answered.
 * @returns The line, and the refusals' words.
 */
export function roomSentLines(room: string, sent: RoomSendOutcome): RoomSentLines {
  const who = (names: readonly string[]) =>
    names.length > MAX_NAMES ? `${names.length} members` : names.map(showName).join(", ");
  const notSent = sent.refused.map((r) => r.name);
  const parts = [
    sent.relayed.length > 0 ? `sent to ${who(sent.relayed)}` : "",
    sent.queued.length > 0 ? `queued for ${who(sent.queued)}` : "",
    notSent.length > 0 ? `not sent to ${who(notSent)}` : "",
  ].filter((p) => p !== "");
  const shown = parts.length === 0 ? "nobody else is in the room" : parts.join("; ");
  // Printed as errors, which make them safe.
  const errors = sent.refused.slice(0, MAX_REFUSALS_SHOWN).map((r) => r.message);
  const more = sent.refused.length - errors.length;
  if (more > 0) errors.push(`…and ${more} more not sent (named above)`);
  return { lines: [`* #${safe(room)}: ${shown}`], errors };
}

/** A receipt, or a cluster `queued`, that came before its answer was handled. */
interface Early {
  to: string;
  queued: boolean;
}

interface Awaited {
  room: string;
  relayed: Set<string>;
  queued: Set<string>;
  delivered: string[];
  /** When the last line about this message was shown. */
  shownAt: number;
  /** How many receipts that line counted. */
  shown: number;
}

/** Options for {@linkcode RoomReceipts}. */
export interface RoomReceiptsOptions {
  /** Least time between two count lines of one message, in ms. @default {RECEIPT_LINE_INTERVAL_MS} */
  intervalMs?: number;
  /** Most messages awaited at once. @default {MAX_AWAITED_RECEIPTS} */
  limit?: number;
}

/**
 * Sums up members' receipts of room messages this client sent into a few lines.
 *
 * @example
 * ```ts
 * const receipts = new RoomReceipts();
 * receipts.sent(7, "club", { relayed: ["alice", "bob"], queued: [], refused: [] }, 0);
 * receipts.delivered(7, "alice", 10); // []
 * receipts.delivered(7, "bob", 20); // ["* #club: delivered to alice, bob"]
 * ```
 */
export class RoomReceipts {
  readonly #awaited = new Map<number, Awaited>();
  /** Receipts (and cluster `queued`s) that came before the answer they belong to was handled. */
  readonly #early = new Map<number, Early[]>();
  readonly #intervalMs: number;
  readonly #limit: number;

  /** @param options The interval between count lines and how many messages are awaited. */
  constructor(options: RoomReceiptsOptions = {}) {
    this.#intervalMs = options.intervalMs ?? RECEIPT_LINE_INTERVAL_MS;
    this.#limit = options.limit ?? MAX_AWAITED_RECEIPTS;
  }

  /**
   * A room message was sent: its receipts are awaited from the members it was relayed to or
   * queued for.
   *
   * @param room The room's display name.
   * @param sent What `room-send` answered.
   * @param now The clock's reading, in ms.
   * @returns Lines to show now (receipts that came before this answer was handled).
   */
  sent(room: string, sent: RoomSendOutcome, now: number): string[] {
    if (sent.re === undefined) return [];
    const early = this.#early.get(sent.re) ?? [];
    this.#early.delete(sent.re);
    if (sent.relayed.length + sent.queued.length === 0) return [];
    this.#awaited.set(sent.re, {
      room,
      relayed: new Set(sent.relayed),
      queued: new Set(sent.queued),
      delivered: [],
      shownAt: now,
      shown: 0,
    });
    this.#trim(this.#awaited);
    return early.flatMap(({ to, queued }) =>
      queued ? this.queued(sent.re!, to) : this.delivered(sent.re!, to, now)
    );
  }

  /**
   * A member the message was relayed to through the cluster was offline, and it is queued for
   * them (issue 20): shown at once; their receipt comes when they are back.
   *
   * @param re The `room-send` request's id.
   * @param to The member.
   * @returns The line to show now, if any.
   */
  queued(re: number, to: string): string[] {
    const message = this.#awaited.get(re);
    if (message === undefined) return this.#keepEarly(re, { to, queued: true });
    if (!message.relayed.has(to) || message.delivered.includes(to)) return [];
    message.relayed.delete(to);
    message.queued.add(to);
    return [`* #${safe(message.room)}: queued for ${showName(to)}`];
  }

  /**
   * A member's receipt.
   *
   * @param re The `room-send` request's id.
   * @param to The member whose client opened it.
   * @param now The clock's reading, in ms.
   * @returns The line to show now, if any.
   */
  delivered(re: number, to: string, now: number): string[] {
    const message = this.#awaited.get(re);
    if (message === undefined) return this.#keepEarly(re, { to, queued: false });
    const late = message.queued.has(to);
    if (!late && !message.relayed.has(to) || message.delivered.includes(to)) return [];
    message.delivered.push(to);
    const total = message.relayed.size + message.queued.size;
    const prefix = `* #${safe(message.room)}: delivered to`;
    if (message.delivered.length === total) {
      this.#awaited.delete(re);
      return [
        total > MAX_NAMES
          ? `${prefix} all ${total}`
          : `${prefix} ${[...message.relayed, ...message.queued].map(showName).join(", ")}`,
      ];
    }
    if (!late && now - message.shownAt < this.#intervalMs) return [];
    return [this.#count(message, now)];
  }

  /**
   * The counts held back within their second, once it is up (call it a few times a second):
   * receipts that stop coming are still counted.
   *
   * @param now The clock's reading, in ms.
   * @returns A count line per message with receipts not shown yet.
   */
  flush(now: number): string[] {
    const lines: string[] = [];
    for (const message of this.#awaited.values()) {
      const held = message.delivered.length > message.shown;
      if (held && now - message.shownAt >= this.#intervalMs) lines.push(this.#count(message, now));
    }
    return lines;
  }

  /** `* #club: delivered to 2 of 3 (alice, bob)`; names only up to five. */
  #count(message: Awaited, now: number): string {
    message.shownAt = now;
    message.shown = message.delivered.length;
    const count = message.delivered.length;
    const total = message.relayed.size + message.queued.size;
    const names = count > MAX_NAMES ? "" : ` (${message.delivered.map(showName).join(", ")})`;
    return `* #${safe(message.room)}: delivered to ${count} of ${total}${names}`;
  }

  /** The answer may still be on its way to the command that sent it. */
  #keepEarly(re: number, early: Early): string[] {
    this.#early.set(re, [...(this.#early.get(re) ?? []), early]);
    this.#trim(this.#early);
    return [];
  }

  #trim<V>(map: Map<number, V>) {
    while (map.size > this.#limit) map.delete(map.keys().next().value!);
  }
}
