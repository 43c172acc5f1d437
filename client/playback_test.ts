import { equal, throws } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import {
  nextPlaybackState,
  type PlaybackEvent,
  type PlaybackState,
  requireOnScreen,
} from "./playback.ts";

const STATES: readonly PlaybackState[] = ["idle", "requesting", "playing", "ending"];
const EVENTS: readonly PlaybackEvent[] = [
  "play",
  "started",
  "refused",
  "received",
  "stop",
  "ended",
];

/** A next state, or the code of the error the step throws. */
type Outcome = PlaybackState | { throws: "NOT_PLAYING" };

const NOT = { throws: "NOT_PLAYING" } as const;

/** Every (state, event) pair. Rows are states, columns follow EVENTS. */
const TABLE: Record<PlaybackState, Record<PlaybackEvent, Outcome>> = {
  idle: {
    play: "requesting",
    started: "idle",
    refused: "idle",
    received: "idle",
    stop: NOT,
    ended: "idle",
  },
  requesting: {
    play: "requesting",
    started: "playing",
    refused: "idle",
    received: "requesting",
    stop: "idle",
    ended: "idle",
  },
  playing: {
    play: "requesting",
    started: "playing",
    refused: "playing",
    received: "ending",
    stop: "idle",
    ended: "idle",
  },
  // All of it arrived; the player still shows the last seconds: STOP still stops.
  ending: {
    play: "requesting",
    started: "ending",
    refused: "ending",
    received: "ending",
    stop: "idle",
    ended: "idle",
  },
};

Deno.test("nextPlaybackState() follows the transition table for every (state, event) pair", () => {
  let pairs = 0;
  for (const state of STATES) {
    for (const event of EVENTS) {
      const expected = TABLE[state][event];
      const label = `${state} + ${event}`;
      if (typeof expected === "string") {
        equal(nextPlaybackState(state, event), expected, label);
      } else {
        throws(
          () => nextPlaybackState(state, event),
          (e: unknown) =>
            e instanceof PeerstreamError && e.code === expected.throws &&
            /Cannot stop: nothing is playing/.test(e.message),
          label,
        );
      }
      pairs++;
    }
  }
  equal(pairs, STATES.length * EVENTS.length);
});

Deno.test("requireOnScreen() allows playing and ending, and says why otherwise", () => {
  requireOnScreen("playing", "seek");
  requireOnScreen("ending", "pause");
  throws(
    () => requireOnScreen("idle", "seek"),
    (e: unknown) =>
      e instanceof PeerstreamError && e.code === "NOT_PLAYING" &&
      e.message === "Cannot seek: nothing is playing; PLAY a title first",
  );
  throws(
    () => requireOnScreen("requesting", "pause"),
    (e: unknown) =>
      e instanceof PeerstreamError && /^Cannot pause: the stream is starting/.test(e.message),
  );
});
