/**
 * Rooms' shared timelines in cluster mode (watching together, issue 21): each room's timeline is
 * one key in Redis, replaced only by a node that read the value it replaces
 * ({@linkcode STORE_TIMELINE}, a compare-and-set in one Lua script), so that two nodes that
 * changed one epoch cannot both store it. Each stored timeline is published on the timelines
 * channel, and every node keeps it and tells its own members (`cluster_timeline_sync.ts`). Keys
 * share the prefix of `cluster_scripts.ts`:
 *
 * | key                     | type   | holds                                           |
 * | ----------------------- | ------ | ----------------------------------------------- |
 * | `P timeline:ID`         | string | the room's timeline ({@linkcode timelineLine})   |
 * | `P timelines` (channel) | pubsub | `ID LINE`: the room's timeline LINE was stored  |
 *
 * What comes from Redis is checked ({@linkcode parseTimeline}) before a node believes it.
 * @module
 */

import { WATCH_ACTIONS, type WatchAction } from "../../protocol/watch_messages.ts";
import type { Script } from "./cluster_scripts.ts";
import type { RoomLink } from "./cluster_rooms.ts";
import { parseJsonObject, ROOM_ID } from "./room_store.ts";
import type { Timeline } from "./room_timelines.ts";

/**
 * Replaces a room's timeline if it still holds the value the node read: ARGV = prefix, room id,
 * the value read (`""` when there was none), the new line. Answers 1 when stored (and published
 * on the timelines channel), 0 when the key holds another value (another node stored first), 2
 * when the key is not a string (corrupt: nothing written).
 */
export const STORE_TIMELINE: Script = {
  name: "store-timeline",
  lua: `local P, room, read, line = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = P..'timeline:'..room
local kind = redis.call('TYPE', key).ok
if kind ~= 'none' and kind ~= 'string' then return 2 end
local now = redis.call('GET', key)
if now == false then now = '' end
if now ~= read then return 0 end
redis.call('SET', key, line)
redis.call('PUBLISH', P..'timelines', room..' '..line)
return 1`,
};

/** The longest timeline line believed (a title is a short name; the line is under 1 KiB). */
export const MAX_TIMELINE_LINE = 4096;

/**
 * A timeline as stored and published: JSON with its fields in a fixed order.
 *
 * @param timeline The timeline.
 * @returns Its line.
 */
export function timelineLine(timeline: Timeline): string {
  const { title, duration, epoch, anchor, position, rate, action, by } = timeline;
  return JSON.stringify({ title, duration, epoch, anchor, position, rate, action, by });
}

const ACTIONS: ReadonlySet<string> = new Set(WATCH_ACTIONS);

/**
 * Reads a timeline from Redis, checked field by field.
 *
 * @param line A stored value or the tail of a notice.
 * @returns The timeline, or undefined when the line is not one.
 */
export function parseTimeline(line: string): Timeline | undefined {
  if (line.length > MAX_TIMELINE_LINE) return undefined;
  const v = parseJsonObject(line);
  if (v === undefined) return undefined;
  const { title, duration, epoch, anchor, position, rate, action, by } = v;
  const finite = (n: unknown, min: number): n is number =>
    typeof n === "number" && Number.isFinite(n) && n >= min;
  if (title !== undefined && (typeof title !== "string" || title === "")) return undefined;
  if (!finite(duration, 0) || !finite(anchor, 0) || !finite(position, 0)) return undefined;
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) return undefined;
  if (rate !== 0 && rate !== 1) return undefined;
  if (typeof action !== "string" || !ACTIONS.has(action)) return undefined;
  if (typeof by !== "string" || by === "") return undefined;
  const timeline: Timeline = {
    duration,
    epoch: epoch as number,
    anchor,
    position,
    rate,
    action: action as WatchAction,
    by,
  };
  if (title !== undefined) timeline.title = title;
  return timeline;
}

/** A notice on the timelines channel: the room's timeline was stored. */
export interface TimelineNotice {
  /** The room id. */
  room: string;
  /** Its timeline. */
  timeline: Timeline;
}

