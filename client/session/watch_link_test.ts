import { deepEqual, equal, rejects } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { ClientMessage } from "../../protocol/messages.ts";
import type { RoomView } from "./room_book_types.ts";
import { WatchLink } from "./watch_link.ts";

const CLUB = { id: "AAAAAAAAAAAAAAAAAAAAAA", name: "club" } as RoomView;

function link() {
  const asked: ClientMessage[] = [];
  const watch = new WatchLink({
    // deno-lint-ignore no-explicit-any
    ask: (message): Promise<any> => {
      asked.push(message);
      if (message.type === "time") return Promise.resolve({ type: "time-is", re: 1, server: 42 });
      return Promise.resolve({ type: "room-playback", re: 1, room: CLUB.id, action: "pause" });
    },
    find: (name) => {
      if (name.replace(/^#/, "") !== "club") {
        throw new PeerstreamError("ROOM_NOT_FOUND", `Cannot find room #${name}`);
      }
      return CLUB;
    },
  });
  return { asked, watch };
}

Deno.test("WatchLink.control() sends room-control with the room's id and only the fields given", async () => {
  const cases: [Parameters<WatchLink["control"]>, ClientMessage][] = [
    [["club", "play", { title: "film" }], {
      type: "room-control",
      id: 0,
      room: CLUB.id,
      action: "play",
      title: "film",
    }],
    [["#club", "seek", { position: 62.5 }], {
      type: "room-control",
      id: 0,
      room: CLUB.id,
      action: "seek",
      position: 62.5,
    }],
    [["club", "pause"], { type: "room-control", id: 0, room: CLUB.id, action: "pause" }],
  ];
  for (const [args, want] of cases) {
    const { asked, watch } = link();
    await watch.control(...args);
    deepEqual(asked, [want]);
  }
});

Deno.test("WatchLink.control() refuses a room this client does not have; time() gives the server's stamp", async () => {
  const { asked, watch } = link();
  await rejects(() => watch.control("other", "pause"), PeerstreamError);
  equal(asked.length, 0);
  equal(await watch.time(), 42);
});
