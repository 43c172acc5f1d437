/**
 * What the page says about watching together (issue 21), in words for people and of the page's
 * own controls, never terminal commands: who did what to the room's playback, as a line of the
 * room's chat ("alice paused", "bob jumped to 12:34"), what the player shows while it follows a
 * room ("Watching with #club"), what the room's view offers ("#club is watching …"), and why the
 * controls are off in a host-only room. Pure; names go through `showName`, and every string is
 * set as text by the caller.
 * @module
 */

import type { RoomPlaybackMessage } from "../../protocol/messages.ts";
import { showName } from "../../protocol/shown_name.ts";
import type { RoomView } from "../../client/session.ts";

/**
 * A member's change to the room's playback, as a line of the room's chat.
 *
 * @param playback The timeline the change made.
 * @param me Who reads it (`You` in their place).
 * @returns For example `alice paused at 1:02`, `You jumped to 12:34`, `bob started "Film"`; null
 * for the state the server only repeats.
 */
export function watchChangeWords(
  playback: Pick<RoomPlaybackMessage, "action" | "by" | "title" | "position">,
  me: string,
): string | null {
  if (playback.action === "state") return null;
  const who = playback.by === undefined
    ? "The server"
    : playback.by === me
    ? "You"
    : showName(playback.by);
  switch (playback.action) {
    case "play":
      return `${who} started "${playback.title ?? ""}" for the room`;
    case "pause":
      return `${who} paused at ${clock(playback.position)}`;
    case "resume":
      return `${who} resumed at ${clock(playback.position)}`;
    case "seek":
      return `${who} jumped to ${clock(playback.position)}`;
    case "stop":
      return `${who} stopped the room's video`;
  }
}

/**
 * What the player says while it follows a room.
 *
 * @param roomName The room's name.
 * @returns For example `Watching with #club`.
 */
export function watchingWords(roomName: string): string {
  return `Watching with #${roomName}`;
}

/**
 * What the room's view says of the room's playback, for the Join button beside it.
 *
 * @param roomName The room's name.
 * @param playback The room's timeline.
 * @returns For example `#club is watching "Film" (paused)`.
 */
export function roomPlayingWords(
  roomName: string,
  playback: Pick<RoomPlaybackMessage, "title" | "rate">,
): string {
  return `#${roomName} is watching "${playback.title ?? ""}"${
    playback.rate === 0 ? " (paused)" : ""
  }`;
}

/**
 * Why this person cannot control the room's playback, or null when they can: in a room set to
 * host only, only its owner does.
 *
 * @param room The room.
 * @param me This person.
 * @returns For example `Only the host, alice, controls playback in #club`.
 */
export function controlBlockedWords(
  room: Pick<RoomView, "name" | "owner" | "control">,
  me: string,
): string | null {
  if (room.control !== "host" || room.owner === me) return null;
  return `Only the host, ${showName(room.owner)}, controls playback in #${room.name}`;
}

/** Seconds as `m:ss`, or `h:mm:ss` from an hour (dom.ts's `clock` needs the DOM's types). */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const mm = Math.floor(s / 60) % 60;
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}
