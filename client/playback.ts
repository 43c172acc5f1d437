/**
 * The client's playback state machine: what the person sees, not what the server sends. Pure:
 * the viewer asks it whether a step is legal.
 *
 * "Playing" lasts until the player has shown the end (it exits), not until the last byte
 * arrived: after the server's `stream-end` `finished`, the state is `ending` while the player
 * plays out what it has, and STOP, PAUSE, SEEK and QUALITY still work.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type { Quality, StreamStartMessage } from "../protocol/messages.ts";

/** Where playback stands. */
export type PlaybackState =
  | "idle" // no player
  | "requesting" // PLAY sent, no stream-start yet
  | "playing" // the server streams and the player plays
  | "ending"; // everything arrived; the player plays out the rest

/** What happens to playback. */
export type PlaybackEvent =
  | "play" // the user asked to play (replacing whatever plays)
  | "started" // the server sent stream-start
  | "refused" // the server answered PLAY with an error
  | "received" // the server sent all of it (stream-end finished)
  | "stop" // the user asked to stop
  | "ended"; // the player exited, or the stream failed

/**
 * Computes the next state.
 *
 * @param state The current state.
 * @param event What happened.
 * @returns The next state.
 * @throws {PeerstreamError} `NOT_PLAYING` for STOP when nothing plays.
 */
export function nextPlaybackState(state: PlaybackState, event: PlaybackEvent): PlaybackState {
  switch (event) {
    case "play":
      // A PLAY while something plays replaces it (protocol 2): the server ends the old stream.
      return "requesting";
    case "started":
      return state === "requesting" ? "playing" : state;
    case "refused":
      return state === "requesting" ? "idle" : state;
    case "received":
      return state === "playing" ? "ending" : state;
    case "stop":
      if (state === "idle") {
        throw new PeerstreamError("NOT_PLAYING", "Cannot stop: nothing is playing");
      }
      return "idle";
    case "ended":
      return "idle";
  }
}

/**
 * Checks that a command on the current stream is legal now.
 *
 * @param state The current state.
 * @param action What the user asked, for the message, e.g. `seek`.
 * @throws {PeerstreamError} `NOT_PLAYING` unless something is on screen.
 */
export function requireOnScreen(state: PlaybackState, action: string): void {
  if (state === "playing" || state === "ending") return;
  const why = state === "requesting"
    ? "the stream is starting; try again in a moment"
    : "nothing is playing; PLAY a title first";
  throw new PeerstreamError("NOT_PLAYING", `Cannot ${action}: ${why}`);
}

/**
 * Checks that a stream has a rendition before switching to it.
 *
 * @param info The stream's `stream-start`.
 * @param quality A height or `auto`.
 * @throws {PeerstreamError} `RENDITION_NOT_FOUND` for a height the title lacks.
 */
export function requireRendition(info: StreamStartMessage, quality: Quality): void {
  const heights = info.renditions.map((r) => r.height);
  if (quality === "auto" || heights.includes(quality)) return;
  throw new PeerstreamError(
    "RENDITION_NOT_FOUND",
    `Cannot switch to ${quality}p: "${info.title}" has ${
      heights.map((h) => `${h}p`).join(", ")
    } or auto`,
  );
}
