import { deepEqual, equal } from "node:assert/strict";
import type { RoomPlaybackMessage } from "../../protocol/messages.ts";
import { DEFAULT_STARTUP_S, type PlaybackStep, WatchSteer } from "./watch_steer.ts";

const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";

/** A steer on a clock the test moves, 1 s ahead of the server's (offset −1000 ms). */
function steer(start = 100_000) {
  const clock = { now: start };
  const s = new WatchSteer({ now: () => clock.now });
  // Sent at this end's 100 000, stamped 99 010 by the server, back at 100 020: offset −1000.
  s.sample(start, start - 990, start + 20);
  return { clock, s };
}

function playback(
  epoch: number,
  action: RoomPlaybackMessage["action"],
  fields: Partial<RoomPlaybackMessage> = {},
): RoomPlaybackMessage {
  return {
    type: "room-playback",
    room: ROOM,
    action,
    by: "bob",
    title: "film",
    epoch,
    anchor: 99_000,
    position: 10,
    rate: 1,
    ...fields,
  };
}

Deno.test("WatchSteer.take() turns each timeline into a step for the page's own stream", () => {
  // [previous timeline, new one, step]; the clock is at the server's 99 000 + 0: the room at 10 s.
  const cases: [RoomPlaybackMessage | undefined, RoomPlaybackMessage, PlaybackStep][] = [
    // A first timeline, playing: play where the room will be when the first frame shows.
    [undefined, playback(1, "play"), {
      kind: "play",
      title: "film",
      position: 10 + DEFAULT_STARTUP_S,
      paused: false,
    }],
    // Joining late by state, paused: play at the room's frame, paused.
    [undefined, playback(4, "state", { rate: 0 }), {
      kind: "play",
      title: "film",
      position: 10,
      paused: true,
    }],
    [playback(1, "play"), playback(2, "pause", { rate: 0 }), { kind: "pause" }],
    [playback(2, "pause", { rate: 0 }), playback(3, "resume"), { kind: "resume" }],
    [playback(1, "play"), playback(2, "seek", { position: 30 }), {
      kind: "seek",
      position: 30 + DEFAULT_STARTUP_S,
      paused: false,
    }],
    [playback(2, "pause", { rate: 0 }), playback(3, "seek", { position: 30, rate: 0 }), {
      kind: "seek",
      position: 30,
      paused: true,
    }],
    // Another title, or the same one started again, plays from its start.
    [playback(1, "play"), playback(2, "play", { title: "other", position: 0 }), {
      kind: "play",
      title: "other",
      position: DEFAULT_STARTUP_S,
      paused: false,
    }],
    [playback(1, "play"), playback(2, "stop", { title: undefined, rate: 0 }), { kind: "stop" }],
    // A pause of a paused room changes nothing.
    [playback(2, "pause", { rate: 0 }), playback(3, "pause", { rate: 0 }), { kind: "none" }],
  ];
  for (const [before, next, step] of cases) {
    const { s } = steer();
    if (before !== undefined) s.take(before);
    deepEqual(s.take(next), step, `${before?.action} then ${next.action}`);
  }
});

Deno.test("WatchSteer.take() drops a timeline not newer than the last (its epoch)", () => {
  const { s } = steer();
  s.take(playback(5, "play"));
  equal(s.take(playback(5, "pause", { rate: 0 })), null);
  equal(s.take(playback(4, "seek")), null);
  equal(s.timeline?.epoch, 5);
  s.forget();
  deepEqual(s.take(playback(5, "state"))?.kind, "play");
});

Deno.test("WatchSteer.roomPosition() reads the timeline on the server's clock", () => {
  const { clock, s } = steer();
  equal(s.roomPosition(), 0);
  s.take(playback(1, "play"));
  equal(s.roomPosition(), 10);
  clock.now += 2_500;
  equal(s.roomPosition(), 12.5);
  s.take(playback(2, "pause", { anchor: 101_000, position: 12, rate: 0 }));
  clock.now += 10_000;
  equal(s.roomPosition(), 12);
});

Deno.test("WatchSteer.correct() rates under a second, seeks over it, and only seeks while paused", () => {
  // [room rate, frame on screen, video rate, action]; the room is at 10 s.
  const cases: [0 | 1, number, number, ReturnType<WatchSteer["correct"]>][] = [
    [1, 10.02, 1, { kind: "none" }],
    [1, 10.2, 1, { kind: "rate", rate: 0.95 }],
    [1, 9.9, 1, { kind: "rate", rate: 1.05 }],
    [1, 9.95, 1, { kind: "rate", rate: 1.025 }],
    [1, 9.97, 1, { kind: "none" }],
    [1, 10.01, 1.02, { kind: "rate", rate: 1 }],
    [1, 12, 1, { kind: "seek", position: 10 + DEFAULT_STARTUP_S }],
    [1, 8, 1, { kind: "seek", position: 10 + DEFAULT_STARTUP_S }],
    [0, 10.2, 1, { kind: "none" }],
    [0, 10.5, 1, { kind: "seek", position: 10 }],
    [0, 10, 0.95, { kind: "rate", rate: 1 }],
  ];
  for (const [rate, position, videoRate, action] of cases) {
    const { s } = steer();
    s.take(playback(1, "play", { rate }));
    deepEqual(s.correct({ position, rate: videoRate }), action, `${rate} ${position} ${videoRate}`);
  }
  const { s } = steer();
  deepEqual(s.correct({ position: 3, rate: 1 }), { kind: "none" }, "no timeline");
});

Deno.test("WatchSteer.started() measures the start-up within bounds", () => {
  const cases: [number, number][] = [[700, 0.7], [20, 0.1], [9_000, 3], [0, 0.1], [-5, 0.1]];
  for (const [ms, startup] of cases) {
    const { s } = steer();
    s.started(1_000, 1_000 + ms);
    equal(s.startup, ms <= 0 ? DEFAULT_STARTUP_S : startup, `${ms} ms`);
  }
});
