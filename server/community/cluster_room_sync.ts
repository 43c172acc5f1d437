/**
 * One cluster node's rooms (issue 20): its {@linkcode Rooms} state kept in step with the chains
 * in Redis ({@linkcode ClusterRoomLog}). A change made here is checked against the head held
 * here, stored at its seq in Redis (refused as `CHAIN_INVALID` when another node stored that seq
 * first, after which this node reads what it missed), then applied; a change stored by another
 * node is read from the room's tail when its notice arrives and applied in order, and the node is
 * told of it to push it to its own members online. Everything that touches the state runs one at
 * a time, so a local change and a learned one never interleave.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { nameKeys } from "../../protocol/names.ts";
import { quoted } from "../../protocol/text.ts";
import {
  type AppendOutcome,
  type ClusterRoomLog,
  parseRoomNotice,
  type RoomNotice,
} from "./cluster_rooms.ts";
import { type RoomChange, Rooms, type RoomServerLimits, type StagedChange } from "./rooms.ts";

/** Options for {@linkcode ClusterRooms.open}. */
export interface ClusterRoomsOptions {
  /** The room bounds; missing fields take the defaults of `rooms.ts`. @default {{}} */
  limits?: Partial<RoomServerLimits>;
  /** A change another node stored, now applied here: push it to the members online here. */
  onLearned?: (change: RoomChange) => void;
  /** A line for the server's log (a room that could not be read back). */
  log?: (line: string) => void;
}

