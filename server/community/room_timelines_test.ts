import { deepEqual, equal, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import {
  type Control,
  isLive,
  nextTimeline,
  playbackMessage,
  RoomTimelines,
  type Timeline,
} from "./room_timelines.ts";

const FILM = { name: "film", duration: 100 };
const PLAYING: Timeline = {
  title: "film",
  duration: 100,
  epoch: 4,
  anchor: 10_000,
  position: 20,
  rate: 1,
  action: "play",
  by: "alice",
};

Deno.test("nextTimeline: each control from a playing timeline, 2.5 s after its anchor", () => {
  const rows: [Control, Partial<Timeline>][] = [
    [{ action: "pause" }, { position: 22.5, rate: 0 }],
    [{ action: "resume" }, { position: 22.5, rate: 1 }],
    [{ action: "seek", position: 70 }, { position: 70, rate: 1 }],
    [{ action: "seek", position: 500 }, { position: 100, rate: 1 }],
    [{ action: "stop" }, { title: undefined, duration: 0, position: 22.5, rate: 0 }],
    [{ action: "play", title: { name: "other", duration: 50 } }, {
      title: "other",
      duration: 50,
      position: 0,
      rate: 1,
    }],
    [{ action: "play", title: FILM, position: 40 }, { position: 40, rate: 1 }],
  ];
  for (const [control, changed] of rows) {
    const next = nextTimeline(PLAYING, control, "bob", 12_500);
    const expected = { ...PLAYING, epoch: 5, anchor: 12_500, action: control.action, by: "bob" };
    const want: Partial<Timeline> = { ...expected, ...changed };
    // A stopped timeline has no title at all (room-playback leaves the field out).
    if (want.title === undefined) delete want.title;
    deepEqual(next, want, control.action);
  }
});

Deno.test("nextTimeline: what needs a title or a position is refused with BAD_MESSAGE", () => {
  const ended = 10_000 + 81_000; // past the title's end
  const rows: [Timeline | undefined, Control, number][] = [
    [undefined, { action: "pause" }, 0],
    [undefined, { action: "play" }, 0],
    [PLAYING, { action: "seek" }, 10_000],
    [PLAYING, { action: "resume" }, ended],
    [{ ...PLAYING, title: undefined }, { action: "resume" }, 10_000],
  ];
  for (const [current, control, now] of rows) {
    throws(
      () => nextTimeline(current, control, "bob", now),
      (e: unknown) => e instanceof PeerstreamError && e.code === "BAD_MESSAGE",
      control.action,
    );
  }
  // A paused timeline never runs out.
  equal(isLive({ ...PLAYING, rate: 0 }, 10_000_000), true);
  equal(isLive(PLAYING, ended), false);
});

Deno.test("RoomTimelines keeps only a newer epoch; playbackMessage says state without who", () => {
  const timelines = new RoomTimelines();
  equal(timelines.set("r", PLAYING), true);
  equal(timelines.set("r", { ...PLAYING, epoch: 4, position: 0 }), false);
  equal(timelines.get("r")?.position, 20);
  deepEqual(timelines.live(["r", "x"], 10_000).map(([room]) => room), ["r"]);
  deepEqual(playbackMessage("r", PLAYING, { state: true }), {
    type: "room-playback",
    room: "r",
    action: "state",
    title: "film",
    epoch: 4,
    anchor: 10_000,
    position: 20,
    rate: 1,
  });
  equal(playbackMessage("r", PLAYING, { re: 3 }).by, "alice");
});
