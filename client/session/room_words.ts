/**
 * A room's changes in words for people ("bob invited carol", "carol joined", "alice removed
 * dave"), and the check of a room's history against the furthest point this client has seen
 * (a rollback or a fork). Pure.
 * @module
 */

import type { RoomEntry } from "../../protocol/room_chain.ts";
import { showName } from "../../protocol/shown_name.ts";
import { escapeName } from "../../protocol/text.ts";

/**
 * One change in words, as the person sees it in the room's line.
 *
 * @param entry A checked entry.
 * @param options Who is reading (`you` in their place) and the room's display name.
 * @returns For example `bob invited carol`, or `alice invited you; ACCEPT #club or DECLINE #club`.
 */
export function describeEntry(entry: RoomEntry, options: { me: string; room: string }): string {
  const who = (name: string) => name === options.me ? "you" : showName(name);
  const author = who(entry.author);
  const subject = who(entry.subject);
  // The room's name came from the server: shown escaped, like every name from the network.
  const tag = `#${escapeName(options.room)}`;
  switch (entry.op) {
    case "create":
      return `${author} created ${tag}`;
    case "invite":
      return entry.subject === options.me
        ? `${author} invited you; ACCEPT ${tag} or DECLINE ${tag}`
        : `${author} invited ${subject}`;
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
      return `${author} set who may invite: ${entry.settings!.invite}, who controls playback: ${
        entry.settings!.control
      }`;
  }
}

/** The furthest point of a room's history this client has checked. */
export interface RoomHigh {
  /** The seq. */
  seq: number;
  /** The entry's hash there. */
  head: string;
}

/**
 * Compares a history with the furthest point seen before: a history that has that seq with
 * another hash is a fork; one that is shorter, once the server says where it ends, a rollback.
 *
 * @param high The furthest point seen before, if any.
 * @param history Where the history is now: its last seq, and its hash at `high.seq` if it has it.
 * @returns Why the room cannot be trusted, or undefined when nothing is wrong (yet).
 */
export function historyProblem(
  high: RoomHigh | undefined,
  history: { seq: number; headAt(seq: number): string | undefined; complete: boolean },
): string | undefined {
  if (high === undefined) return undefined;
  if (history.seq >= high.seq) {
    return history.headAt(high.seq) === high.head
      ? undefined
      : `the server shows another history than the one you saw at entry ${high.seq} (a fork)`;
  }
  return history.complete
    ? `the server shows the room at entry ${history.seq}, but you saw it at entry ${high.seq} (a rollback)`
    : undefined;
}
