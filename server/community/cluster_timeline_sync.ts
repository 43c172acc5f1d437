/**
 * One cluster node's rooms' timelines (watching together, issue 21), kept in step with Redis
 * (`cluster_timelines.ts`). A member's control here reads the room's timeline in Redis, makes the
 * next one (at the epoch after the newest this node or Redis holds) and stores it only if Redis
 * still holds what was read, else reads again, a few times; once stored it is kept here, answered
 * and told to this node's members. Every node hears it on the timelines channel, keeps it (an
 * older epoch is ignored) and tells its own members. A node that starts, or whose link to Redis
 * comes back, reads the timelines of the rooms it knows.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import {
  type ClusterTimelineStore,
  parseTimelineNotice,
  type StoredTimeline,
  timelineLine,
} from "./cluster_timelines.ts";
import type { RoomTimelines, Timeline } from "./room_timelines.ts";

/** How many times a change is made again when another node stored first. @default */
export const TIMELINE_ATTEMPTS = 5;

/** Options for {@linkcode ClusterTimelines}. */
export interface ClusterTimelinesOptions {
  /** This node's timelines (what `sendTimelines` after `welcome` reads). */
  timelines: RoomTimelines;
  /**
   * A timeline newer than this node held, now kept: tell the room's members here, but `except`
   * (the member answered already, or "").
   */
  tell: (room: string, timeline: Timeline, except: string) => void;
  /** A line for the server's log. */
  log?: (line: string) => void;
  /** Attempts of a change raced by other nodes. @default {TIMELINE_ATTEMPTS} */
  attempts?: number;
}

/**
 * The newer of two timelines, by epoch (the first when equal).
 *
 * @param a One, or none.
 * @param b The other, or none.
 * @returns The one of the greater epoch.
 */
export function newerTimeline(
  a: Timeline | undefined,
  b: Timeline | undefined,
): Timeline | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.epoch > a.epoch ? b : a;
}

/** Whether two timelines are the same, field by field. */
function sameTimeline(a: Timeline | undefined, b: Timeline): boolean {
  return a !== undefined && timelineLine(a) === timelineLine(b);
}

/** What a node needs of the timelines in Redis (a {@linkcode ClusterTimelineStore}). */
export type TimelineStore = Pick<ClusterTimelineStore, "channel" | "key" | "read" | "store">;

/** A node's timelines, shared with the other nodes through Redis. */
export class ClusterTimelines {
  readonly #store: TimelineStore;
  readonly #options: ClusterTimelinesOptions;
  /** Per room: the tail of its changes here, made one at a time. */
  readonly #tails = new Map<string, Promise<void>>();
  /** Per room: who makes the change in flight here (answered by this node, not told). */
  readonly #making = new Map<string, string>();

