import { deepEqual, equal, rejects } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { RedisServer } from "../../tests/_redis.ts";
import { ClusterRoomLog, parseRoomNotice } from "./cluster_rooms.ts";
import { RedisLink } from "./redis_link.ts";

const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";
const OTHER = "BBBBBBBBBBBBBBBBBBBBBB";
const encoder = new TextEncoder();

Deno.test("parseRoomNotice() reads `ID SEQ` and refuses anything else", () => {
  deepEqual(parseRoomNotice(encoder.encode(`${ROOM} 0`)), { room: ROOM, seq: 0 });
  deepEqual(parseRoomNotice(encoder.encode(`${ROOM} 999999999`)), { room: ROOM, seq: 999999999 });
  for (
    const bad of [
      "",
      ROOM,
      `${ROOM} `,
      `${ROOM} -1`,
      `${ROOM} 01`,
      `${ROOM} 1000000000`,
      `${ROOM}A 1`,
      `${ROOM.slice(1)} 1`,
      `${ROOM} 1 2`,
      `${ROOM.slice(1)}! 1`,
    ]
  ) equal(parseRoomNotice(encoder.encode(bad)), undefined, bad);
});

/** Two nodes' links to one Redis, the second collecting what its subscriber hears. */
async function twoNodes(redis: RedisServer) {
  const heard: { channel: string; notice: ReturnType<typeof parseRoomNotice> }[] = [];
  let wake = () => {};
  const links: RedisLink[] = [];
  for (const node of ["a", "b"]) {
    links.push(
      await RedisLink.open({
        url: redis.url,
        onMessage: (channel, message) => {
          if (node === "b") heard.push({ channel, notice: parseRoomNotice(message) });
          wake();
        },
        onDown: () => {},
        onReady: () => {},
      }, ["t:rooms"]),
    );
  }
  const until = async (count: number) => {
    const deadline = Date.now() + 20_000;
    while (heard.length < count) {
      if (Date.now() > deadline) throw new Error(`heard ${heard.length} notices, not ${count}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  return { links, heard, until };
}

Deno.test("ClusterRoomLog.append() lets exactly one of two nodes store one seq, and announces it", async () => {
  const redis = await RedisServer.start();
  const { links, heard, until } = await twoNodes(redis);
  try {
    const [a, b] = links.map((link) => new ClusterRoomLog(link, "t:"));
    equal(
      await a.append(ROOM, 0, { at: 1, entry: new Uint8Array([1]), name: "club", key: "k" }),
      "stored",
    );
    // Both nodes checked seq 1 against the head they held; both send it at once.
    const race = await Promise.all([
      a.append(ROOM, 1, { at: 2, entry: new Uint8Array([2]) }),
      b.append(ROOM, 1, { at: 3, entry: new Uint8Array([3]) }),
    ]);
    deepEqual(race.slice().sort(), ["moved", "stored"], `race: ${race}`);
    // A gap is refused too: seq 3 cannot follow seq 1.
    equal(await b.append(ROOM, 3, { at: 4, entry: new Uint8Array([4]) }), "moved");
    equal(await b.append(ROOM, 2, { at: 5, entry: new Uint8Array([5]) }), "stored");
    const winner = race[0] === "stored" ? new Uint8Array([2]) : new Uint8Array([3]);
    const stored = await b.tail(ROOM, 0);
    deepEqual(stored.map((record) => record.entry), [
      new Uint8Array([1]),
      winner,
      new Uint8Array([5]),
    ]);
    deepEqual(stored[0], { at: 1, entry: new Uint8Array([1]), name: "club", key: "k" });
    deepEqual((await a.tail(ROOM, 2)).map((record) => record.entry), [new Uint8Array([5])]);
    deepEqual(await a.tail(ROOM, 3), []);
    // The other node hears each stored seq once, in order, and never the refused ones.
    await until(3);
    deepEqual(heard, [0, 1, 2].map((seq) => ({ channel: "t:rooms", notice: { room: ROOM, seq } })));
  } finally {
    for (const link of links) await link.close();
    await redis.close();
  }
});

Deno.test("ClusterRoomLog.load() gives every room's records and refuses a record that is not one", async () => {
  const redis = await RedisServer.start();
  const { links } = await twoNodes(redis);
  try {
    const log = new ClusterRoomLog(links[0], "t:");
    deepEqual(await log.load(), new Map());
    await log.append(OTHER, 0, { at: 7, entry: new Uint8Array([7]), name: "b", key: "k2" });
    await log.append(ROOM, 0, { at: 1, entry: new Uint8Array([1]), name: "a", key: "k" });
    await log.append(ROOM, 1, { at: 2, entry: new Uint8Array([2]) });
    // Another prefix is another cluster: not seen.
    await new ClusterRoomLog(links[1], "u:").append(ROOM, 0, { at: 9, entry: new Uint8Array([9]) });
    deepEqual(
      await new ClusterRoomLog(links[1], "t:").load(),
      new Map([
        [ROOM, [{ at: 1, entry: new Uint8Array([1]), name: "a", key: "k" }, {
          at: 2,
          entry: new Uint8Array([2]),
        }]],
        [OTHER, [{ at: 7, entry: new Uint8Array([7]), name: "b", key: "k2" }]],
      ]),
    );
    await links[0].command(["RPUSH", `t:room:${ROOM}`, "not json"]);
    await rejects(
      () => log.load(),
      (e: Error) =>
        e instanceof PeerstreamError && e.code === "INTERNAL" &&
        e.message ===
          `Cannot load the room "${ROOM}": its record 2 in Redis is not a room record; delete the key "t:room:${ROOM}" to drop that room`,
    );
  } finally {
    for (const link of links) await link.close();
    await redis.close();
  }
});

Deno.test("ClusterRoomLog.append() refuses a room's create whose name another room holds, and keeps the name of a refused create free", async () => {
  const redis = await RedisServer.start();
  const { links } = await twoNodes(redis);
  try {
    const [a, b] = links.map((link) => new ClusterRoomLog(link, "t:"));
    const club = { at: 1, entry: new Uint8Array([1]), name: "club", key: "k" };
    // Two nodes create a room of one name (look-alike keys given) at once: one holds it.
    const race = await Promise.all([
      a.append(ROOM, 0, club, { nameKeys: ["club"] }),
      b.append(OTHER, 0, club, { nameKeys: ["club", "c1ub"] }),
    ]);
    deepEqual(race.slice().sort(), ["name-taken", "stored"]);
    // A look-alike key alone is enough.
    const THIRD = "CCCCCCCCCCCCCCCCCCCCCC";
    equal(
      await a.append(THIRD, 0, club, { nameKeys: ["c1ub"] }),
      race[1] === "stored" ? "name-taken" : "stored",
    );
    // A create refused for its seq (the id in use) takes no name.
    const taken = race[0] === "stored" ? ROOM : OTHER;
    equal(await a.append(taken, 0, { ...club, name: "pub" }, { nameKeys: ["pub"] }), "moved");
    const FOURTH = "DDDDDDDDDDDDDDDDDDDDDD";
    equal(await b.append(FOURTH, 0, { ...club, name: "pub" }, { nameKeys: ["pub"] }), "stored");
    // Later entries carry no name.
    equal(await b.append(FOURTH, 1, { at: 2, entry: new Uint8Array([2]) }), "stored");
    equal((await a.load()).size, race[1] === "stored" ? 2 : 3);
  } finally {
    for (const link of links) await link.close();
    await redis.close();
  }
});
