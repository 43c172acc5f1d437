/**
 * What room requests and watching together work with: the rooms, how to reach their members here,
 * the clock and the shared timelines, and the fingerprint of the signing key a name holds now.
 * Its own module so that `room_requests.ts` and `watch_requests.ts` do not import each other.
 * @module
 */

import { createHash } from "node:crypto";
import { PeerstreamError } from "../protocol/errors.ts";
import type { RoomChange, Rooms, StagedChange } from "./community/rooms.ts";
import type { RoomTimelines, Timeline } from "./community/room_timelines.ts";
import type { Community } from "./community/community.ts";
import type { ServerClient } from "./member.ts";

/** What knows the keys each name holds: the community. */
export type KeysKnown = { readonly community: Pick<Community<ServerClient>, "lookup"> };

/** The rooms of a server and how to reach their members here. */
export interface RoomContext {
  /** The rooms. */
  readonly rooms: Rooms;
  /** The connection of a name online on this server, if it is. */
  connectionOf(name: string): ServerClient | undefined;
  /** The server's clock, ms. @default {Date.now} */
  now?: () => number;
  /**
   * Stores and applies a staged change (cluster mode: at its seq in Redis, `CHAIN_INVALID` when
   * another node took it first). Without it the change is stored and applied at once.
   */
  apply?: (stage: (rooms: Rooms) => StagedChange) => Promise<RoomChange>;
  /** The rooms' shared timelines (watching together), as this server knows them. */
  readonly timelines: RoomTimelines;
  /** The clock of timelines and `time-is`, ms since the epoch. @default {serverClock} */
  clock?: () => number;
  /**
   * Makes a room's next timeline where the cluster keeps it (Redis, at the next epoch) and tells
   * every node; without it the change is made here and told to this server's members.
   */
  changeTimeline?: (
    room: string,
    change: (current: Timeline | undefined) => Timeline,
  ) => Promise<Timeline>;
}

/** Fingerprints of signing keys already computed (one per person, a few hundred bytes each). */
const pinCache = new Map<string, string>();
const PIN_CACHE_MAX = 10_000;

/**
 * The fingerprint (`KeyPins.sign`: SHA-256 of the SPKI key, hex) of the signing key a name holds
 * on this server now, computed synchronously so that a room-send stays one synchronous step.
 *
 * @param name The name.
 * @param ctx The server's parts (its community knows the keys).
 * @returns The fingerprint, or undefined for a name the server does not know.
 */
export function signPinOf(
  name: string,
  ctx: KeysKnown,
): string | undefined {
  const signKey = ctx.community.lookup(name)?.keys.signKey;
  if (signKey === undefined) return undefined;
  let pin = pinCache.get(signKey);
  if (pin === undefined) {
    pin = createHash("sha256").update(Uint8Array.fromBase64(signKey)).digest("hex");
    if (pinCache.size >= PIN_CACHE_MAX) pinCache.delete(pinCache.keys().next().value!);
    pinCache.set(signKey, pin);
  }
  return pin;
}

/**
 * The server's rooms, or `UNAVAILABLE` for a server started without them.
 *
 * @param rooms The rooms, if the server has them.
 * @param action What could not be done, for the message ("use rooms").
 * @throws {PeerstreamError} `UNAVAILABLE`.
 */
export function requireRooms(rooms: RoomContext | undefined, action: string): RoomContext {
  if (rooms === undefined) {
    throw new PeerstreamError(
      "UNAVAILABLE",
      `Cannot ${action}: this server was started without rooms; ask the operator`,
    );
  }
  return rooms;
}
