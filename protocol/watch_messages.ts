/**
 * The messages of watching together (protocol version 3, with rooms and offline delivery): a
 * member asks the server's clock (`time`, answered `time-is`), controls the room's shared playback
 * (`room-control`), and every member online hears the room's timeline (`room-playback`). The
 * timeline is the server's, in the server's milliseconds; each member streams the title alone, in
 * its own quality, with the ordinary `play`/`seek`/`pause`/`resume`, and keeps its picture on the
 * timeline (protocol/watch_sync.ts). See docs/watch-together.md.
 * @module
 */

import {
  type Check,
  id,
  name,
  NAME_MAX,
  num,
  oneOf,
  optional,
  str,
  uint,
} from "./messages_checks.ts";
import { roomId } from "./room_messages.ts";

/** What a member does to the room's playback. */
export const WATCH_ACTIONS = ["play", "pause", "resume", "seek", "stop"] as const;
/** What a member does to the room's playback. */
export type WatchAction = typeof WATCH_ACTIONS[number];

/** Asks the server's clock; answered by `time-is` (NTP-style offset, protocol/watch_sync.ts). */
export interface TimeMessage {
  type: "time";
  id: number;
}
/** The server's clock when it read the `time` request, ms since the epoch (fractional). */
export interface TimeIsMessage {
  type: "time-is";
  re: number;
  server: number;
}

/**
 * Changes the room's shared playback: `play` a title (from `position`, 0 if absent), `pause`,
 * `resume`, `seek` to `position`, `stop` it for everyone. Answered by `room-playback` with `re`
 * (the new timeline), or an `error` (`ROOM_NOT_FOUND`, `NOT_A_MEMBER`, `NOT_ALLOWED` in a room
 * whose settings say `control: "host"` when the sender is not the owner, `VIDEO_NOT_FOUND`,
 * `VIDEO_NOT_READY`, `BAD_MESSAGE` for a `play` without a title or a `seek` without a position).
 */
export interface RoomControlMessage {
  type: "room-control";
  id: number;
  room: string;
  action: WatchAction;
  /** The title, for `play`. */
  title?: string;
  /** Seconds into the title, for `seek` (and optionally `play`). */
  position?: number;
}

/**
 * A room's timeline, sent to every member online when it changes (`action` is what changed it,
 * `by` who), to the member who changed it with `re`, and after `welcome` (and to a member who
 * just joined the room) with `action: "state"` for each room that has a title. The position at
 * server time `t` is `position + (t − anchor) × rate / 1000` (protocol/watch_sync.ts). After
 * `stop`, `title` is absent.
 */
export interface RoomPlaybackMessage {
  type: "room-playback";
  re?: number;
  room: string;
  /** What made this timeline: a member's action, or `state` (no change, just the state). */
  action: WatchAction | "state";
  /** Who made the change; absent for `state` and for what the server did alone. */
  by?: string;
  /** The title; absent once stopped. */
  title?: string;
  /** One more with every change of this room's timeline: a client drops an older one. */
  epoch: number;
  /** Server time of `position`, ms since the epoch. */
  anchor: number;
  /** Seconds into the title at `anchor`. */
  position: number;
  /** 1 playing, 0 paused (or stopped). */
  rate: 0 | 1;
}

/** The title field of `room-control`: as long as `play`'s. */
const title = str(NAME_MAX * 4);

/** Field checks of the watch messages a client sends. */
export const WATCH_CLIENT_SPECS = {
  time: { id },
  "room-control": {
    id,
    room: roomId,
    action: oneOf(WATCH_ACTIONS),
    title: optional(title),
    position: optional(num),
  },
} satisfies Record<string, Record<string, Check>>;

/** Field checks of the watch messages a server sends. */
export const WATCH_SERVER_SPECS = {
  "time-is": { re: id, server: num },
  "room-playback": {
    re: optional(id),
    room: roomId,
    action: oneOf([...WATCH_ACTIONS, "state"]),
    by: optional(name),
    title: optional(title),
    epoch: uint(),
    anchor: num,
    position: num,
    rate: oneOf([0, 1]),
  },
} satisfies Record<string, Record<string, Check>>;