/** A node's rooms, shared with the other nodes through Redis. */
export class ClusterRooms {
  readonly #rooms: Rooms;
  readonly #log: ClusterRoomLog;
  readonly #options: ClusterRoomsOptions;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(rooms: Rooms, log: ClusterRoomLog, options: ClusterRoomsOptions) {
    this.#rooms = rooms;
    this.#log = log;
    this.#options = options;
  }

  /**
   * Loads every room the cluster holds.
   *
   * @param log The rooms in Redis.
   * @param options Limits and what to do with changes learned from other nodes.
   * @returns The node's rooms.
   * @throws {PeerstreamError} `INTERNAL` when a stored chain does not check.
   */
  static async open(log: ClusterRoomLog, options: ClusterRoomsOptions = {}): Promise<ClusterRooms> {
    const loaded = await log.load();
    const rooms = await Rooms.open({
      load: () => loaded,
      append: () => {
        throw new Error("Cannot store a room change here: cluster rooms store through Redis");
      },
    }, options.limits);
    return new ClusterRooms(rooms, log, options);
  }

  /** The rooms' state (read it; change it through {@linkcode ClusterRooms.apply}). */
  get rooms(): Rooms {
    return this.#rooms;
  }

  /**
   * Stores and applies a change made on this node.
   *
   * @param stage Checks the change against the head held here (`Rooms.stageCreate` or
   * `Rooms.stageChange`); called in turn with the other changes.
   * @returns Whom to tell.
   * @throws {PeerstreamError} What staging throws, `CHAIN_INVALID` when another node stored that
   * seq first, `NAME_TAKEN` when another node's room holds a new room's name, or `UNAVAILABLE`
   * when Redis did not answer (nothing applied here).
   */
  apply(stage: (rooms: Rooms) => StagedChange): Promise<RoomChange> {
    return this.#serial(async () => {
      const staged = stage(this.#rooms);
      const name = staged.record.name;
      let stored: AppendOutcome;
      try {
        stored = await this.#log.append(staged.room, staged.seq, staged.record, {
          nameKeys: staged.seq === 0 && name !== undefined ? nameKeys(name) : [],
        });
      } catch (error) {
        throw new PeerstreamError(
          "UNAVAILABLE",
          `Cannot change room ${
            this.#rooms.get(staged.room)?.name ?? staged.room
          }: the cluster's Redis did not answer; try again`,
          { cause: error },
        );
      }
      if (stored === "stored") return staged.commit();
      if (stored === "name-taken") {
        // Another node's room holds the name: learn the rooms this node has not seen yet.
        for (const id of await this.#log.ids()) await this.#catchUp(id);
        throw new PeerstreamError(
          "NAME_TAKEN",
          `Cannot create room ${
            quoted(name ?? staged.room)
          }: a room of that name (or one that looks like it) exists; choose another name`,
        );
      }
      await this.#catchUp(staged.room);
      throw new PeerstreamError(
        "CHAIN_INVALID",
        `Cannot change room ${
          this.#rooms.get(staged.room)?.name ?? staged.room
        }: another change took seq ${staged.seq} first; fetch the chain and sign again`,
      );
    });
  }

  /**
   * A notice from the rooms channel: reads what this node misses of the room, if anything.
   *
   * @param notice The room and the seq stored.
   * @returns When it is applied.
   */
  notice(notice: RoomNotice): Promise<void> {
    return this.#serial(async () => {
      if (this.#rooms.count(notice.room) > notice.seq) return;
      await this.#catchUp(notice.room);
    });
  }

  /**
   * Reads every room's tail (after the link to Redis came back: notices may have been missed).
   *
   * @returns When done.
   */
  resync(): Promise<void> {
    return this.#serial(async () => {
      for (const id of await this.#log.ids()) await this.#catchUp(id);
    });
  }

  async #catchUp(room: string) {
    const records = await this.#log.tail(room, this.#rooms.count(room));
    let changes: RoomChange[];
    try {
      changes = await this.#rooms.learn(room, records);
    } catch (error) {
      this.#options.log?.(
        `cluster: cannot apply room ${room} from Redis: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      return;
    }
    for (const change of changes) this.#options.onLearned?.(change);
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(job, job);
    this.#tail = run.catch(() => {});
    return run;
  }
}

/**
 * The rooms channel of a node, before and after its rooms are loaded: notices that come while they
 * load are kept and applied once they are (the load may have read past them: then they are
 * skipped), so that an append made during the load is not missed.
 */
export class RoomNotices {
  #rooms?: ClusterRooms;
  #fail: (error: string) => void = () => {};
  #early: RoomNotice[] = [];
  readonly #maxEarly: number;
  /** More came during the load than are kept: every room's tail is read once attached. */
  #overflowed = false;

  /** @param options `maxEarly`: notices kept while the rooms load. @default {10000} */
  constructor(options: { maxEarly?: number } = {}) {
    this.#maxEarly = options.maxEarly ?? 10_000;
  }

  /** Notices kept until the rooms are loaded. */
  get held(): number {
    return this.#early.length;
  }

  /**
   * A message on the rooms channel.
   *
   * @param message Its bytes (ignored unless a notice).
   */
  notice(message: Uint8Array): void {
    const notice = parseRoomNotice(message);
    if (notice === undefined) return;
    if (this.#rooms !== undefined) this.#apply(notice);
    else if (this.#early.length < this.#maxEarly) this.#early.push(notice);
    else this.#overflowed = true;
  }

  /** The link to Redis is back: notices may have been missed, so every room's tail is read. */
  reconnected(): void {
    this.#rooms?.resync().catch((error) => this.#fail(String(error)));
  }

  /**
   * The rooms are loaded: applies the notices that came meanwhile, and those to come.
   *
   * @param rooms The node's rooms.
   * @param fail Where a failure to read a room goes (the log).
   */
  attach(rooms: ClusterRooms, fail: (error: string) => void): void {
    this.#rooms = rooms;
    this.#fail = fail;
    if (this.#overflowed) {
      this.#early = [];
      this.reconnected();
      return;
    }
    for (const notice of this.#early.splice(0)) this.#apply(notice);
  }

  #apply(notice: RoomNotice) {
    this.#rooms!.notice(notice).catch((error) => this.#fail(String(error)));
  }
}
