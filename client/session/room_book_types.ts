/**
 * The shapes `RoomBook` takes and gives: its options, requests, storage, and what it
 * reports. Re-exported by `./rooms.ts`, where importers find them.
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import type { ClientMessage, RoomEntriesMessage } from "../../protocol/messages.ts";
import type { ReplayGuard } from "../../protocol/replay.ts";
import type { RoomEntry, RoomLimits } from "../../protocol/room_chain.ts";
import type { KeyTrust } from "../known_peers.ts";
import type { InboxSelf } from "./inbox.ts";
import type { TrustedKeys } from "./keys.ts";
import type { RoomHigh } from "./room_words.ts";

/** A room as this client has checked it. */
export interface RoomView {
  /** The room id. */
  id: string;
  /** The display name (typed as `#name`). */
  name: string;
  /** The last checked seq; -1 before any. */
  seq: number;
  /** The room's fingerprint: the hash of its last checked entry. */
  head: string;
  /** The owner. */
  owner: string;
  /** Members, in the order they joined. */
  members: string[];
  /** Pending invitees. */
  invitees: string[];
  /** Who invited each pending invitee (as the checked chain says). */
  invitedBy: Record<string, string>;
  /** Who controls shared playback: every member, or the owner (host) only. */
  control: "all" | "host";
  /** Why the room is read-only (a rollback, a fork, an entry refused), if it is. */
  broken?: string;
}

/** What `room-send` answered: who got it, who it waits for, who it could not reach. */
export interface RoomSendOutcome {
  /**
   * The `room-send` request's id: each member's receipt comes later as `delivered` with this id
   * (`SessionEvents.roomDelivered`).
   */
  re?: number;
  /** Members online it went to. */
  relayed: string[];
  /** Members offline it waits for. */
  queued: string[];
  /** Members it could not reach, and why. */
  refused: { name: string; message: string }[];
}

/** What checking a room again found (`RoomBook.check`). */
export interface RoomCheck {
  /** The room after the check. */
  room: RoomView;
  /** It was read-only before the check. */
  wasBroken: boolean;
  /**
   * Why it stays read-only: the server's history, fetched again from entry 0, does not extend
   * the one this client checked. Undefined when it does (the room is usable).
   */
  still?: string;
}

/** The room requests, as the session sends them. */
export interface RoomRequests {
  /** `room-create`, answered by `room-entries`. */
  create(name: string, entry: string): Promise<RoomEntriesMessage>;
  /** `room-change`, answered by `room-entries`. */
  change(room: string, entry: string): Promise<RoomEntriesMessage>;
  /** `room-chain`, answered by `room-entries`. */
  chain(room: string, from: number): Promise<RoomEntriesMessage>;
  /** `room-send`. */
  send(room: string, body: Uint8Array): Promise<RoomSendOutcome>;
}

/** What persists between runs: the origin, and per room the furthest point seen and a counter. */
export interface RoomMemory {
  /** This installation's 8 random bytes, hex. */
  origin: string;
  /** Per room id. */
  rooms: Record<string, RoomHigh & { counter: number }>;
}

/** Loads and saves {@linkcode RoomMemory}; `save` must be atomic. */
export interface RoomStorage {
  /** Reads it; undefined when none was saved. */
  load(): RoomMemory | undefined;
  /** Writes it. */
  save(memory: RoomMemory): void;
}

/** A verified room message. */
export interface IncomingRoomMessage {
  /** The room id. */
  room: string;
  /** The room's display name. */
  roomName: string;
  /** The sender, verified by signature and membership. */
  from: string;
  /** The text. */
  text: string;
  /** When sealed. */
  sentAt: number;
  /** Trust in the sender's key. */
  trust: KeyTrust;
  /** It waited on the server while this client was offline. */
  queued?: boolean;
}

/** Options for {@linkcode RoomBook}. */
export interface RoomBookOptions {
  /** Who this client is; undefined before registration. */
  self(): InboxSelf | undefined;
  /** A peer's keys (the key cache: trust on first use). */
  keys(name: string): Promise<TrustedKeys>;
  /** The room requests. */
  requests: RoomRequests;
  /** Sends a receipt. */
  send(message: ClientMessage): void;
  /** Refuses replays (shared with 1:1 messages). */
  replay: ReplayGuard;
  /** Where the furthest points seen persist; in memory when absent. */
  storage?: RoomStorage;
  /** The chain limits. */
  limits?: RoomLimits;
  /** Most rooms tracked. @default {200} */
  maxRooms?: number;
  /**
   * A checked change, in words, and the entry itself (for a page to word it its own way); no
   * entry for the line that sums up a long history's earlier changes.
   */
  change?(room: RoomView, words: string, entry?: RoomEntry): void;
  /** A verified room message. */
  message?(message: IncomingRoomMessage): void;
  /** Something refused or wrong; `from` names a sender when it is about one. */
  warning?(text: string, code: ErrorCode, from?: string): void;
}
