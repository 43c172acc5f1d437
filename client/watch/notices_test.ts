import { equal } from "node:assert/strict";
import { controlRefusal, playbackNotice } from "./notices.ts";

Deno.test("playbackNotice() says who did what to the room, and how to join when not watching", () => {
  const cases: [string, Parameters<typeof playbackNotice>[0], boolean, string | undefined][] = [
    [
      "play, watching",
      { action: "play", by: "bob", title: "The Movie", position: 0 },
      true,
      '* bob started "The Movie" in #club',
    ],
    [
      "play, not watching",
      { action: "play", by: "bob", title: "The Movie", position: 0 },
      false,
      '* bob started "The Movie" in #club — WATCH #club to join',
    ],
    [
      "pause",
      { action: "pause", by: "alice", title: "x", position: 754.9 },
      true,
      "* alice paused #club at 12:34",
    ],
    [
      "resume",
      { action: "resume", by: "alice", title: "x", position: 754 },
      false,
      "* alice resumed #club at 12:34",
    ],
    [
      "seek",
      { action: "seek", by: "carol", title: "x", position: 3723 },
      true,
      "* carol moved #club to 1:02:03",
    ],
    ["stop", { action: "stop", by: "alice", position: 0 }, false, "* alice stopped #club"],
    ["state, watching", { action: "state", title: "x", position: 5 }, true, undefined],
    ["state, stopped", { action: "state", position: 5 }, false, undefined],
    [
      "state, not watching",
      { action: "state", title: "x", position: 65 },
      false,
      '* #club is playing "x" at 1:05 — WATCH #club to join',
    ],
    [
      "hostile title",
      { action: "play", by: "bob", title: "a\x1b[2Jb\nc", position: 0 },
      true,
      '* bob started "a\\x1b[2Jb\\nc" in #club',
    ],
  ];
  for (const [what, message, watching, want] of cases) {
    equal(playbackNotice(message, { room: "club", watching }), want, what);
  }
});

Deno.test("controlRefusal() names the host of a host-only room, and says nothing plays", () => {
  equal(
    controlRefusal("pause", "club", "NOT_ALLOWED", "whatever", "alice"),
    "Cannot pause #club: only its host, alice, controls playback in this room; ask alice, or STOP to watch on your own",
  );
  equal(
    controlRefusal("seek", "club", "BAD_MESSAGE", "x", "alice"),
    "Cannot seek #club: nothing plays there; WATCH #club <title> starts one",
  );
  equal(
    controlRefusal("start", "club", "VIDEO_NOT_FOUND", "Cannot play \x07", "a"),
    "Cannot play \\x07",
  );
});
