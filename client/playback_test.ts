import { equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { nextPlaybackState, type PlaybackEvent, type PlaybackState } from "./playback.ts";

const STATES: readonly PlaybackState[] = ["idle", "requesting", "playing", "stopping"];
const EVENTS: readonly PlaybackEvent[] = ["play", "started", "refused", "stop", "ended"];

/** A next state, or the code of the error the step throws. */
type Outcome = PlaybackState | { throws: "NOT_PLAYING" };

const NOT = { throws: "NOT_PLAYING" } as const;

/** Every (state, event) pair. Rows are states, columns follow EVENTS. */
const TABLE: Record<PlaybackState, Record<PlaybackEvent, Outcome>> = {
  idle: { play: "requesting", started: "idle", refused: "idle", stop: NOT, ended: "idle" },
  requesting: {
    play: "requesting",
    started: "playing",
    refused: "idle",
    stop: "stopping",
    ended: "idle",
  },
  playing: {
    play: "requesting",
    started: "playing",
    refused: "playing",
    stop: "stopping",
    ended: "idle",
  },
  // A refused PLAY after a STOP sent while requesting: no stream-end will come, so back to idle.
  stopping: { play: "requesting", started: "stopping", refused: "idle", stop: NOT, ended: "idle" },
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
        throws(() => nextPlaybackState(state, event), (error: unknown) => {
          ok(error instanceof PeerstreamError, `${label}: ${error}`);
          equal(error.code, expected.throws, label);
          return true;
        });
      }
      pairs++;
    }
  }
  equal(pairs, STATES.length * EVENTS.length);
});

Deno.test("nextPlaybackState() lets a PLAY replace what plays (protocol 2)", () => {
  for (const state of STATES) equal(nextPlaybackState(state, "play"), "requesting", state);
});

Deno.test("nextPlaybackState() throws NOT_PLAYING when stopping while idle", () => {
  throws(() => nextPlaybackState("idle", "stop"), (error: unknown) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "NOT_PLAYING");
    ok(error.message.includes("Cannot stop: nothing is playing"), error.message);
    return true;
  });
});

Deno.test("nextPlaybackState() returns to idle along every session path", () => {
  const paths: readonly PlaybackEvent[][] = [
    ["play", "started", "ended"],
    ["play", "refused"],
    ["play", "started", "stop", "ended"],
    ["play", "stop", "started", "ended"],
    ["play", "stop", "refused"],
    ["play", "stop", "ended"],
    ["play", "ended"],
  ];
  for (const path of paths) {
    let state: PlaybackState = "idle";
    for (const event of path) state = nextPlaybackState(state, event);
    equal(state, "idle", path.join(" -> "));
    // A new PLAY is legal again.
    equal(nextPlaybackState(state, "play"), "requesting", path.join(" -> "));
  }
});
