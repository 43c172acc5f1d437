/**
 * The client's playback state machine. Pure: the session asks it whether a step is legal.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";

/** Where playback stands. */
export type PlaybackState = "idle" | "requesting" | "playing" | "stopping";

/** What happens to playback. */
export type PlaybackEvent =
  | "play" // the user asked to play
  | "started" // the server sent stream-start
  | "refused" // the server answered PLAY with an error
  | "stop" // the user asked to stop
  | "ended"; // the server sent stream-end, or the connection closed

/**
 * Computes the next state.
 *
 * @param state The current state.
 * @param event What happened.
 * @returns The next state.
 * @throws {PeerstreamError} `NOT_PLAYING` when the user's step is illegal now.
 */
export function nextPlaybackState(state: PlaybackState, event: PlaybackEvent): PlaybackState {
  switch (event) {
    case "play":
      // A PLAY while something plays replaces it (protocol 2): the server ends the old stream.
      return "requesting";
    case "started":
      return state === "requesting" ? "playing" : state;
    case "refused":
      // A STOP sent while PLAY was pending leaves "stopping"; the refused stream never starts, so
      // no stream-end will follow to bring the state back to idle.
      return state === "requesting" || state === "stopping" ? "idle" : state;
    case "stop":
      if (state !== "playing" && state !== "requesting") {
        throw new PeerstreamError("NOT_PLAYING", "Cannot stop: nothing is playing");
      }
      return "stopping";
    case "ended":
      return "idle";
  }
}
