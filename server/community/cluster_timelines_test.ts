import { deepEqual, equal, rejects } from "node:assert/strict";
import { RedisServer } from "../../tests/_redis.ts";
import {
  ClusterTimelineStore,
  MAX_TIMELINE_LINE,
  parseRedisTime,
  parseTimeline,
  parseTimelineNotice,
  timelineLine,
} from "./cluster_timelines.ts";
import { RedisLink } from "./redis_link.ts";
import type { Timeline } from "./room_timelines.ts";

const ROOM = "timelineroom0000000000";
const PLAYING: Timeline = {
  title: "testcard",
  duration: 12,
  epoch: 3,
  anchor: 1_700_000_000_000.25,
  position: 4.5,
  rate: 1,
  action: "seek",
  by: "alice",
};
const STOPPED: Timeline = {
  duration: 0,
  epoch: 9,
  anchor: 1_700_000_000_000,
  position: 0,
  rate: 0,
  action: "stop",
  by: "bob",
};

Deno.test("timelineLine() and parseTimeline() round-trip a playing and a stopped timeline", () => {
  for (const timeline of [PLAYING, STOPPED]) {
    deepEqual(parseTimeline(timelineLine(timeline)), timeline);
  }
  equal("title" in parseTimeline(timelineLine(STOPPED))!, false);
});

Deno.test("parseTimeline() refuses whatever is not a timeline", () => {
  const line = (fields: Record<string, unknown>) => JSON.stringify({ ...PLAYING, ...fields });
  const cases: [string, string][] = [
    ["not JSON", "{"],
    ["an array", "[1]"],
    ["null", "null"],
    ["a number", "3"],
    ["epoch 0", line({ epoch: 0 })],
    ["epoch 1.5", line({ epoch: 1.5 })],
    ["epoch as text", line({ epoch: "3" })],
    ["epoch past 2^53", line({ epoch: 2 ** 53 })],
    ["rate 2", line({ rate: 2 })],
    ["rate 0.5", line({ rate: 0.5 })],
    ["an unknown action", line({ action: "state" })],
    ["no by", line({ by: undefined })],
    ["an empty by", line({ by: "" })],
    ["a number as title", line({ title: 3 })],
    ["an empty title", line({ title: "" })],
    ["a negative position", line({ position: -1 })],
    ["a negative duration", line({ duration: -0.1 })],
    ["no anchor", line({ anchor: undefined })],
    ["an anchor as text", line({ anchor: "1" })],
    ["too long", line({ by: "x".repeat(MAX_TIMELINE_LINE) })],
  ];
  for (const [what, text] of cases) equal(parseTimeline(text), undefined, what);
  // At the bound: still read.
  const pad = MAX_TIMELINE_LINE - line({ by: "" }).length;
  equal(parseTimeline(line({ by: "x".repeat(pad) }))?.by.length, pad);
  equal(parseTimeline(line({ by: "x".repeat(pad + 1) })), undefined);
});

Deno.test("parseTimelineNotice() reads `ROOM LINE` and nothing else", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  deepEqual(parseTimelineNotice(bytes(`${ROOM} ${timelineLine(PLAYING)}`)), {
    room: ROOM,
    timeline: PLAYING,
  });
  for (
    const text of [
      "",
      ROOM,
      `${ROOM} `,
      `${ROOM}x ${timelineLine(PLAYING)}`,
      `${ROOM.slice(1)} ${timelineLine(PLAYING)}`,
      `${ROOM.slice(0, 21)}! ${timelineLine(PLAYING)}`,
      `${ROOM}\t${timelineLine(PLAYING)}`,
      `${ROOM} {"epoch":1}`,
      `${ROOM} 7`,
    ]
  ) {
    equal(parseTimelineNotice(bytes(text)), undefined, text);
  }
});

Deno.test("parseRedisTime() reads TIME's seconds and microseconds", () => {
  equal(parseRedisTime(["1700000000", "250000"]), 1_700_000_000_250);
  equal(parseRedisTime(["1700000000", "1"]), 1_700_000_000_000.001);
  equal(parseRedisTime(["0", "0"]), 0);
  for (
    const reply of [
      undefined,
      "1700000000",
      ["1700000000"],
      ["1700000000", "1", "2"],
      ["-1", "0"],
      ["1.5", "0"],
      ["1700000000", "1000000"],
      ["", "0"],
      ["x", "0"],
    ]
  ) {
    equal(parseRedisTime(reply), undefined, JSON.stringify(reply));
  }
});

Deno.test("ClusterTimelineStore: a timeline stored only over the value read, published, and a corrupt key named", async () => {
  const redis = await RedisServer.start();
  const heard: string[] = [];
  const link = await RedisLink.open({
    url: redis.url,
    onMessage: (_channel, message) => heard.push(new TextDecoder().decode(message)),
    onDown: () => {},
    onReady: () => {},
  }, ["t:timelines"]);
  try {
    const store = new ClusterTimelineStore(link, "t:");
    equal(store.channel, "t:timelines");
    deepEqual(await store.read([ROOM]), [{ raw: "" }]);
    equal(await store.store(ROOM, "", PLAYING), "stored");
    // A second node that read nothing too comes second: the key moved.
    equal(await store.store(ROOM, "", { ...PLAYING, epoch: 4 }), "moved");
    const [read] = await store.read([ROOM]);
    deepEqual(read, { raw: timelineLine(PLAYING), timeline: PLAYING });
    equal(await store.store(ROOM, read.raw, STOPPED), "stored");
    deepEqual((await store.read([ROOM]))[0].timeline, STOPPED);
    // Many rooms at once, in order, more than one command's worth.
    const rooms = Array.from({ length: 1200 }, (_, i) => `room${String(i).padStart(18, "0")}`);
    const many = await store.read([...rooms, ROOM]);
    equal(many.length, 1201);
    deepEqual(many.at(-1)?.timeline, STOPPED);
    // What is not a timeline reads as none; a key of another type is not replaced.
    await redis.command("SET", store.key(rooms[0]), "garbage");
    deepEqual((await store.read([rooms[0]]))[0], { raw: "garbage", timeline: undefined });
    await redis.command("LPUSH", store.key(rooms[1]), "x");
    equal(await store.store(rooms[1], "", PLAYING), "corrupt");
    await rejects(store.store("not a room", "", PLAYING), RangeError);
    // Redis's clock: close to ours (one machine).
    const now = Date.now();
    const time = await store.time();
    equal(Math.abs(time - now) < 1000, true, `${time} vs ${now}`);
    // Each store was published, in order, once; the last one closes the window.
    equal(await store.store(rooms[2], "", PLAYING), "stored");
    const deadline = Date.now() + 10_000;
    while (heard.length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    deepEqual(heard.map((m) => parseTimelineNotice(new TextEncoder().encode(m))), [
      { room: ROOM, timeline: PLAYING },
      { room: ROOM, timeline: STOPPED },
      { room: rooms[2], timeline: PLAYING },
    ]);
  } finally {
    await link.close();
    await redis.close();
  }
});
