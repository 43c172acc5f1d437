/**
 * Watching together on the server (issue 21): `time` answered with the server's clock, and
 * `room-control` checked (a member of the room with the key the room pinned; in a room whose
 * settings say `control: "host"`, its owner only; a title that is ready), turned into the room's
 * next timeline (community/room_timelines.ts) and told to every member online. The server does not
 * drive anyone's stream: each client steers its own (docs/watch-together.md).
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { RoomControlMessage } from "../protocol/messages.ts";
import { quoted } from "../protocol/text.ts";
import {
  type Control,
  isLive,
  nextTimeline,
  playbackMessage,
  type Timeline,
} from "./community/room_timelines.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import type { ServerClient } from "./member.ts";
import { requireRooms, type RoomContext, signPinOf } from "./room_context.ts";
import { findPlayable } from "./streaming/play_request.ts";

/** The server's clock for timelines and `time-is`: ms since the epoch, with a fraction. */
export function serverClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Answers `time` with the server's clock, read as late as possible.
 *
 * @param client The client.
 * @param id The request's id.
 * @param rooms The rooms, whose clock a cluster sets.
 */
export function answerTime(client: ServerClient, id: number, rooms: RoomContext | undefined): void {
  client.conn.send({ type: "time-is", re: id, server: (rooms?.clock ?? serverClock)() });
}

/**
 * Handles a member's `room-control`: the next timeline, answered with `re` and told to the others.
 *
 * @param client The member.
 * @param message The control.
 * @param ctx The server's parts.
 * @throws {PeerstreamError} `UNAVAILABLE` (no rooms), `ROOM_NOT_FOUND`, `NOT_A_MEMBER`,
 * `NOT_ALLOWED`, `VIDEO_NOT_FOUND`, `VIDEO_NOT_READY`, `VIDEO_FAILED`, `BAD_MESSAGE`.
 */
export function roomControl(
  client: ServerClient,
  message: RoomControlMessage,
  ctx: DispatchContext,
): Promise<void> | void {
  const rooms = requireRooms(ctx.rooms, "watch together");
  const name = client.name!;
  // NOT_A_MEMBER or ROOM_NOT_FOUND, in the words room messages use.
  rooms.rooms.membersFor(message.room, { name, sign: signPinOf(name, ctx) ?? "" });
  const room = rooms.rooms.get(message.room)!;
  if (room.state.settings.control === "host" && room.state.owner !== name) {
    throw new PeerstreamError(
      "NOT_ALLOWED",
      `Cannot ${message.action} in ${quoted(room.name)}: only its host, ${
        quoted(room.state.owner)
      }, controls playback in this room`,
    );
  }
  const control: Control = { action: message.action, position: message.position };
  if (message.action === "play") {
    if (message.title === undefined) {
      throw new PeerstreamError("BAD_MESSAGE", "Cannot start a title for the room: name the title");
    }
    control.title = findPlayable(ctx.videos(), message.title);
  }
  const clock = rooms.clock ?? serverClock;
  const change = (current: Timeline | undefined) => nextTimeline(current, control, name, clock());
  if (rooms.changeTimeline !== undefined) {
    // A cluster: the change is made in Redis, at the room's next epoch, and told by every node.
    return rooms.changeTimeline(message.room, change).then((timeline) => {
      client.conn.send(playbackMessage(message.room, timeline, { re: message.id }));
      logControl(client, message, timeline, ctx);
    });
  }
  const timeline = change(rooms.timelines.get(message.room));
  rooms.timelines.set(message.room, timeline);
  client.conn.send(playbackMessage(message.room, timeline, { re: message.id }));
  tellTimeline(message.room, timeline, { except: name, ctx, rooms });
  logControl(client, message, timeline, ctx);
}

/** One log line per control done, limited per connection. */
function logControl(
  client: ServerClient,
  message: RoomControlMessage,
  timeline: Timeline,
  ctx: DispatchContext,
) {
  ctx.log.limited(
    client.id,
    `watch ${message.room} ${message.action} by #${client.id} ${ctx.log.name(client.name!)}${
      timeline.title === undefined ? "" : ` ${ctx.log.text(timeline.title)}`
    } at ${timeline.position.toFixed(3)}`,
    { event: "watch", fields: { action: message.action } },
  );
}

/**
 * Tells a room's new timeline to its members online here, each one whose name is held by the key
 * the room pinned for them. In a cluster each node tells its own.
 *
 * @param room The room id.
 * @param timeline The new timeline.
 * @param options Whom not to tell (the member answered already), the server's parts.
 */
export function tellTimeline(
  room: string,
  timeline: Timeline,
  options: { except: string; ctx: Pick<DispatchContext, "community">; rooms: RoomContext },
): void {
  const state = options.rooms.rooms.get(room)?.state;
  if (state === undefined) return;
  const message = playbackMessage(room, timeline);
  for (const [name, pins] of state.members) {
    if (name === options.except || signPinOf(name, options.ctx) !== pins.sign) continue;
    options.rooms.connectionOf(name)?.conn.send(message);
  }
}

/**
 * Sends a member the state of each of its rooms that has a title (after `welcome`, after the
 * `rooms` list; and to a member who has just joined a room).
 *
 * @param client The member.
 * @param parts The rooms, the server's parts, and `only` one room.
 */
export function sendTimelines(
  client: ServerClient,
  parts: { rooms: RoomContext | undefined; ctx: Pick<DispatchContext, "community">; only?: string },
): void {
  const rooms = parts.rooms;
  if (rooms === undefined || client.name === undefined) return;
  const sign = signPinOf(client.name, parts.ctx) ?? "";
  const ids = parts.only !== undefined
    ? [parts.only]
    : rooms.rooms.roomsOf({ name: client.name, sign }).map((summary) => summary.room);
  const now = (rooms.clock ?? serverClock)();
  for (const id of ids) {
    const timeline = rooms.timelines.get(id);
    if (timeline === undefined || !isLive(timeline, now)) continue;
    // Invitees are listed by roomsOf too: only members hear what the room plays.
    if (rooms.rooms.get(id)?.state.members.get(client.name)?.sign !== sign) continue;
    client.conn.send(playbackMessage(id, timeline, { state: true }));
  }
}
