/**
 * The messages of rooms (protocol version 3): creating and changing a room with signed chain
 * entries, asking for a chain, the entries the server answers or pushes, the list of rooms sent
 * after `welcome`, and `room-send`, one sealed upload for a whole room. Kept apart from
 * `messages.ts`; `messages_client.ts` and `messages_server.ts` take these specs into their tables.
 * @module
 */

import type { ErrorCode } from "./errors.ts";
import {
  arrayOf,
  type Check,
  errorCode,
  id,
  name,
  object,
  optional,
  str,
  TEXT_MAX,
  uint,
} from "./messages_checks.ts";
import { isRoomId, MAX_ENTRY_B64 } from "./room_chain.ts";

/** Most entries in one `room-entries`: a longer chain comes in several (ask again `from` the next). */
export const MAX_ENTRIES_PER_MESSAGE = 256;
/** Most rooms in `rooms`: 50 rooms a person is in plus 50 pending invites, with room to grow. */
export const MAX_ROOMS_LISTED = 1000;
/** Most names in each list of `room-sent`: a room's members (100 by default) with room to grow. */
export const MAX_ROOM_MEMBERS_LISTED = 1000;

/** Creates a room: its `create` entry, signed by the creator. */
export interface RoomCreateMessage {
  type: "room-create";
  id: number;
  /** The room's display name, with the rules of a peer name; people type it as `#name`. */
  name: string;
  /** The signed `create` entry, base64. */
  entry: string;
}
/** Adds one signed entry (invite, accept, decline, leave, remove, handover, settings). */
export interface RoomChangeMessage {
  type: "room-change";
  id: number;
  room: string;
  /** The signed entry, base64; its seq must follow the room's head. */
  entry: string;
}
/** Asks for a room's entries from a seq on; answered by `room-entries`. */
export interface RoomChainMessage {
  type: "room-chain";
  id: number;
  room: string;
  /** The first seq wanted. */
  from: number;
}
/** A room's entries in order: an answer (`re`), or a push of a new change (no `re`). */
export interface RoomEntriesMessage {
  type: "room-entries";
  re?: number;
  room: string;
  /** Signed entries, base64, consecutive; at most {@linkcode MAX_ENTRIES_PER_MESSAGE}. */
  entries: string[];
  /**
   * The room's display name: with a push, so that someone just invited (who got no `rooms` line
   * for it) can show it; optional, the client keeps what it learnt before when it is absent.
   */
  name?: string;
}
/** A room a person is in or invited to, as `rooms` lists it. */
export interface RoomSummary {
  room: string;
  name: string;
  /** The head entry's seq. */
  seq: number;
  /** The head entry's hash, base64. */
  head: string;
}
/** After `welcome`: the rooms the person is in or invited to. */
export interface RoomsMessage {
  type: "rooms";
  rooms: RoomSummary[];
}
/** Sends one room envelope (protocol/room_envelope.ts) to a whole room. */
export interface RoomSendMessage {
  type: "room-send";
  id: number;
  room: string;
  body: Uint8Array;
}

/**
 * The answer to `room-send`: whom the one upload was relayed to (each confirms it later with
 * `delivered`, `re` and `to`), whom it was queued for (offline; `delivered` with `qseq` once they
 * open it), and whom it could not reach and why (a full queue or inbox, an ephemeral name that
 * is offline), so that no member is dropped silently. The sender is in none of the lists.
 */
export interface RoomSentMessage {
  type: "room-sent";
  re: number;
  room: string;
  /** Members online it went to. */
  relayed: string[];
  /** Members offline it waits for, and its place in each one's queue. */
  queued: { name: string; qseq: number }[];
  /** Members it could not reach, with the code and words of why. */
  refused: { name: string; code: ErrorCode; message: string }[];
}

/** A room id: 22 base64url characters. */
export const roomId: Check = (value: unknown, field: string): void => {
  if (!isRoomId(value)) {
    throw new TypeError(`Invalid field "${field}": expected a room id of 22 base64url characters`);
  }
};

/** A signed chain entry, base64 (its content is checked by `parseEntry`). */
export const entryB64: Check = (value: unknown, field: string): void => {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw new TypeError(`Invalid field "${field}": expected a base64 room entry`);
  }
  if (value.length > MAX_ENTRY_B64) {
    throw new RangeError(`Invalid field "${field}": longer than ${MAX_ENTRY_B64} characters`);
  }
};

const hashB64: Check = (value: unknown, field: string): void => {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(value)) {
    throw new TypeError(`Invalid field "${field}": expected a SHA-256 hash, base64`);
  }
};

/** Field checks of the room messages a client sends. */
export const ROOM_CLIENT_SPECS = {
  "room-create": { id, name, entry: entryB64 },
  "room-change": { id, room: roomId, entry: entryB64 },
  "room-chain": { id, room: roomId, from: uint() },
  "room-send": { id, room: roomId },
} satisfies Record<string, Record<string, Check>>;

/** Field checks of the room messages a server sends, and the field `room` adds to `deliver`. */
export const ROOM_SERVER_SPECS = {
  "room-entries": {
    re: optional(id),
    room: roomId,
    entries: arrayOf(entryB64, MAX_ENTRIES_PER_MESSAGE),
    name: optional(name),
  },
  "room-sent": {
    re: id,
    room: roomId,
    relayed: arrayOf(name, MAX_ROOM_MEMBERS_LISTED),
    queued: arrayOf(object({ name, qseq: id }), MAX_ROOM_MEMBERS_LISTED),
    refused: arrayOf(
      object({ name, code: errorCode, message: str(TEXT_MAX * 4) }),
      MAX_ROOM_MEMBERS_LISTED,
    ),
  },
  rooms: {
    rooms: arrayOf(
      object({ room: roomId, name, seq: uint(), head: hashB64 }),
      MAX_ROOMS_LISTED,
    ),
  },
} satisfies Record<string, Record<string, Check>>;

/** The field a room message's `deliver` adds: the room it was sent to. */
export const ROOM_DELIVER_EXTRA: Record<string, Check> = { room: optional(roomId) };
