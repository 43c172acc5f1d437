/**
 * The rooms' shared timelines (watching together, pure): what each room plays, from where, since
 * when, playing or paused, changed by whom, and the next timeline a member's `room-control` makes.
 * Time is given, never read: the caller passes the server's clock. See docs/watch-together.md.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { RoomPlaybackMessage, WatchAction } from "../../protocol/messages.ts";
import { timelinePosition } from "../../protocol/watch_sync.ts";

/** A room's timeline, as `room-playback` carries it, and the title's length. */
export interface Timeline {
  /** The title; absent once stopped. */
  title?: string;
  /** The title's length, seconds: past it the timeline has ended. */
  duration: number;
  /** One more with every change. */
  epoch: number;
  /** Server time of `position`, ms. */
  anchor: number;
  /** Seconds into the title at `anchor`. */
  position: number;
  /** 1 playing, 0 paused or stopped. */
  rate: 0 | 1;
  /** What made it. */
  action: WatchAction;
  /** Who. */
  by: string;
}

/** A member's control, its title already found in the library (`play`). */
export interface Control {
  action: WatchAction;
  /** For `play`: the library's name of the title and its length. */
  title?: { name: string; duration: number };
  /** Seconds, for `seek` (and `play`). */
  position?: number;
}

/**
 * The next timeline after a control, or a `BAD_MESSAGE` error saying what is missing.
 *
 * @param current The room's timeline now, if it has one.
 * @param control The control.
 * @param by The member.
 * @param now The server's time, ms.
 * @throws {PeerstreamError} `BAD_MESSAGE`: a `play` without a title, a `seek` without a position,
 * a `pause`/`resume`/`seek` with no title playing.
 */
export function nextTimeline(
  current: Timeline | undefined,
  control: Control,
  by: string,
  now: number,
): Timeline {
  const epoch = (current?.epoch ?? 0) + 1;
  const base = { epoch, anchor: now, action: control.action, by };
  if (control.action === "play") {
    if (control.title === undefined) throw bad("start a title", "name the title");
    const position = Math.min(control.position ?? 0, control.title.duration);
    const { name, duration } = control.title;
    return { ...base, title: name, duration, position, rate: 1 };
  }
  const live = current !== undefined && isLive(current, now) ? current : undefined;
  if (control.action === "stop") {
    return { ...base, duration: 0, position: live ? positionAt(live, now) : 0, rate: 0 };
  }
  if (live === undefined) throw bad(words[control.action], "start a title for the room first");
  const here = positionAt(live, now);
  const title = live.title;
  switch (control.action) {
    case "pause":
      return { ...base, title, duration: live.duration, position: here, rate: 0 };
    case "resume":
      return { ...base, title, duration: live.duration, position: here, rate: 1 };
    case "seek": {
      if (control.position === undefined) throw bad("seek", "give a position");
      const position = Math.min(control.position, live.duration);
      return { ...base, title, duration: live.duration, position, rate: live.rate };
    }
  }
}

const words = { pause: "pause", resume: "resume", seek: "seek" } as const;

function bad(action: string, remedy: string): PeerstreamError {
  return new PeerstreamError("BAD_MESSAGE", `Cannot ${action} for the room: ${remedy}`);
}

/** The timeline's position now, within the title. */
export function positionAt(timeline: Timeline, now: number): number {
  return Math.min(timelinePosition(timeline, now), timeline.duration);
}

/** Whether a timeline still plays or holds a title: not stopped, not past the title's end. */
export function isLive(timeline: Timeline, now: number): boolean {
  if (timeline.title === undefined) return false;
  return timeline.rate === 0 || timelinePosition(timeline, now) < timeline.duration;
}

/**
 * The `room-playback` message of a timeline.
 *
 * @param room The room id.
 * @param timeline Its timeline.
 * @param options `re` to answer a request, `state` to send it as the state (no change).
 */
export function playbackMessage(
  room: string,
  timeline: Timeline,
  options: { re?: number; state?: boolean } = {},
): RoomPlaybackMessage {
  const message: RoomPlaybackMessage = {
    type: "room-playback",
    room,
    action: options.state ? "state" : timeline.action,
    epoch: timeline.epoch,
    anchor: timeline.anchor,
    position: timeline.position,
    rate: timeline.rate,
  };
  if (options.re !== undefined) message.re = options.re;
  if (!options.state) message.by = timeline.by;
  if (timeline.title !== undefined) message.title = timeline.title;
  return message;
}

/** Every room's timeline in one process (a cluster shares them through Redis as well). */
export class RoomTimelines {
  #timelines = new Map<string, Timeline>();

  /** A room's timeline, if it has one. */
  get(room: string): Timeline | undefined {
    return this.#timelines.get(room);
  }

  /**
   * Keeps a room's timeline, unless an older epoch (a cluster's late copy): a stopped one is
   * kept too, so that its epoch still orders what comes after.
   *
   * @returns Whether it was kept.
   */
  set(room: string, timeline: Timeline): boolean {
    const current = this.#timelines.get(room);
    if (current !== undefined && current.epoch >= timeline.epoch) return false;
    this.#timelines.set(room, timeline);
    return true;
  }

  /** Forgets a room's timeline (the room is gone). */
  delete(room: string): void {
    this.#timelines.delete(room);
  }

  /** The rooms whose timelines hold a title now, of those given. */
  live(rooms: Iterable<string>, now: number): [string, Timeline][] {
    const found: [string, Timeline][] = [];
    for (const room of rooms) {
      const timeline = this.#timelines.get(room);
      if (timeline !== undefined && isLive(timeline, now)) found.push([room, timeline]);
    }
    return found;
  }

  /** How many rooms have a timeline. */
  get size(): number {
    return this.#timelines.size;
  }
}
