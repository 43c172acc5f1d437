import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import {
  ClusterTimelines,
  newerTimeline,
  TIMELINE_ATTEMPTS,
  type TimelineStore,
} from "./cluster_timeline_sync.ts";
import { parseTimeline, type StoreOutcome, timelineLine } from "./cluster_timelines.ts";
import { nextTimeline, RoomTimelines, type Timeline } from "./room_timelines.ts";

const ROOM = "syncroom00000000000000";
const TITLE = { name: "testcard", duration: 12 };

/**
 * The timelines in Redis, in memory: a compare-and-set on the raw value, and hooks that let a
 * test make another node store first, or Redis fail.
 */
class FakeStore implements TimelineStore {
  values = new Map<string, string>();
  published: string[] = [];
  /** Runs before each store: another node's write, or a throw. */
  beforeStore?: () => void;
  /** Hears each notice as soon as it is published (before the store's answer). */
  heard?: (notice: Uint8Array) => void;
  /** The next store is made, then its answer lost (a deadline passed). */
  loseAnswer = false;
  stores = 0;
  readonly channel = "t:timelines";

  key(room: string): string {
    return `t:timeline:${room}`;
  }

  read(rooms: readonly string[]) {
    return Promise.resolve(rooms.map((room) => {
      const raw = this.values.get(room) ?? "";
      return raw === "" ? { raw } : { raw, timeline: parseTimeline(raw) };
    }));
  }

  store(room: string, read: string, timeline: Timeline): Promise<StoreOutcome> {
    this.stores++;
    this.beforeStore?.();
    if ((this.values.get(room) ?? "") !== read) return Promise.resolve("moved");
    this.put(room, timeline);
    if (this.loseAnswer) {
      this.loseAnswer = false;
      return Promise.reject(new Error("Redis did not answer within 2000 ms"));
    }
    return Promise.resolve("stored");
  }

  /** Another node's store: the value and its notice. */
  put(room: string, timeline: Timeline): Uint8Array {
    this.values.set(room, timelineLine(timeline));
    const notice = `${room} ${timelineLine(timeline)}`;
    this.published.push(notice);
    const bytes = new TextEncoder().encode(notice);
    this.heard?.(bytes);
    return bytes;
  }
}

function node(store: FakeStore) {
  const timelines = new RoomTimelines();
  const told: [string, number, string][] = [];
  const logged: string[] = [];
  const sync = new ClusterTimelines(store, {
    timelines,
    tell: (room, timeline, except) => told.push([room, timeline.epoch, except]),
    log: (line) => logged.push(line),
  });
  return { timelines, told, logged, sync };
}

const play = (by: string, at: number) => (current: Timeline | undefined) =>
  nextTimeline(current, { action: "play", title: TITLE }, by, at);
const pause = (by: string, at: number) => (current: Timeline | undefined) =>
  nextTimeline(current, { action: "pause" }, by, at);

Deno.test("newerTimeline() keeps the greater epoch, the first when equal", () => {
  const t = (epoch: number, by = "a"): Timeline => ({
    duration: 0,
    epoch,
    anchor: 0,
    position: 0,
    rate: 0,
    action: "stop",
    by,
  });
  const cases: [Timeline | undefined, Timeline | undefined, Timeline | undefined][] = [
    [undefined, undefined, undefined],
    [t(1), undefined, t(1)],
    [undefined, t(2), t(2)],
    [t(1), t(2), t(2)],
    [t(3), t(2), t(3)],
    [t(2, "a"), t(2, "b"), t(2, "a")],
  ];
  for (const [a, b, want] of cases) deepEqual(newerTimeline(a, b), want);
});

Deno.test("ClusterTimelines.change() stores the next epoch, keeps it and tells the others here", async () => {
  const store = new FakeStore();
  const a = node(store);
  const first = await a.sync.change(ROOM, play("alice", 1000), "play");
  deepEqual([first.epoch, first.title, first.by], [1, "testcard", "alice"]);
  deepEqual(a.timelines.get(ROOM), first);
  deepEqual(a.told, [[ROOM, 1, "alice"]]);
  const paused = await a.sync.change(ROOM, pause("bob", 3000), "pause");
  deepEqual([paused.epoch, paused.position, paused.rate], [2, 2, 0]);
  deepEqual(parseTimeline(store.values.get(ROOM)!), paused);
  // Its own notices, heard after the answer, change nothing and tell nobody again.
  for (const notice of store.published) a.sync.notice(new TextEncoder().encode(notice));
  deepEqual(a.told, [[ROOM, 1, "alice"], [ROOM, 2, "bob"]]);
});

Deno.test("ClusterTimelines.change() made again on the newer timeline when another node stored first", async () => {
  const store = new FakeStore();
  const a = node(store);
  await a.sync.change(ROOM, play("alice", 1000), "play");
  // Between bob's read and his store, carol's node pauses at epoch 2.
  let raced = false;
  store.beforeStore = () => {
    if (raced) return;
    raced = true;
    store.put(ROOM, { ...pause("carol", 2000)(a.timelines.get(ROOM)) });
  };
  const sought = await a.sync.change(
    ROOM,
    (current) => nextTimeline(current, { action: "seek", position: 5 }, "bob", 2500),
    "seek",
  );
  // Made again from carol's pause: still paused, at epoch 3.
  deepEqual([sought.epoch, sought.position, sought.rate, sought.by], [3, 5, 0, "bob"]);
  equal(store.stores, 3);
});

