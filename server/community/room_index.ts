/**
 * What `Rooms` keeps across rooms, and the server's bounds checked against it: room names by
 * look-alike key (names are unique by skeleton), the rooms each person is a member of or invited
 * to, when each signing key created rooms, and the bytes of entries all rooms hold. Each check
 * throws the refusal a person sees (`NAME_TAKEN`, `NAME_CONFUSABLE`, `ROOM_LIMIT`). Pure.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { nameKeys } from "../../protocol/names.ts";
import type { RoomState } from "../../protocol/room_chain.ts";
import { quoted } from "../../protocol/text.ts";
import { syncIndex } from "./room_members.ts";
import type { RoomServerLimits } from "./room_types.ts";

const DAY_MS = 24 * 3600 * 1000;

/** The indexes and bounds of one server's rooms. */
export class RoomIndex {
  readonly #limits: RoomServerLimits;
  /** A room's display name by its id. */
  readonly #nameOf: (id: string) => string;
  /** Room ids under each of their names' look-alike keys. */
  readonly #names = new Map<string, string>();
  /** Per person, the rooms they are a member of. */
  readonly #memberOf = new Map<string, Set<string>>();
  /** Per person, the rooms they are invited to. */
  readonly #invitedTo = new Map<string, Set<string>>();
  /** Per signing key, when it created rooms (server time, ms), oldest first. */
  readonly #creates = new Map<string, number[]>();
  /** Bytes of entries (base64) all rooms hold. */
  #totalBytes = 0;

  /**
   * @param limits The server's bounds.
   * @param nameOf A known room's display name by its id.
   */
  constructor(limits: RoomServerLimits, nameOf: (id: string) => string) {
    this.#limits = limits;
    this.#nameOf = nameOf;
  }

  /**
   * The rooms a person is a member of or invited to.
   *
   * @param person The person's name.
   * @returns Room ids, member rooms first.
   */
  roomsOf(person: string): Set<string> {
    return new Set([...this.#memberOf.get(person) ?? [], ...this.#invitedTo.get(person) ?? []]);
  }

  /**
   * Counts a new room: its name, its people, and its entry's bytes.
   *
   * @param id The room id.
   * @param name Its display name.
   * @param state Its state after its first entry.
   */
  addRoom(id: string, name: string, state: RoomState): void {
    for (const key of nameKeys(name)) this.#names.set(key, id);
    this.reindex(id, undefined, state);
  }

  /**
   * Counts an entry's bytes (base64 as stored).
   *
   * @param text The entry.
   */
  addBytes(text: string): void {
    this.#totalBytes += text.length;
  }

  /**
   * Moves a room between the people's member and invitee sets as its state changes.
   *
   * @param id The room id.
   * @param before Its state before the change (none for a new room).
   * @param after Its state after.
   */
  reindex(id: string, before: RoomState | undefined, after: RoomState): void {
    syncIndex(this.#memberOf, id, before?.members.keys() ?? [], after.members);
    syncIndex(this.#invitedTo, id, before?.invitees.keys() ?? [], after.invitees);
  }

  /**
   * Records that a key created a room.
   *
   * @param key The signing key's fingerprint.
   * @param at When, server time in ms.
   */
  created(key: string, at: number): void {
    this.#creates.set(key, [...this.#creates.get(key) ?? [], at]);
  }

  /**
   * Checks that a key may create one more room today.
   *
   * @param key The signing key's fingerprint.
   * @param name The room asked for (for the message).
   * @param now The server's time, ms.
   * @returns A commit that records the creation (and forgets creations over a day old).
   * @throws {PeerstreamError} `ROOM_LIMIT`.
   */
  checkCreates(key: string, name: string, now: number): () => void {
    const creates = (this.#creates.get(key) ?? []).filter((at) => now - at < DAY_MS);
    if (creates.length >= this.#limits.createsPerKeyPerDay) {
      throw roomLimit(
        `Cannot create room ${
          quoted(name)
        }: your key created ${creates.length} rooms in the last 24 hours, the most allowed; try tomorrow`,
      );
    }
    return () => this.#creates.set(key, [...creates, now]);
  }

  /**
   * Checks that a room name is free and looks like no other.
   *
   * @param name The normalized name.
   * @throws {PeerstreamError} `NAME_TAKEN`, `NAME_CONFUSABLE`.
   */
  checkName(name: string): void {
    for (const key of nameKeys(name)) {
      const holder = this.#names.get(key);
      if (holder === undefined) continue;
      const other = this.#nameOf(holder);
      if (other === name) {
        throw new PeerstreamError(
          "NAME_TAKEN",
          `Cannot create room ${quoted(name)}: a room of that name exists; choose another name`,
        );
      }
      throw new PeerstreamError(
        "NAME_CONFUSABLE",
        `Cannot create room ${quoted(name)}: it looks like the room ${
          quoted(other)
        }; choose a name that looks different`,
      );
    }
  }

  /**
   * Checks that all rooms can hold one more entry.
   *
   * @param text The entry (base64).
   * @param action What it does, for the message.
   * @throws {PeerstreamError} `ROOM_LIMIT`.
   */
  checkTotal(text: string, action: string): void {
    if (this.#totalBytes + text.length > this.#limits.totalBytes) {
      throw roomLimit(
        `Cannot ${action}: the server's rooms are full (${
          this.#limits.totalBytes.toLocaleString("en")
        } bytes of changes); ask the operator`,
      );
    }
  }

  /**
   * Checks that a person may be in one more room.
   *
   * @param person The person's name.
   * @param action What they do, for the message.
   * @throws {PeerstreamError} `ROOM_LIMIT`.
   */
  checkRoomsOf(person: string, action: string): void {
    const count = this.#memberOf.get(person)?.size ?? 0;
    if (count >= this.#limits.roomsPerPerson) {
      throw roomLimit(
        `Cannot ${action}: ${
          quoted(person)
        } is in ${count} rooms, the most allowed; LEAVE one first`,
      );
    }
  }

  /**
   * Checks that a person may be invited to one more room.
   *
   * @param person The invitee's name.
   * @param room The room's display name, for the message.
   * @throws {PeerstreamError} `ROOM_LIMIT`.
   */
  checkInvites(person: string, room: string): void {
    const pending = this.#invitedTo.get(person)?.size ?? 0;
    if (pending >= this.#limits.invitesPerPerson) {
      throw roomLimit(
        `Cannot invite ${quoted(person)} to ${
          quoted(room)
        }: they have ${pending} invitations pending, the most allowed; ask them to accept or decline some`,
      );
    }
  }
}

function roomLimit(message: string): PeerstreamError {
  return new PeerstreamError("ROOM_LIMIT", message);
}
