/**
 * Pure helpers over a room's state for `Rooms`: who hears of a change, the key pinned for a
 * person, and the person→rooms indexes kept in step.
 * @module
 */

import type { RoomState } from "../../protocol/room_chain.ts";
import type { Pinned } from "./room_types.ts";

/** Members and invitees before and after a change, each once. */
export function audienceOf(before: RoomState | undefined, after: RoomState): Pinned[] {
  const audience = new Map<string, Pinned>();
  for (const each of before === undefined ? [after] : [before, after]) {
    for (const person of pinnedOf(each)) audience.set(`${person.name}\n${person.sign}`, person);
  }
  return [...audience.values()];
}

/** The signing key the chain pinned for a member or an invitee. */
export function pinOf(state: RoomState, name: string): string | undefined {
  return (state.members.get(name) ?? state.invitees.get(name)?.keys)?.sign;
}

/** Every member and invitee of a state, with their pinned keys. */
export function* pinnedOf(state: RoomState): Iterable<Pinned> {
  for (const [name, pins] of state.members) yield { name, sign: pins.sign };
  for (const [name, invitation] of state.invitees) yield { name, sign: invitation.keys.sign };
}

/** Keeps a person→room ids index in step with a room's members or invitees. */
export function syncIndex(
  index: Map<string, Set<string>>,
  id: string,
  before: Iterable<string>,
  after: ReadonlyMap<string, unknown>,
): void {
  for (const name of before) {
    if (after.has(name)) continue;
    const set = index.get(name);
    set?.delete(id);
    if (set?.size === 0) index.delete(name);
  }
  for (const name of after.keys()) {
    let set = index.get(name);
    if (set === undefined) index.set(name, set = new Set());
    set.add(id);
  }
}
