/**
 * What the page says about rooms, in words for people: each checked membership change as a line
 * of the room's chat ("bob invited carol", "carol joined", "alice removed dave"), each person's
 * place in a room, and why a room became read-only, speaking of the page's own controls (Accept,
 * Decline) and never of terminal commands. Pure.
 * @module
 */

import type { RoomEntry } from "../../protocol/room_chain.ts";
import { showName } from "../../protocol/shown_name.ts";
import type { RoomView } from "../../client/session.ts";

/**
 * One checked change as a line of the room's chat.
 *
 * @param entry The checked entry.
 * @param me Who reads it (`you` in their place).
 * @returns For example `bob invited carol`, `You joined`, `alice removed dave`.
 */
export function roomChangeWords(
  entry: Pick<RoomEntry, "op" | "author" | "subject">,
  me: string,
): string {
  const who = (name: string) => name === me ? "you" : showName(name);
  const author = who(entry.author);
  const subject = who(entry.subject);
  const line = ((): string => {
    switch (entry.op) {
      case "create":
        return `${author} created the room`;
      case "invite":
        return `${author} invited ${subject}`;
      case "accept":
        return `${author} joined`;
      case "decline":
        return `${author} declined the invitation`;
      case "leave":
        return `${author} left`;
      case "remove":
        return `${author} removed ${subject}`;
      case "handover":
        return `${author} handed the room over to ${subject}`;
      case "settings":
        return `${author} changed the room's settings`;
    }
  })();
  return line.startsWith("you ") ? `You${line.slice(3)}` : line;
}

/** Where a person stands in a room. */
export type RoomRole = "owner" | "member" | "invited" | "out";

/**
 * Where a person stands in a room, as its checked chain says.
 *
 * @param room The room.
 * @param me The person.
 * @returns `owner`, `member`, `invited`, or `out` (left, removed, declined).
 */
export function roomRole(
  room: Pick<RoomView, "owner" | "members" | "invitees">,
  me: string,
): RoomRole {
  if (room.owner === me) return "owner";
  if (room.members.includes(me)) return "member";
  if (room.invitees.includes(me)) return "invited";
  return "out";
}

/**
 * The invitation a person is shown, naming who invited them.
 *
 * @param room The room.
 * @param me The person invited.
 * @returns For example `bob invited you to #club`.
 */
export function invitationWords(room: Pick<RoomView, "name" | "invitedBy">, me: string): string {
  const by = Object.hasOwn(room.invitedBy, me) ? room.invitedBy[me] : undefined;
  return `${by === undefined ? "Someone" : showName(by)} invited you to #${room.name}`;
}

/**
 * Why a room is read-only, for the warning over its chat: what the page saw, and what to do.
 *
 * @param why The client's reason (terminal-worded; it goes to the console as it is).
 * @returns A sentence for the page.
 */
export function roomBrokenWords(why: string): string {
  const what = why.includes("(a rollback)")
    ? "the server showed an older history of this room than the one this page saw (a rollback)"
    : why.includes("(a fork)")
    ? "the server showed another history of this room than the one this page saw (a fork)"
    : "the server sent a membership change that does not check out: nobody who could make it signed it";
  return `This room is read-only: ${what}. Someone may be trying to read along, so this page sends nothing more to it; compare the room's fingerprint with a member in person`;
}

/**
 * What "Check again" found, in words without codes.
 *
 * @param still Why the room stays read-only (`RoomCheck.still`); undefined when it works again.
 * @returns For example `Checked again: the server's history agrees with what this page saw, so
 * the room works again`.
 */
export function roomCheckWords(still: string | undefined): string {
  if (still === undefined) {
    return "Checked again: the server's history agrees with what this page saw, so the room works again";
  }
  const what = still.includes("(a rollback)")
    ? "the server still shows an older history of this room than the one this page saw (a rollback)"
    : still.includes("(a fork)")
    ? "the server still shows another history of this room than the one this page saw (a fork)"
    : "the server still sends a membership change that does not check out";
  return `Checked again: ${what}, so the room stays read-only`;
}

/**
 * What became of a message sent to a room: whose clients confirmed they opened it, whom it went
 * to and awaits their receipt, whom it waits for on the server.
 *
 * @param sent Who got it, who it waits for, and whose receipts came.
 * @returns For example `delivered to bob; sent to carol; queued for dave (offline)`.
 */
export function roomSentWords(
  sent: { relayed: string[]; queued: string[]; delivered?: readonly string[] },
): string {
  const opened = (name: string) => sent.delivered?.includes(name) === true;
  // A queued member's receipt comes when they are back: they count as delivered too.
  const delivered = [...sent.relayed, ...sent.queued].filter(opened);
  const waiting = sent.relayed.filter((name) => !opened(name));
  const queued = sent.queued.filter((name) => !opened(name));
  const parts = [
    delivered.length > 0 ? `delivered to ${delivered.map(showName).join(", ")}` : "",
    waiting.length > 0 ? `sent to ${waiting.map(showName).join(", ")}` : "",
    queued.length > 0 ? `queued for ${queued.map(showName).join(", ")} (offline)` : "",
  ].filter((part) => part !== "");
  return parts.length === 0 ? "nobody else is in the room" : parts.join("; ");
}