/**
 * Reads a notice from the timelines channel.
 *
 * @param bytes The message.
 * @returns The notice, or undefined when it is not one.
 */
export function parseTimelineNotice(bytes: Uint8Array): TimelineNotice | undefined {
  if (bytes.length > 23 + MAX_TIMELINE_LINE) return undefined;
  const text = new TextDecoder().decode(bytes);
  const room = text.slice(0, 22);
  if (text[22] !== " " || !ROOM_ID.test(room)) return undefined;
  const timeline = parseTimeline(text.slice(23));
  return timeline === undefined ? undefined : { room, timeline };
}

/** What became of a store: stored, another node stored first, or the key is corrupt. */
export type StoreOutcome = "stored" | "moved" | "corrupt";

/** A room's timeline as read from Redis: the raw value (for the compare-and-set) and its reading. */
export interface StoredTimeline {
  /** The value, `""` when the key is absent. */
  raw: string;
  /** The timeline, undefined when absent or not one. */
  timeline?: Timeline;
}

/** The rooms' timelines in Redis, on one node's link. */
export class ClusterTimelineStore {
  readonly #link: RoomLink;
  readonly #prefix: string;

  /**
   * @param link The node's Redis link.
   * @param prefix The cluster's key prefix. @default {"peerstream:"}
   */
  constructor(link: RoomLink, prefix = "peerstream:") {
    this.#link = link;
    this.#prefix = prefix;
  }

  /** The channel stored timelines are published on. */
  get channel(): string {
    return `${this.#prefix}timelines`;
  }

  /** The key of a room's timeline. */
  key(room: string): string {
    return `${this.#prefix}timeline:${room}`;
  }

  /**
   * Reads rooms' timelines, 500 keys per command.
   *
   * @param rooms Room ids.
   * @returns What each holds, in the order given (a key of another type reads as absent).
   */
  async read(rooms: readonly string[]): Promise<StoredTimeline[]> {
    const out: StoredTimeline[] = [];
    for (let at = 0; at < rooms.length; at += 500) {
      const keys = rooms.slice(at, at + 500).map((room) => this.key(room));
      const reply = await this.#link.command(["MGET", ...keys]);
      const values = Array.isArray(reply) ? reply : [];
      for (let i = 0; i < keys.length; i++) {
        const value = values[i];
        const raw = typeof value === "string" ? value : "";
        out.push(raw === "" ? { raw } : { raw, timeline: parseTimeline(raw) });
      }
    }
    return out;
  }

  /**
   * Replaces a room's timeline if Redis still holds the value read.
   *
   * @param room The room id.
   * @param read The value read (`""`: none).
   * @param timeline The new timeline.
   * @returns `stored`, `moved` when the value changed since, `corrupt` when the key is no string.
   */
  async store(room: string, read: string, timeline: Timeline): Promise<StoreOutcome> {
    if (!ROOM_ID.test(room)) throw new RangeError(`Invalid room id "${room}"`);
    const reply = Number(
      await this.#link.run(STORE_TIMELINE, [this.#prefix, room, read, timelineLine(timeline)]),
    );
    return reply === 1 ? "stored" : reply === 2 ? "corrupt" : "moved";
  }

  /**
   * Redis's clock (`TIME`).
   *
   * @returns ms since the epoch, with a fraction.
   * @throws {Error} When Redis does not answer, or answers something else than a time.
   */
  async time(): Promise<number> {
    const reply = await this.#link.command(["TIME"]);
    const ms = parseRedisTime(reply);
    if (ms === undefined) throw new Error(`Redis answered TIME with ${JSON.stringify(reply)}`);
    return ms;
  }
}

/**
 * Reads Redis's answer to `TIME`: seconds and microseconds, as two strings of digits.
 *
 * @param reply The reply.
 * @returns ms since the epoch, or undefined when the reply is not a time.
 */
export function parseRedisTime(reply: unknown): number | undefined {
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const [seconds, micros] = reply.map(String);
  if (!/^[0-9]{1,12}$/.test(seconds) || !/^[0-9]{1,6}$/.test(micros)) return undefined;
  return Number(seconds) * 1000 + Number(micros) / 1000;
}
