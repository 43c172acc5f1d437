/**
 * The rooms' limits and the shapes `Rooms` takes and gives: a checked entry, a pinned
 * person, a change and a staged change. Re-exported by `./rooms.ts`, where importers find them.
 * @module
 */

import { type HashedEntry, ROOM_LIMITS } from "../../protocol/room_chain.ts";
import type { RoomRecord } from "./room_store.ts";

/** The bounds of rooms (design: docs/protocol-v3.md "Limits"). */
export interface RoomServerLimits {
  /** Members plus pending invitees of one room (`ROOM_LIMIT`). @default {100} */
  maxMembers: number;
  /** Entries in one room's chain (`ROOM_LIMIT`). @default {10000} */
  maxEntries: number;
  /** Rooms one person is a member of (`ROOM_LIMIT` on create and accept). @default {50} */
  roomsPerPerson: number;
  /** Pending invitations one person holds (`ROOM_LIMIT` on invite). @default {50} */
  invitesPerPerson: number;
  /** Rooms one signing key may create in 24 hours (`ROOM_LIMIT`). @default {20} */
  createsPerKeyPerDay: number;
  /**
   * Bytes of entries (base64, as held in memory and sent) all rooms may hold (`ROOM_LIMIT`), so
   * that churn in many rooms cannot grow the server without bound. @default {268435456}
   */
  totalBytes: number;
}

/**
 * The default bounds: 100 members (one wrapped key per member travels with each message, about 26
 * KiB at 100), 10,000 entries, 50 rooms and 50 pending invitations per person (each room's
 * summary goes out at join; invitations are a way to annoy, so they are bounded too), 20 new
 * rooms per key a day (like new names per address), 256 MiB of entries in all (an entry is about
 * 550 bytes as base64, so some 480,000 of them: thousands of busy rooms).
 */
export const ROOM_DEFAULTS: Readonly<RoomServerLimits> = {
  maxMembers: ROOM_LIMITS.maxMembers,
  maxEntries: ROOM_LIMITS.maxEntries,
  roomsPerPerson: 50,
  invitesPerPerson: 50,
  createsPerKeyPerDay: 20,
  totalBytes: 256 * 1024 * 1024,
};

/** Most bytes of entries in one `room-entries` answer: the rest is asked for again. */
export const ROOM_ENTRIES_ANSWER_BYTES = 256 * 1024;

/** An entry the server checked against what it knows (see `room_entry_check.ts`). */
export interface CheckedEntry {
  /** The parsed entry and its hash. */
  hashed: HashedEntry;
  /** The fingerprint of the key the signature was verified with (the author's registered one). */
  signedBy: string;
  /** The author's signing key, base64 SPKI (counted for rooms created per key). */
  signKey: string;
}

/**
 * A person as the room knows them: their name and the fingerprint of the signing key the chain
 * pinned for them ({@linkcode KeyPins.sign}). Someone who holds the name with another key (an
 * ephemeral name taken again, a released one) is not them.
 */
export interface Pinned {
  /** The name. */
  name: string;
  /** The pinned signing key's fingerprint, hex. */
  sign: string;
}

/** An accepted change: whom to tell, and the entry as it goes out. */
export interface RoomChange {
  /** The room id. */
  room: string;
  /** The room's display name (sent with the entry, so that someone just invited can show it). */
  name: string;
  /** The signed entry, base64 as on the wire. */
  entry: string;
  /**
   * Members and invitees before and after the change (a removed member and a declined invitee
   * learn of it too), the author included, with their pinned keys.
   */
  audience: Pinned[];
}

/**
 * A change checked against a room's head but not yet applied: store {@linkcode record} at
 * {@linkcode seq}, then {@linkcode commit} it.
 */
export interface StagedChange {
  /** The room id. */
  room: string;
  /** The seq the entry takes (the room's entries before it). */
  seq: number;
  /** What to store. */
  record: RoomRecord;
  /**
   * Applies the change.
   * @returns Whom to tell.
   * @throws {PeerstreamError} `CHAIN_INVALID` when the room's head moved since it was staged.
   */
  commit(): RoomChange;
}