  /**
   * @param store The timelines in Redis.
   * @param options This node's timelines, whom to tell, the log.
   */
  constructor(store: TimelineStore, options: ClusterTimelinesOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** The channel stored timelines are published on. */
  get channel(): string {
    return this.#store.channel;
  }

  /**
   * Makes a room's next timeline in Redis, keeps it here and tells this node's members but the
   * one who made it (the caller answers them).
   *
   * @param room The room id.
   * @param change The next timeline from the current one (its epoch is raised past the newest
   * held here or in Redis); called again on each attempt.
   * @param words What is done, for messages (e.g. `pause in "club"`).
   * @returns The timeline stored.
   * @throws {PeerstreamError} What `change` throws; `UNAVAILABLE` when Redis did not answer, or
   * other nodes kept changing the room; `INTERNAL` when the room's key in Redis is corrupt.
   */
  change(
    room: string,
    change: (current: Timeline | undefined) => Timeline,
    words: string,
  ): Promise<Timeline> {
    return this.#serial(room, async () => {
      try {
        return await this.#attempts(room, change, words);
      } finally {
        this.#making.delete(room);
      }
    });
  }

  async #attempts(
    room: string,
    change: (current: Timeline | undefined) => Timeline,
    words: string,
  ): Promise<Timeline> {
    const attempts = this.#options.attempts ?? TIMELINE_ATTEMPTS;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const stored = await this.#redis(words, () => this.#store.read([room]));
      const held = this.#options.timelines.get(room);
      // Redis may have lost its last second (a restart): never go back from what was told.
      const current = newerTimeline(stored[0].timeline, held);
      const made = change(current);
      this.#making.set(room, made.by);
      const next = { ...made, epoch: Math.max(made.epoch, (current?.epoch ?? 0) + 1) };
      const outcome = await this.#redis(
        words,
        () => this.#store.store(room, stored[0].raw, next),
        // Its answer was lost, but its notice came: it was stored, and the member is answered.
        () => sameTimeline(this.#options.timelines.get(room), next),
      );
      if (outcome === undefined) return next;
      if (outcome === "corrupt") {
        throw new PeerstreamError(
          "INTERNAL",
          `Cannot ${words}: the room's timeline in Redis is not a string; delete the key "${
            this.#store.key(room)
          }"`,
        );
      }
      if (outcome === "stored") {
        this.#keep(room, next, next.by);
        return next;
      }
    }
    throw new PeerstreamError(
      "UNAVAILABLE",
      `Cannot ${words}: other members changed the room's playback at the same moment; try again`,
    );
  }

  /**
   * A message on the timelines channel: kept and told here when newer than what this node holds.
   * The member who made it is not told by the node answering them.
   *
   * @param message Its bytes (ignored, and logged, unless a notice).
   */
  notice(message: Uint8Array): void {
    const notice = parseTimelineNotice(message);
    if (notice === undefined) {
      this.#options.log?.("cluster: dropped a message on the timelines channel that is not one");
      return;
    }
    const { room, timeline } = notice;
    const answering = this.#making.get(room) === timeline.by;
    this.#keep(room, timeline, answering ? timeline.by : "");
  }

  /**
   * Reads the timelines of rooms from Redis (a node starting, or its link back after an outage:
   * notices may have been missed) and tells the members here of each newer one.
   *
   * @param rooms The room ids this node knows.
   * @returns When done.
   * @throws {Error} When Redis does not answer.
   */
  async load(rooms: readonly string[]): Promise<void> {
    const stored = await this.#store.read(rooms);
    stored.forEach((value, i) => {
      if (value.timeline !== undefined) this.#keep(rooms[i], value.timeline, "");
      else if (value.raw !== "") this.#corrupt(rooms[i], value);
    });
  }

  #keep(room: string, timeline: Timeline, except: string) {
    if (this.#options.timelines.set(room, timeline)) this.#options.tell(room, timeline, except);
  }

  #corrupt(room: string, value: StoredTimeline) {
    this.#options.log?.(
      `cluster: the timeline of room ${room} in Redis is not one (${
        JSON.stringify(value.raw.slice(0, 80))
      }); the next control replaces it`,
    );
  }

  /** Runs a Redis step; its failure is `UNAVAILABLE` with words a member can act on. */
  async #redis<T>(words: string, step: () => Promise<T>): Promise<T>;
  /** The same, but undefined when `done` says a failed step took effect all the same. */
  async #redis<T>(
    words: string,
    step: () => Promise<T>,
    done: () => boolean,
  ): Promise<T | undefined>;
  async #redis<T>(
    words: string,
    step: () => Promise<T>,
    done: () => boolean = () => false,
  ): Promise<T | undefined> {
    try {
      return await step();
    } catch (error) {
      if (done()) return undefined;
      throw new PeerstreamError(
        "UNAVAILABLE",
        `Cannot ${words}: the cluster's Redis did not answer; try again`,
        { cause: error },
      );
    }
  }

  #serial<T>(room: string, job: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(room) ?? Promise.resolve()).then(job);
    const tail = run.then(() => {}, () => {});
    this.#tails.set(room, tail);
    tail.then(() => {
      if (this.#tails.get(room) === tail) this.#tails.delete(room);
    });
    return run;
  }
}
