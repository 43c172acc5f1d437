/**
 * What a refresh needs to pick up where the page was: the name it joined with and the title that
 * was playing, at which second and quality, and the room whose playback it followed. Kept in `localStorage` (read synchronously at load and
 * written on every `timeupdate`, so the position is current when the tab goes away); nothing
 * secret is in it: the conversation is in `history_store.ts`, encrypted.
 * @module
 */

import type { Quality } from "../../protocol/messages.ts";
import { isRoomId } from "../../protocol/room_entry.ts";

/** The `localStorage` key. */
export const LAST_SESSION_KEY = "peerstream:last-session";

/** A title that was playing. */
export interface LastPlaying {
  /** The title. */
  title: string;
  /** The second on screen. */
  position: number;
  /** The quality chosen. */
  quality: Quality;
  /** The room whose playback it followed (watching together), by id. */
  room?: string;
}

/** What the page remembers across a refresh. */
export interface LastSession {
  /** The name it joined with. */
  name: string;
  /** The title playing, if one was. */
  playing?: LastPlaying;
}

/** The part of `Storage` used here; tests pass a Map-backed one. */
export type KeyValueStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/**
 * Reads what was saved, checking every field (the storage is the browser's, shared by the origin).
 *
 * @param text The saved JSON, or null.
 * @returns The session, or undefined when there is none or it is not one.
 */
export function parseLastSession(text: string | null): LastSession | undefined {
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { name, playing } = value as Record<string, unknown>;
  if (typeof name !== "string" || name === "") return undefined;
  const parsed = parsePlaying(playing);
  return parsed === undefined ? { name } : { name, playing: parsed };
}

function parsePlaying(value: unknown): LastPlaying | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { title, position, quality, room } = value as Record<string, unknown>;
  if (typeof title !== "string" || title === "") return undefined;
  if (typeof position !== "number" || !Number.isFinite(position) || position < 0) return undefined;
  const q = quality === "auto"
    ? "auto"
    : typeof quality === "number" && Number.isInteger(quality) && quality > 0
    ? quality
    : undefined;
  if (q === undefined) return undefined;
  // Anything but a room id (22 base64url characters) is dropped.
  const followed = isRoomId(room) ? room : undefined;
  return { title, position, quality: q, ...(followed === undefined ? {} : { room: followed }) };
}

/** The page's memory of its last session. */
export class SessionMemory {
  readonly #storage: KeyValueStorage;

  /** @param storage `localStorage`, or a fake. */
  constructor(storage: KeyValueStorage) {
    this.#storage = storage;
  }

  /** What was saved. */
  load(): LastSession | undefined {
    try {
      return parseLastSession(this.#storage.getItem(LAST_SESSION_KEY));
    } catch {
      // Storage refused (a private window): nothing remembered.
      return undefined;
    }
  }

  /**
   * Remembers the name (forgetting what played, if the name changed).
   *
   * @param name The name joined with.
   */
  saveName(name: string): void {
    const last = this.load();
    this.#save(last?.name === name ? { ...last, name } : { name });
  }

  /**
   * Remembers what plays, or that nothing does.
   *
   * @param playing The title, second and quality; undefined when stopped or finished.
   */
  savePlaying(playing: LastPlaying | undefined): void {
    const last = this.load();
    if (last === undefined) return;
    this.#save(playing === undefined ? { name: last.name } : { name: last.name, playing });
  }

  /** Forgets everything this module saved. */
  forget(): void {
    try {
      this.#storage.removeItem(LAST_SESSION_KEY);
    } catch {
      // Nothing was saved.
    }
  }

  #save(session: LastSession) {
    try {
      this.#storage.setItem(LAST_SESSION_KEY, JSON.stringify(session));
    } catch {
      // Storage refused or full: the page works, it only forgets on refresh.
    }
  }
}
