/**
 * What the page remembers of its rooms between loads (the furthest entry it checked of each, so a
 * rollback is caught after a refresh too, and its message counters), read back with every field
 * checked: IndexedDB is the browser's, shared by the origin, and may hold an older page's data.
 * Pure; `storage.ts` keeps it.
 * @module
 */

import type { RoomMemory } from "../../client/session.ts";

/** Most rooms remembered (the client tracks at most 200). */
export const MAX_REMEMBERED_ROOMS = 1000;

/**
 * Reads room memory back.
 *
 * @param value What IndexedDB returned.
 * @returns The memory, or undefined when there is none or it is not one (the page then starts
 * afresh: a rollback would go unnoticed once, as after Forget this browser).
 */
export function parseRoomMemory(value: unknown): RoomMemory | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { origin, rooms } = value as Record<string, unknown>;
  if (typeof origin !== "string" || !/^[0-9a-f]{16}$/.test(origin)) return undefined;
  if (typeof rooms !== "object" || rooms === null || Array.isArray(rooms)) return undefined;
  const out: RoomMemory["rooms"] = {};
  for (const [id, room] of Object.entries(rooms).slice(0, MAX_REMEMBERED_ROOMS)) {
    if (typeof room !== "object" || room === null) return undefined;
    const { seq, head, counter } = room as Record<string, unknown>;
    if (!Number.isSafeInteger(seq) || typeof head !== "string") return undefined;
    if (!Number.isSafeInteger(counter)) return undefined;
    Object.defineProperty(out, id, {
      value: { seq: seq as number, head, counter: counter as number },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { origin, rooms: out };
}
