import { equal } from "node:assert/strict";
import type { RoomPlaybackMessage } from "../../protocol/messages.ts";
import {
  controlBlockedWords,
  roomPlayingWords,
  watchChangeWords,
  watchingWords,
} from "./watch_words.ts";

Deno.test("watchChangeWords() words each change for the room's chat, `You` for the reader", () => {
  const cases: [
    Pick<RoomPlaybackMessage, "action" | "by" | "title" | "position">,
    string | null,
  ][] = [
    [{ action: "play", by: "bob", title: "Film", position: 0 }, 'bob started "Film" for the room'],
    [{ action: "pause", by: "alice", position: 62 }, "alice paused at 1:02"],
    [{ action: "resume", by: "ann", position: 62 }, "You resumed at 1:02"],
    [{ action: "seek", by: "bob", position: 754 }, "bob jumped to 12:34"],
    [{ action: "seek", by: "bob", position: 3723 }, "bob jumped to 1:02:03"],
    [{ action: "stop", by: "bob", position: 5 }, "bob stopped the room's video"],
    [{ action: "stop", position: 5 }, "The server stopped the room's video"],
    [{ action: "state", title: "Film", position: 5 }, null],
    // A name with a bidi override is shown escaped.
    [{ action: "pause", by: "eve\u202e", position: 0 }, "eve\\u202e ⚠ paused at 0:00"],
  ];
  for (const [playback, words] of cases) equal(watchChangeWords(playback, "ann"), words);
});

Deno.test("controlBlockedWords() says why only in a host-only room, to anyone but its owner", () => {
  const room = { name: "club", owner: "alice" };
  equal(controlBlockedWords({ ...room, control: "all" }, "bob"), null);
  equal(controlBlockedWords({ ...room, control: "host" }, "alice"), null);
  equal(
    controlBlockedWords({ ...room, control: "host" }, "bob"),
    "Only the host, alice, controls playback in #club",
  );
});

Deno.test("watchingWords() and roomPlayingWords() name the room and its title", () => {
  equal(watchingWords("club"), "Watching with #club");
  equal(roomPlayingWords("club", { title: "Film", rate: 1 }), '#club is watching "Film"');
  equal(roomPlayingWords("club", { title: "Film", rate: 0 }), '#club is watching "Film" (paused)');
});
