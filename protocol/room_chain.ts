/**
 * A room's membership as a signed chain (protocol version 3): {@linkcode applyEntry}, the pure
 * state machine that enforces who may do what, and the {@linkcode RoomState} it builds. The entry
 * itself (type, canonical encoding, signing, verifying, hash) is in `room_entry.ts`, re-exported
 * here for callers that import the chain. The server stores and forwards entries; it cannot write
 * one, and every client checks the whole chain before it uses a room.
 * @module
 */

import { PeerstreamError } from "./errors.ts";
import {
  chainInvalid as invalid,
  type HashedEntry,
  type KeyPins,
  type RoomEntry,
  type RoomOp,
  type RoomSettings,
} from "./room_entry.ts";

export {
  canonicalJson,
  encodeEntry,
  hashEntry,
  isRoomId,
  keyPins,
  MAX_ENTRY_B64,
  MAX_ENTRY_BYTES,
  newRoomId,
  parseEntry,
  readEntry,
  ROOM_CONTEXT,
  ROOM_ID_BYTES,
  ROOM_OPS,
  signEntry,
  verifyEntry,
} from "./room_entry.ts";
export type {
  HashedEntry,
  KeyPins,
  RoomEntry,
  RoomOp,
  RoomSettings,
  SignedEntry,
} from "./room_entry.ts";

/** A pending invitation. */
export interface Invitation {
  /** The invitee's pinned keys. */
  keys: KeyPins;
  /** Who invited them. */
  by: string;
}

/** A room's state after a checked chain: immutable, a new one per entry. */
export interface RoomState {
  /** The room id. */
  room: string;
  /** The last entry's seq. */
  seq: number;
  /** The last entry's hash: the room's fingerprint. */
  head: string;
  /** The owner, always a member. */
  owner: string;
  /** Members and their pinned keys, in the order they joined. */
  members: ReadonlyMap<string, KeyPins>;
  /** Pending invitations by invitee. */
  invitees: ReadonlyMap<string, Invitation>;
  /** The settings. */
  settings: RoomSettings;
}

/** Limits a chain must keep. */
export interface RoomLimits {
  /** Most members plus pending invitees of a room. @default {100} */
  maxMembers?: number;
  /** Most entries in a chain. @default {10000} */
  maxEntries?: number;
}

/** The default {@linkcode RoomLimits}; see "Limits" in docs/protocol-v3.md. */
export const ROOM_LIMITS: Readonly<Required<RoomLimits>> = { maxMembers: 100, maxEntries: 10_000 };

/** Options for {@linkcode applyEntry}. */
export interface ApplyOptions extends RoomLimits {
  /**
   * The fingerprint ({@linkcode KeyPins.sign}) of the key the entry's signature was verified with.
   * Every entry must be signed by the key the chain pins for its author: `create` by the key it
   * pins, `accept` and `decline` by the key the invite pinned, any other by the member's pinned
   * key. Without it every entry is refused.
   */
  signedBy?: string;
}
/**
 * Applies one entry to a room's state, enforcing the op table: seq and `prev` continuity, who may
 * make each op, each entry signed by the key the chain pins for its author (`accept` by the key
 * the invite pinned), an owner who hands over before
 * leaving, and the limits. The signature itself is checked by the caller ({@linkcode verifyEntry})
 * with the author's key as it knows it, whose fingerprint it passes as `signedBy`.
 *
 * @example
 * ```ts
 * let state = applyEntry(undefined, create, { signedBy: alicePins.sign });
 * state = applyEntry(state, invite); // alice invites bob
 * state = applyEntry(state, accept, { signedBy: bobPins.sign });
 * ```
 *
 * @param state The state so far; undefined before `create`.
 * @param hashed The next entry, parsed and hashed.
 * @param options The verified signer's fingerprint and the limits.
 * @returns The new state (the old one is unchanged).
 * @throws {PeerstreamError} `CHAIN_INVALID` (seq, prev or room break the chain), `NOT_A_MEMBER`,
 * `NOT_ALLOWED` (the op is not this author's to make now) or `ROOM_LIMIT`.
 */
export function applyEntry(
  state: RoomState | undefined,
  hashed: HashedEntry,
  options: ApplyOptions = {},
): RoomState {
  const { entry } = hashed;
  const maxEntries = options.maxEntries ?? ROOM_LIMITS.maxEntries;
  if (state === undefined) return applyCreate(hashed, options);
  if (entry.room !== state.room) {
    throw invalid(`entry ${entry.seq} belongs to room ${entry.room}, not ${state.room}`);
  }
  if (entry.seq !== state.seq + 1) {
    throw invalid(`entry ${entry.seq} follows ${state.seq}; expected ${state.seq + 1}`);
  }
  if (entry.prev !== state.head) {
    throw invalid(`entry ${entry.seq} names a previous entry that is not ${state.seq}`);
  }
  if (entry.seq >= maxEntries) {
    throw new PeerstreamError(
      "ROOM_LIMIT",
      `Cannot ${entry.op} in room ${state.room}: it has ${maxEntries} entries, the most a chain keeps; start a new room`,
    );
  }
  const next = OPS[entry.op](state, entry, options);
  return { ...next, seq: entry.seq, head: hashed.hash };
}

