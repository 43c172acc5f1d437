/**
 * The page's lines for room messages it sent (issue 20): each line's state after the send ("sent",
 * "queued", "delivered"), then each member's receipt, or the cluster's word that a member was
 * offline, as it comes. Lines whose receipts never come (a member gone) are let go past a bound.
 * `rooms_panel.ts` adds the lines and hands it the outcomes and receipts.
 * @module
 */

import type { RoomSendOutcome } from "../../client/session.ts";
import { el, setText } from "./dom.ts";
import { messageMeta } from "./chat_view.ts";
import { roomSentWords } from "./room_words.ts";

/** Most sent lines awaiting receipts; the oldest is let go past it. */
const MAX_AWAITED = 200;

/** A message this page sent to a room, awaiting its members' receipts. */
interface SentLine {
  item: HTMLLIElement;
  outcome: RoomSendOutcome;
  delivered: string[];
}

/** The sent lines of one page that await receipts, by the `room-send` request's id. */
export class RoomSentLines {
  readonly #sent = new Map<number, SentLine>();

  /**
   * A message went: its line says to whom, and waits for the receipts of those it went to.
   *
   * @param item The line ({@linkcode sentItem}).
   * @param outcome How the send went.
   */
  sent(item: HTMLLIElement, outcome: RoomSendOutcome): void {
    setText(item.querySelector(".state")!, roomSentWords(outcome));
    // "delivered" once every member it went to or waits for confirmed; none is done at once.
    const awaited = outcome.relayed.length + outcome.queued.length;
    item.dataset.state = outcome.relayed.length > 0
      ? "sent"
      : outcome.queued.length > 0
      ? "queued"
      : "delivered";
    if (outcome.re === undefined || awaited === 0) return;
    this.#sent.set(outcome.re, { item, outcome, delivered: [] });
    if (this.#sent.size > MAX_AWAITED) this.#sent.delete(this.#sent.keys().next().value!);
  }

  /**
   * A member's receipt for a message this page sent: its line says so.
   *
   * @param re The `room-send` request's id.
   * @param to The member whose client opened it.
   */
  delivered(re: number, to: string): void {
    const line = this.#sent.get(re);
    if (line === undefined || line.delivered.includes(to)) return;
    const { relayed, queued } = line.outcome;
    if (!relayed.includes(to) && !queued.includes(to)) return;
    line.delivered.push(to);
    setText(line.item.querySelector(".state")!, roomSentWords({ ...line.outcome, ...line }));
    if (line.delivered.length >= relayed.length + queued.length) {
      line.item.dataset.state = "delivered";
      this.#sent.delete(re);
    }
  }

  /**
   * A member this page's message was handed to through the cluster was offline: its line says it
   * is queued for them until their receipt comes.
   *
   * @param re The `room-send` request's id.
   * @param to The member.
   */
  queued(re: number, to: string): void {
    const line = this.#sent.get(re);
    if (line === undefined || line.delivered.includes(to)) return;
    const { relayed, queued } = line.outcome;
    if (!relayed.includes(to)) return;
    line.outcome = {
      ...line.outcome,
      relayed: relayed.filter((name) => name !== to),
      queued: [...queued, to],
    };
    setText(line.item.querySelector(".state")!, roomSentWords({ ...line.outcome, ...line }));
    const waiting = line.outcome.relayed.filter((name) => !line.delivered.includes(name));
    if (waiting.length === 0) line.item.dataset.state = "queued";
  }
}

/**
 * A sent message's line, its state after the text.
 *
 * @param text The message.
 * @param state Its state in words.
 * @param at When it was sent, ms since the epoch.
 * @returns The line.
 */
export function sentItem(text: string, state: string, at: number): HTMLLIElement {
  return el("li", { attrs: { "data-to": "room" } }, [
    el("span", { className: "from", text: "You: " }),
    el("span", { className: "text", text }),
    el("span", { className: "state", text: state }),
    messageMeta(new Date(at)),
  ]);
}
