/**
 * The lines the chat area shows about rooms' shared playback (pure): who did what, short, every
 * title and name from the network made safe (`client/render.ts`, `protocol/shown_name.ts`).
 * @module
 */

import type { RoomPlaybackMessage } from "../../protocol/messages.ts";
import { showName } from "../../protocol/shown_name.ts";
import { formatDuration, safe } from "../render.ts";

/** What a notice needs besides the message. */
export interface NoticeContext {
  /** The room's display name. */
  room: string;
  /** Whether this client watches that room (or is about to). */
  watching: boolean;
}

/**
 * The line for a room's playback change, or none (a state this client follows anyway).
 *
 * @param message The `room-playback`.
 * @param ctx The room's name and whether this client watches it.
 * @returns The line, e.g. `* alice paused #club at 12:34`.
 */
export function playbackNotice(
  message: Pick<RoomPlaybackMessage, "action" | "by" | "title" | "position">,
  ctx: NoticeContext,
): string | undefined {
  const room = `#${safe(ctx.room)}`;
  const who = message.by === undefined ? "someone" : showName(message.by);
  const at = formatDuration(message.position);
  const title = message.title === undefined ? "" : `"${safe(message.title)}"`;
  const join = ctx.watching ? "" : ` — WATCH ${room} to join`;
  switch (message.action) {
    case "play":
      return `* ${who} started ${title} in ${room}${join}`;
    case "pause":
      return `* ${who} paused ${room} at ${at}`;
    case "resume":
      return `* ${who} resumed ${room} at ${at}`;
    case "seek":
      return `* ${who} moved ${room} to ${at}`;
    case "stop":
      return `* ${who} stopped ${room}`;
    case "state":
      if (ctx.watching || message.title === undefined) return undefined;
      return `* ${room} is playing ${title} at ${at}${join}`;
  }
}

/**
 * A refusal of a room-control, in words with the remedy.
 *
 * @param verb What was refused, e.g. `pause`.
 * @param room The room's display name.
 * @param code The server's code.
 * @param message The server's message.
 * @param owner The room's owner, as this client's checked chain says.
 * @returns The line to show.
 */
export function controlRefusal(
  verb: string,
  room: string,
  code: string,
  message: string,
  owner: string,
): string {
  const name = `#${safe(room)}`;
  if (code === "NOT_ALLOWED") {
    const host = showName(owner);
    return `Cannot ${verb} ${name}: only its host, ${host}, controls playback in this room; ask ${host}, or STOP to watch on your own`;
  }
  if (code === "BAD_MESSAGE" && verb !== "start") {
    return `Cannot ${verb} ${name}: nothing plays there; WATCH ${name} <title> starts one`;
  }
  return safe(message);
}