type OpRule = (
  state: RoomState,
  entry: RoomEntry,
  options: ApplyOptions,
) => Omit<RoomState, "seq" | "head">;

const OPS: Record<RoomOp, OpRule> = {
  create: (state) => {
    throw invalid(`room ${state.room} already exists; "create" must be entry 0`);
  },
  invite: (state, entry, options) => {
    requireMember(state, entry, options);
    if (state.settings.invite === "owner" && entry.author !== state.owner) {
      throw notAllowed(entry, `only the owner "${state.owner}" may invite in this room`);
    }
    if (state.members.has(entry.subject)) {
      throw notAllowed(entry, `"${entry.subject}" is already a member`);
    }
    if (state.invitees.has(entry.subject)) {
      throw notAllowed(entry, `"${entry.subject}" is already invited; wait for an answer`);
    }
    const max = options.maxMembers ?? ROOM_LIMITS.maxMembers;
    if (state.members.size + state.invitees.size >= max) {
      throw new PeerstreamError(
        "ROOM_LIMIT",
        `Cannot invite "${entry.subject}": the room has ${state.members.size} members and ${state.invitees.size} invited, the most is ${max}; remove someone first`,
      );
    }
    const invitees = new Map(state.invitees);
    invitees.set(entry.subject, { keys: entry.keys!, by: entry.author });
    return { ...state, invitees };
  },
  accept: (state, entry, options) => {
    const invitation = requireInvitee(state, entry, options);
    const invitees = new Map(state.invitees);
    invitees.delete(entry.author);
    const members = new Map(state.members);
    members.set(entry.author, invitation.keys);
    return { ...state, members, invitees };
  },
  decline: (state, entry, options) => {
    requireInvitee(state, entry, options);
    const invitees = new Map(state.invitees);
    invitees.delete(entry.author);
    return { ...state, invitees };
  },
  leave: (state, entry, options) => {
    requireMember(state, entry, options);
    if (entry.author === state.owner) {
      throw notAllowed(entry, "the owner must hand the room over first; use HANDOVER");
    }
    const members = new Map(state.members);
    members.delete(entry.author);
    return { ...state, members };
  },
  remove: (state, entry, options) => {
    requireOwner(state, entry, options);
    requireSubjectMember(state, entry);
    const members = new Map(state.members);
    members.delete(entry.subject);
    return { ...state, members };
  },
  handover: (state, entry, options) => {
    requireOwner(state, entry, options);
    requireSubjectMember(state, entry);
    return { ...state, owner: entry.subject };
  },
  settings: (state, entry, options) => {
    requireOwner(state, entry, options);
    return { ...state, settings: entry.settings! };
  },
};

function applyCreate(hashed: HashedEntry, options: ApplyOptions): RoomState {
  const { entry } = hashed;
  if (entry.op !== "create") {
    throw invalid(
      `the chain starts with "${entry.op}" at ${entry.seq}; it must start with "create"`,
    );
  }
  if (options.signedBy !== entry.keys!.sign) {
    throw notAllowed(entry, `it is not signed by the key it pins for "${entry.author}"`);
  }
  return {
    room: entry.room,
    seq: 0,
    head: hashed.hash,
    owner: entry.author,
    members: new Map([[entry.author, entry.keys!]]),
    invitees: new Map(),
    settings: entry.settings!,
  };
}

function requireMember(state: RoomState, entry: RoomEntry, options: ApplyOptions): void {
  const pins = state.members.get(entry.author);
  if (pins === undefined) {
    throw new PeerstreamError(
      "NOT_A_MEMBER",
      `Cannot ${entry.op} in room ${state.room} at ${entry.seq}: "${entry.author}" is not a member`,
    );
  }
  if (options.signedBy !== pins.sign) {
    throw notAllowed(entry, `it is not signed by the key the chain pins for "${entry.author}"`);
  }
}

function requireOwner(state: RoomState, entry: RoomEntry, options: ApplyOptions): void {
  requireMember(state, entry, options);
  if (entry.author !== state.owner) {
    throw notAllowed(entry, `only the owner "${state.owner}" may ${entry.op}`);
  }
}

function requireSubjectMember(state: RoomState, entry: RoomEntry): void {
  if (!state.members.has(entry.subject)) {
    throw new PeerstreamError(
      "NOT_A_MEMBER",
      `Cannot ${entry.op} "${entry.subject}" in room ${state.room} at ${entry.seq}: not a member`,
    );
  }
}

function requireInvitee(state: RoomState, entry: RoomEntry, options: ApplyOptions): Invitation {
  const invitation = state.invitees.get(entry.author);
  if (invitation === undefined) {
    throw notAllowed(entry, `"${entry.author}" is not invited`);
  }
  if (options.signedBy !== invitation.keys.sign) {
    throw notAllowed(entry, `it is not signed by the key the invite pinned for "${entry.author}"`);
  }
  return invitation;
}

function notAllowed(entry: RoomEntry, why: string): PeerstreamError {
  return new PeerstreamError(
    "NOT_ALLOWED",
    `Cannot ${entry.op} in room ${entry.room} at ${entry.seq} as "${entry.author}": ${why}`,
  );
}
