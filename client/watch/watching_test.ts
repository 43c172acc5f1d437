import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { RoomPlaybackMessage, WatchAction } from "../../protocol/messages.ts";
import { FakeClock } from "../session/_testing.ts";
import type { RoomView } from "../session/room_book_types.ts";
import type { PlaybackState } from "../playback.ts";
import { MAX_TIMELINES, Watching, type WatchingViewer } from "./watching.ts";

const CLUB = { id: "Y2x1Yi1yb29tLWlkLTAwMD", name: "club", owner: "alice" } as RoomView;

function setup(options: { refuse?: string } = {}) {
  const clock = new FakeClock(5_000_000);
  const printed: string[] = [];
  const errors: string[] = [];
  const controls: string[] = [];
  const calls: string[] = [];
  let epoch = 0;
  let screen: ReturnType<WatchingViewer["screen"]>;
  const viewer: WatchingViewer = {
    get state(): PlaybackState {
      return screen === undefined ? "idle" : "playing";
    },
    screen: () => screen,
    play(title, quality, position) {
      calls.push(`play ${title} ${quality} ${position?.toFixed(2)}`);
      screen = { title, position: position ?? 0, started: false, paused: false, duration: 60 };
      return Promise.resolve();
    },
    seek: (target) => {
      calls.push(`seek ${JSON.stringify(target)}`);
      return Promise.resolve(0);
    },
    pause: () => (calls.push("pause"), true),
    resume: () => (calls.push("resume"), true),
    setRate: (rate) => (calls.push(`rate ${rate}`), true),
    stop: () => {
      calls.push("stop");
      screen = undefined;
      return Promise.resolve();
    },
  };
  const playback = (
    action: RoomPlaybackMessage["action"],
    fields: Partial<RoomPlaybackMessage> = {},
  ): RoomPlaybackMessage => ({
    type: "room-playback",
    room: CLUB.id,
    action,
    epoch: ++epoch,
    anchor: clock.now(),
    position: 0,
    rate: 1,
    title: "film",
    ...fields,
  });
  // deno-lint-ignore prefer-const
  let watching: Watching;
  const session = {
    watch: {
      time: () => Promise.resolve(clock.now()),
      control(
        room: string,
        action: WatchAction,
        fields: { title?: string; position?: number } = {},
      ) {
        controls.push(`${room} ${action} ${JSON.stringify(fields)}`);
        if (options.refuse !== undefined) {
          return Promise.reject(new PeerstreamError("NOT_ALLOWED", options.refuse));
        }
        // The server answers, and the session hands the answer to roomPlayback too.
        const message = playback(action, { by: "bob", re: 1, ...fields });
        watching.playback(message);
        return Promise.resolve(message);
      },
    },
    rooms: {
      list: () => [CLUB],
      find: (name: string) => {
        if (name !== "club") throw new PeerstreamError("ROOM_NOT_FOUND", `Cannot find #${name}`);
        return CLUB;
      },
    },
  };
  watching = new Watching({
    session,
    viewer,
    canRate: true,
    clock,
    print: (line) => printed.push(line),
    error: (line) => errors.push(line),
  });
  return { clock, printed, errors, controls, calls, watching, playback };
}

Deno.test("Watching.watch() with a title starts it for the room and plays it here at the room's position", async () => {
  const { printed, controls, calls, watching } = setup();
  await watching.watch("club", { title: "film", quality: 240 });
  deepEqual(controls, ['club play {"title":"film"}']);
  deepEqual(printed, ['* bob started "film" in #club']);
  equal(watching.room, "club");
  deepEqual(calls, ["play film 240 0.50"]);
});

Deno.test("Watching tells a member who does not watch how to join, and WATCH #room joins at the room's position", async () => {
  const { clock, printed, calls, watching, playback } = setup();
  await watching.watch("club");
  ok(printed[0].startsWith("Nothing plays in #club yet;"), printed[0]);
  await watching.stopWatching();
  printed.length = 0;
  watching.playback(playback("play", { by: "carol" }));
  deepEqual(printed, ['* carol started "film" in #club — WATCH #club to join']);
  equal(calls.length, 0, "not watching: nothing plays here");
  clock.advance(12_000);
  await watching.watch("club");
  deepEqual(calls, ["play film auto 12.50"]);
});

Deno.test("Watching sends PAUSE, RESUME and SEEK to the watched room, and says nothing plays here otherwise", async () => {
  const { clock, controls, watching } = setup();
  equal(await watching.control("pause"), false, "no room watched");
  await watching.watch("club", { title: "film" });
  clock.advance(10_000);
  equal(await watching.seek({ relative: -4 }), true);
  equal(await watching.seek({ absolute: 90 }), true);
  equal(await watching.control("pause"), true);
  equal(await watching.control("resume"), true);
  deepEqual(controls.slice(1), [
    'club seek {"position":6}',
    'club seek {"position":90}',
    "club pause {}",
    "club resume {}",
  ]);
});

Deno.test("Watching drops an older timeline and follows the newest", () => {
  const { printed, watching, playback } = setup();
  const newer = playback("pause", { by: "bob", position: 754 });
  const older = { ...playback("seek", { by: "bob", position: 5 }), epoch: newer.epoch - 1 };
  watching.playback(newer);
  watching.playback(older);
  deepEqual(printed, ["* bob paused #club at 12:34"]);
});

Deno.test("Watching words a host-only room's refusal with its host; STOP leaves the room playing", async () => {
  const refused = setup({ refuse: 'Cannot pause in "club": only its host...' });
  await rejects(
    () => refused.watching.watch("club", { title: "film" }),
    (error: Error) => {
      equal(
        error.message,
        "Cannot start #club: only its host, alice, controls playback in this room; ask alice, or STOP to watch on your own",
      );
      return true;
    },
  );
  const { printed, calls, controls, watching } = setup();
  await watching.watch("club", { title: "film" });
  printed.length = 0;
  equal(await watching.stopWatching(), true);
  deepEqual(calls.at(-1), "stop");
  deepEqual(printed, ["* you stopped watching #club; it plays on — WATCH #club to come back"]);
  equal(controls.length, 1, "nothing sent to the room");
  equal(watching.room, undefined);
  watching.close();
});

Deno.test("Watching keeps at most MAX_TIMELINES rooms' timelines, whatever a server pushes", async () => {
  const { watching, playback, printed } = setup();
  for (let i = 0; i < MAX_TIMELINES + 5; i++) {
    watching.playback({ ...playback("state"), room: `room${String(i).padStart(18, "0")}` });
  }
  // The club's own timeline comes after the bound: it is not kept, so WATCH says nothing plays.
  watching.playback(playback("state"));
  await watching.watch("club");
  ok(printed.at(-1)?.startsWith("Nothing plays in #club yet"), printed.at(-1));
  watching.close();
});

Deno.test("Watching: WATCH #room <title> while watching it starts no second watch; another room's title goes", async () => {
  const { clock, calls, controls, watching } = setup();
  await watching.watch("club", { title: "film" });
  await watching.watch("club", { title: "other" });
  // The start in flight settles; the next check (twice a second) starts the new title.
  await new Promise((resolve) => setTimeout(resolve, 0));
  clock.advance(500);
  deepEqual(controls, ['club play {"title":"film"}', 'club play {"title":"other"}']);
  deepEqual(calls, ["play film auto 0.50", "play other auto 1.00"], `one play per title: ${calls}`);
  watching.close();
});