Deno.test("ClusterTimelines.change() gives up UNAVAILABLE after its attempts, and names a Redis that fails", async () => {
  const store = new FakeStore();
  const a = node(store);
  await a.sync.change(ROOM, play("alice", 1000), "play");
  let epoch = 1;
  store.beforeStore = () => {
    epoch++;
    store.put(ROOM, { ...a.timelines.get(ROOM)!, epoch, by: "carol" });
  };
  const before = store.stores;
  await rejects(a.sync.change(ROOM, pause("bob", 2000), 'pause in "club"'), (error) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "UNAVAILABLE");
    equal(
      error.message,
      'Cannot pause in "club": other members changed the room\'s playback at the same moment; try again',
    );
    return true;
  });
  equal(store.stores - before, TIMELINE_ATTEMPTS);
  store.beforeStore = () => {
    throw new Error("The client is closed");
  };
  await rejects(a.sync.change(ROOM, pause("bob", 2000), 'pause in "club"'), (error) => {
    ok(error instanceof PeerstreamError);
    equal(error.code, "UNAVAILABLE");
    equal(error.message, `Cannot pause in "club": the cluster's Redis did not answer; try again`);
    return true;
  });
  // What the change itself refuses is refused as it is, nothing stored.
  store.beforeStore = undefined;
  const stopped = new FakeStore();
  const b = node(stopped);
  await rejects(b.sync.change(ROOM, pause("bob", 2000), "pause"), /start a title for the room/);
  equal(stopped.stores, 0);
});

Deno.test("ClusterTimelines.change() never goes back from an epoch told, though Redis lost it", async () => {
  const store = new FakeStore();
  const a = node(store);
  await a.sync.change(ROOM, play("alice", 1000), "play");
  await a.sync.change(ROOM, pause("alice", 3000), "pause");
  // Redis restarted without its last second: it holds epoch 1, the node told epoch 2.
  store.values.set(ROOM, timelineLine({ ...a.timelines.get(ROOM)!, epoch: 1, rate: 1 }));
  const resumed = await a.sync.change(
    ROOM,
    (current) => nextTimeline(current, { action: "resume" }, "bob", 9000),
    "resume",
  );
  // From the pause at 2 s (epoch 2), not from the play Redis held.
  deepEqual([resumed.epoch, resumed.position, resumed.rate], [3, 2, 1]);
  // A value in Redis that is not a timeline is replaced by the next control, and logged on load.
  store.values.set(ROOM, "garbage");
  await a.sync.load([ROOM]);
  ok(a.logged.some((line) => line.includes("is not one")), a.logged.join("\n"));
  equal((await a.sync.change(ROOM, pause("bob", 9500), "pause")).epoch, 4);
});

Deno.test("ClusterTimelines: another node's timelines kept and told when newer, older ones ignored, all read on load", async () => {
  const store = new FakeStore();
  const a = node(store);
  const b = node(store);
  const played = await a.sync.change(ROOM, play("alice", 1000), "play");
  const paused = await a.sync.change(ROOM, pause("alice", 2000), "pause");
  // b hears epoch 2 before epoch 1 (a late copy): it keeps 2, ignores 1, tells everyone here.
  const [first, second] = store.published.map((n) => new TextEncoder().encode(n));
  b.sync.notice(second);
  b.sync.notice(first);
  deepEqual(b.timelines.get(ROOM), paused);
  deepEqual(b.told, [[ROOM, 2, ""]]);
  b.sync.notice(new TextEncoder().encode("garbage"));
  equal(b.logged.length, 1);
  // A node starting reads every room, and tells only what is newer than it held.
  const c = node(store);
  c.timelines.set(ROOM, played);
  const other = "syncroom00000000000001";
  store.put(other, { ...played, by: "dave" });
  await c.sync.load([ROOM, other, "syncroom00000000000002"]);
  deepEqual(c.told, [[ROOM, 2, ""], [other, 1, ""]]);
  equal(c.timelines.size, 2);
});

Deno.test("ClusterTimelines: the author's own notice heard while its change is in flight is not told to them", async () => {
  const store = new FakeStore();
  const a = node(store);
  await a.sync.change(ROOM, play("alice", 1000), "play");
  // The notice comes before Redis's answer (it comes on another connection): the others are
  // told then, bob is not (his answer tells him), and nobody is told again once it is answered.
  store.heard = (notice) => a.sync.notice(notice);
  const paused = await a.sync.change(ROOM, pause("bob", 2000), "pause");
  deepEqual(a.told, [[ROOM, 1, "alice"], [ROOM, 2, "bob"]]);
  // Once answered, a notice of bob's (made on another node, say after a reconnect) tells him too.
  const resumed = { ...paused, epoch: 3, rate: 1 as const, action: "resume" as const };
  store.put(ROOM, resumed);
  deepEqual(a.told.at(-1), [ROOM, 3, ""]);
});

Deno.test("ClusterTimelines.change(): a store whose answer is lost but whose notice came is answered; without its notice, UNAVAILABLE", async () => {
  const store = new FakeStore();
  const a = node(store);
  await a.sync.change(ROOM, play("alice", 1000), "play");
  store.heard = (notice) => a.sync.notice(notice);
  store.loseAnswer = true;
  const paused = await a.sync.change(ROOM, pause("bob", 2000), "pause");
  deepEqual([paused.epoch, paused.by], [2, "bob"]);
  deepEqual(a.told, [[ROOM, 1, "alice"], [ROOM, 2, "bob"]]);
  // Its notice never came (the subscriber was cut too): the member is told Redis did not answer,
  // and hears the timeline once a notice or a load brings it.
  store.heard = undefined;
  store.loseAnswer = true;
  await rejects(
    a.sync.change(ROOM, pause("carol", 3000), "pause"),
    /the cluster's Redis did not answer; try again/,
  );
  await a.sync.load([ROOM]);
  deepEqual(a.told.at(-1), [ROOM, 3, ""]);
});
