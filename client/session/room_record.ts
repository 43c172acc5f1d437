/**
 * One room as `RoomBook` holds it, and the pure checks on it: the view it gives, the state a
 * change is made on, which fetched entries are new, and whether a history fetched again
 * extends the checked one.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { parseEntry, type RoomState } from "../../protocol/room_chain.ts";
import type { RoomHistory } from "../../protocol/room_history.ts";
import type { RoomView } from "./room_book_types.ts";
import { historyProblem, type RoomHigh } from "./room_words.ts";

/** A room as `RoomBook` tracks it. */
export interface Room {
  /** The room id. */
  id: string;
  /** The display name; "" until learned. */
  name: string;
  /** The checked chain. */
  history: RoomHistory;
  /** Why the room is read-only, if it is. */
  broken?: string;
  /** The head seq the server last listed, once it has. */
  listed?: number;
  /** Work on this room, one at a time. */
  queue: Promise<unknown>;
}

/** The room as this client has checked it, for callers. */
export function roomView(room: Room): RoomView {
  const state = room.history.state;
  return {
    id: room.id,
    name: room.name,
    seq: room.history.seq,
    head: state?.head ?? "",
    owner: state?.owner ?? "",
    members: [...state?.members.keys() ?? []],
    invitees: [...state?.invitees.keys() ?? []],
    invitedBy: Object.fromEntries(
      [...state?.invitees ?? []].map(([name, invitation]) => [name, invitation.by]),
    ),
    control: state?.settings.control ?? "all",
    ...(room.broken === undefined ? {} : { broken: room.broken }),
  };
}

/**
 * The state to make a change on; refuses what the chain would refuse, before it goes.
 *
 * @throws {PeerstreamError} `NOT_ALLOWED` (read-only) or `ROOM_NOT_FOUND` (no history yet).
 */
export function usableState(room: Room, what: string): RoomState {
  if (room.broken !== undefined) {
    throw new PeerstreamError(
      "NOT_ALLOWED",
      `Cannot ${what} in #${room.name}: the room is read-only (${room.broken})`,
    );
  }
  const state = room.history.state;
  if (state === undefined) {
    throw new PeerstreamError(
      "ROOM_NOT_FOUND",
      `Cannot ${what} in #${room.name}: its history has not arrived yet; try again in a moment`,
    );
  }
  return state;
}

/**
 * Drops entries already checked; one that differs from what was checked is a fork.
 *
 * @throws {PeerstreamError} `CHAIN_INVALID` on a fork.
 */
export function freshEntries(history: RoomHistory, entries: readonly string[]): string[] {
  const out: string[] = [];
  const have = history.entries;
  for (const entry of entries) {
    const seq = parseSeq(entry);
    if (seq >= have.length) {
      out.push(entry);
      continue;
    }
    const known = have[seq].bytes.toBase64();
    if (known !== entry) {
      throw new PeerstreamError(
        "CHAIN_INVALID",
        `entry ${seq} differs from the one you checked before (a fork)`,
      );
    }
  }
  return out;
}

/**
 * Why a freshly fetched history does not extend the checked one, if it does not.
 *
 * @param history The checked history.
 * @param fresh The history fetched again from entry 0.
 * @param high The furthest point seen before, if any.
 */
export function extendsProblem(
  history: RoomHistory,
  fresh: RoomHistory,
  high: RoomHigh | undefined,
): string | undefined {
  const have = history.entries;
  const got = fresh.entries;
  for (let seq = 0; seq < have.length && seq < got.length; seq++) {
    if (have[seq].bytes.toBase64() !== got[seq].bytes.toBase64()) {
      return `the server still shows another history than the one you checked at entry ${seq} (a fork)`;
    }
  }
  if (got.length < have.length) {
    return `the server still shows the room at entry ${fresh.seq}, but you checked it to entry ${history.seq} (a rollback)`;
  }
  return historyProblem(high, {
    seq: fresh.seq,
    headAt: (seq) => fresh.stateAt(seq)?.head,
    complete: true,
  });
}

/** The seq of a signed entry, base64 (parsed and checked; its signature comes after). */
export function parseSeq(entry: string): number {
  return parseEntry(entry).entry.seq;
}
