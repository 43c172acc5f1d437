/**
 * Rooms in cluster mode (issue 20): every room's chain of signed entries in Redis, shared by the
 * nodes. A node appends an entry only at the seq it expects the room's head to be at, in one Lua
 * script ({@linkcode APPEND_ROOM}), so that two nodes that checked one seq each cannot both store
 * it: the second is told the head moved and refuses its change as `CHAIN_INVALID`, as a single
 * server refuses the second of two changes raced to one seq. Each accepted append is announced on
 * the rooms channel with the room and the seq; a node that did not make it reads the room's tail
 * from there ({@linkcode ClusterRoomLog.tail}) and applies it in order. Keys share the prefix of
 * `cluster_scripts.ts`:
 *
 * | key                 | type   | holds                                                      |
 * | ------------------- | ------ | ---------------------------------------------------------- |
 * | `P rooms`           | set    | the ids of every room                                      |
 * | `P roomnames`       | hash   | each room name's look-alike key → the room id holding it   |
 * | `P room:ID`         | list   | the room's records (`room_store.ts` lines), index = seq    |
 * | `P rooms` (channel) | pubsub | `ID SEQ`: the room's entry SEQ was stored                  |
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { Script } from "./cluster_scripts.ts";
import { parseRoomRecord, ROOM_ID, type RoomRecord, roomRecordLine } from "./room_store.ts";

/**
 * Appends one record to a room at an expected seq: ARGV = prefix, room id, seq, the record's
 * line, then (a room's `create`) the look-alike keys of its name. Answers 1 when stored (and
 * announced on the rooms channel; a create's name keys then held by the room), 0 when the room's
 * list does not hold exactly `seq` records (another node stored that seq first, or a gap), 2 when
 * another room holds one of the name's keys (room names are unique by skeleton in the cluster).
 */
export const APPEND_ROOM: Script = {
  name: "append-room",
  lua: `local P, room, seq, line = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local key = P..'room:'..room
if redis.call('LLEN', key) ~= seq then return 0 end
for i = 5, #ARGV do
  if redis.call('HEXISTS', P..'roomnames', ARGV[i]) == 1 then return 2 end
end
for i = 5, #ARGV do redis.call('HSET', P..'roomnames', ARGV[i], room) end
redis.call('RPUSH', key, line)
redis.call('SADD', P..'rooms', room)
redis.call('PUBLISH', P..'rooms', room..' '..seq)
return 1`,
};

/** What became of an append: stored, the head moved on, or the room's name is held. */
export type AppendOutcome = "stored" | "moved" | "name-taken";

/** What a node needs of its Redis link (`redis_link.ts`). */
export interface RoomLink {
  /** Runs a script. */
  run(script: Script, args: readonly string[]): Promise<unknown>;
  /** Sends one command. */
  command(args: string[]): Promise<unknown>;
}

/** A notice on the rooms channel: the room's entry `seq` was stored. */
export interface RoomNotice {
  /** The room id. */
  room: string;
  /** The seq stored. */
  seq: number;
}

/**
 * Reads a notice from the rooms channel.
 *
 * @param bytes The message.
 * @returns The notice, or undefined when it is not one.
 */
export function parseRoomNotice(bytes: Uint8Array): RoomNotice | undefined {
  const match = /^([A-Za-z0-9_-]{22}) (0|[1-9][0-9]{0,8})$/.exec(new TextDecoder().decode(bytes));
  if (match === null) return undefined;
  return { room: match[1], seq: Number(match[2]) };
}

/** Every room's chain in Redis, for the nodes of one cluster. */
export class ClusterRoomLog {
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

  /** The channel appends are announced on. */
  get channel(): string {
    return `${this.#prefix}rooms`;
  }

  /**
   * Every room's records, oldest first.
   *
   * @returns The rooms by id.
   * @throws {PeerstreamError} `INTERNAL` when a stored record is not one.
   */
  async load(): Promise<Map<string, RoomRecord[]>> {
    const out = new Map<string, RoomRecord[]>();
    for (const id of await this.ids()) {
      const records = await this.tail(id, 0);
      if (records.length > 0) out.set(id, records);
    }
    return out;
  }

  /**
   * The ids of every room, sorted.
   *
   * @returns The ids (anything in the set that is not a room id left out).
   */
  async ids(): Promise<string[]> {
    const ids = await this.#link.command(["SMEMBERS", `${this.#prefix}rooms`]);
    return (Array.isArray(ids) ? ids.map(String) : []).filter((id) => ROOM_ID.test(id)).sort();
  }

  /**
   * A room's records from a seq on.
   *
   * @param room The room id.
   * @param from The first seq wanted.
   * @returns The records, in order (none past the head).
   * @throws {PeerstreamError} `INTERNAL` when a stored record is not one.
   */
  async tail(room: string, from: number): Promise<RoomRecord[]> {
    const lines = await this.#link.command([
      "LRANGE",
      `${this.#prefix}room:${room}`,
      String(from),
      "-1",
    ]);
    return (Array.isArray(lines) ? lines : []).map((line, i) => {
      const record = parseRoomRecord(String(line));
      if (record !== undefined) return record;
      throw new PeerstreamError(
        "INTERNAL",
        `Cannot load the room "${room}": its record ${
          from + i
        } in Redis is not a room record; delete the key "${this.#prefix}room:${room}" to drop that room`,
      );
    });
  }

  /**
   * Stores a room's record at a seq, if the room holds exactly the records before it (and, for
   * a room's `create`, no other room holds its name).
   *
   * @param room The room id.
   * @param seq The entry's seq (0 for the room's `create`).
   * @param record The record.
   * @param options For a `create`: the look-alike keys of the room's name (`nameKeys`).
   * @returns `stored`; `moved` when another node stored that seq first; `name-taken` when another
   * room holds the name.
   */
  async append(
    room: string,
    seq: number,
    record: RoomRecord,
    options: { nameKeys?: readonly string[] } = {},
  ): Promise<AppendOutcome> {
    if (!ROOM_ID.test(room)) throw new RangeError(`Invalid room id "${room}"`);
    const reply = await this.#link.run(APPEND_ROOM, [
      this.#prefix,
      room,
      String(seq),
      roomRecordLine(record),
      ...options.nameKeys ?? [],
    ]);
    const outcome = Number(reply);
    return outcome === 1 ? "stored" : outcome === 2 ? "name-taken" : "moved";
  }
}
