import { deepEqual, equal } from "node:assert/strict";
import { FakeClock } from "../session/_testing.ts";
import {
  RoomWatch,
  type WatchEvent,
  type WatchScreen,
  type WatchTimeline,
  type WatchViewer,
} from "./room_watch.ts";

/** A player on the fake clock: it runs at its rate from where it was told, and logs each call. */
class FakeViewer implements WatchViewer {
  readonly calls: string[] = [];
  readonly clock: FakeClock;
  readonly canRate: boolean;
  #on?: { title: string; base: number; since: number; started: boolean; paused: boolean };
  rate = 1;
  /** The player stopped reading (SIGSTOP): its picture does not move. */
  stuck = false;

  constructor(clock: FakeClock, canRate: boolean) {
    this.clock = clock;
    this.canRate = canRate;
  }

  #position(): number {
    const on = this.#on!;
    if (!on.started || on.paused || this.stuck) return on.base;
    return on.base + (this.clock.now() - on.since) / 1000 * this.rate;
  }

  #rebase() {
    if (this.#on === undefined) return;
    this.#on.base = this.#position();
    this.#on.since = this.clock.now();
  }

  /** The first frame of the last start or jump is up, at `at` (the position asked for by default). */
  show(at?: number) {
    const on = this.#on!;
    if (at !== undefined) on.base = at;
    on.started = true;
    on.since = this.clock.now();
  }

  /** The player reads again, from where it froze. */
  unstick() {
    this.stuck = false;
    this.#on!.since = this.clock.now();
  }

  /** The window was closed. */
  close() {
    this.#on = undefined;
  }

  screen(): WatchScreen | undefined {
    const on = this.#on;
    if (on === undefined) return undefined;
    return {
      title: on.title,
      position: this.#position(),
      started: on.started,
      paused: on.paused,
      duration: 600,
    };
  }

  play(title: string, position: number): Promise<void> {
    this.calls.push(`play ${title} ${position.toFixed(2)}`);
    this.#on = { title, base: position, since: this.clock.now(), started: false, paused: false };
    return Promise.resolve();
  }

  seek(position: number): Promise<void> {
    this.calls.push(`seek ${position.toFixed(2)}`);
    this.#on!.base = position;
    this.#on!.started = false;
    return Promise.resolve();
  }

  pause() {
    this.calls.push("pause");
    this.#rebase();
    this.#on!.paused = true;
  }

  resume() {
    this.calls.push("resume");
    this.#on!.paused = false;
    this.#on!.since = this.clock.now();
  }

  setRate(rate: number) {
    this.calls.push(`rate ${rate}`);
    this.#rebase();
    this.rate = rate;
  }

  stop(): Promise<void> {
    this.calls.push("stop");
    this.#on = undefined;
    return Promise.resolve();
  }
}

/** The server's clock is 7 s ahead of this end's. */
const OFFSET = 7_000;

function setup(canRate: boolean) {
  const clock = new FakeClock(1_000_000);
  const viewer = new FakeViewer(clock, canRate);
  const events: WatchEvent[] = [];
  const watch = new RoomWatch({
    viewer,
    clock,
    serverNow: () => clock.now() + OFFSET,
    onEvent: (event) => events.push(event),
  });
  const timeline = (fields: Partial<WatchTimeline> & { epoch: number }): WatchTimeline => ({
    title: "film",
    anchor: clock.now() + OFFSET,
    position: 0,
    rate: 1,
    ...fields,
  });
  return { clock, viewer, watch, events, timeline };
}

/** Lets the viewer's resolved promises settle. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Moves the clock on in ticks of 500 ms, checking at each. */
async function run(clock: FakeClock, watch: RoomWatch, ms: number) {
  for (let t = 0; t < ms; t += 500) {
    clock.advance(Math.min(500, ms - t));
    watch.tick();
    await settle();
  }
}

Deno.test("RoomWatch.update() starts the title at the room's position when the first frame is expected", async () => {
  const cases: [string, boolean, string][] = [
    ["mpv: the room's position plus the start-up", true, "play film 10.50"],
    ["ffplay: a segment further (it lands ahead, then freezes)", false, "play film 12.50"],
  ];
  for (const [what, canRate, want] of cases) {
    const { viewer, watch, timeline } = setup(canRate);
    equal(watch.update(timeline({ epoch: 1, position: 10 })), true);
    await settle();
    deepEqual(viewer.calls, [want], what);
    equal(watch.state, "starting");
  }
});

Deno.test("RoomWatch.update() drops an older epoch and takes the same one again", async () => {
  const { viewer, watch, timeline } = setup(true);
  equal(watch.update(timeline({ epoch: 5, position: 10 })), true);
  await settle();
  equal(watch.update(timeline({ epoch: 4, position: 99, rate: 0 })), false);
  equal(watch.update(timeline({ epoch: 5, position: 10 })), true);
  deepEqual(viewer.calls, ["play film 10.50"]);
  equal(watch.timeline?.epoch, 5);
});

Deno.test("RoomWatch: a late joiner of a paused room starts at its frame, paused", async () => {
  const { clock, viewer, watch, timeline } = setup(true);
  watch.update(timeline({ epoch: 3, position: 42, rate: 0 }));
  await settle();
  deepEqual(viewer.calls, ["play film 42.00", "pause"]);
  // The frame is the room's: nothing more while paused.
  viewer.show();
  await run(clock, watch, 2_000);
  deepEqual(viewer.calls, ["play film 42.00", "pause"]);
});

Deno.test("RoomWatch: PAUSE and RESUME of the room pause and resume the picture, which keeps the room's frame", async () => {
  const { clock, viewer, watch, timeline } = setup(true);
  watch.update(timeline({ epoch: 1, position: 0 }));
  await settle();
  clock.advance(500);
  viewer.show(0.5);
  await run(clock, watch, 5_000);
  equal(watch.state, "playing");
  viewer.calls.length = 0;
  watch.update(timeline({ epoch: 2, position: 5.5, rate: 0 }));
  await settle();
  deepEqual(viewer.calls, ["pause"], "paused at the room's frame: no seek");
  equal(watch.state, "paused");
  await run(clock, watch, 3_000);
  deepEqual(viewer.calls, ["pause"], "nothing more while paused");
  watch.update(timeline({ epoch: 3, position: 5.5, rate: 1 }));
  await settle();
  deepEqual(viewer.calls, ["pause", "resume"]);
  equal(watch.state, "playing");
});

Deno.test("RoomWatch: a paused room whose frame is not the picture's seeks there, paused (mpv)", async () => {
  const { clock, viewer, watch, timeline } = setup(true);
  watch.update(timeline({ epoch: 1, position: 0 }));
  await settle();
  clock.advance(500);
  viewer.show(0.5);
  await run(clock, watch, 2_000);
  viewer.calls.length = 0;
  watch.update(timeline({ epoch: 2, position: 2.0, rate: 0 }));
  await settle();
  deepEqual(viewer.calls, ["pause", "seek 2.00"]);
});

Deno.test("RoomWatch.tick() corrects a small drift with the rate and ends it once settled (mpv)", async () => {
  const { clock, viewer, watch, timeline } = setup(true);
  watch.update(timeline({ epoch: 1, position: 0 }));
  await settle();
  clock.advance(500);
  // The first frame came 200 ms ahead of the room.
  viewer.show(0.7);
  watch.tick();
  deepEqual(viewer.calls, ["play film 0.50", "rate 0.95"]);
  await run(clock, watch, 6_000);
  equal(viewer.calls.at(-1), "rate 1", `settled: ${viewer.calls.join(", ")}`);
  equal(viewer.calls.filter((c) => c.startsWith("seek")).length, 0, "no seek");
  const drift = viewer.screen()!.position - watch.roomPosition()!;
  equal(Math.abs(drift) < 0.02, true, `drift ${drift}`);
});

Deno.test("RoomWatch measures the start-ups of a start and of a jump, and aims the next of each with its own (mpv)", async () => {
  const { clock, viewer, watch, timeline } = setup(true);
  watch.update(timeline({ epoch: 1, position: 10 }));
  await settle();
  // Asked at 10.5 for a start-up of 0.5 s; the frame came after 0.8 s: 0.3 s behind, it jumps
  // again at once, aimed with a jump's start-up (not measured yet: 0.5 s).
  clock.advance(800);
  viewer.show();
  clock.advance(200);
  watch.tick();
  await settle();
  equal(+watch.startup.start.toFixed(3), 0.8);
  deepEqual(viewer.calls, ["play film 10.50", "seek 11.50"]);
  // The jump's frame came after 0.2 s: 0.3 s ahead, which the rate corrects.
  clock.advance(200);
  viewer.show();
  clock.advance(300);
  watch.tick();
  equal(+watch.startup.jump.toFixed(3), 0.2);
  equal(viewer.calls.at(-1), "rate 0.95");
  viewer.calls.length = 0;
  // Someone moved the room to 100: aimed with the jump's start-up.
  watch.update(timeline({ epoch: 2, position: 100 }));
  await settle();
  deepEqual(viewer.calls, ["rate 1", "seek 100.20"]);
});

Deno.test("RoomWatch with ffplay takes the time to the first frame as its start-up", async () => {
  const { clock, viewer, watch, timeline } = setup(false);
  watch.update(timeline({ epoch: 1, position: 10 }));
  await settle();
  clock.advance(1_500);
  viewer.show(12);
  watch.tick();
  equal(watch.startup.start, 1.5);
});

Deno.test("RoomWatch: a SEEK of the room moves the picture there", async () => {
  const cases: [string, boolean, string][] = [
    ["mpv", true, "seek 300.50"],
    ["ffplay", false, "seek 302.50"],
  ];
  for (const [what, canRate, want] of cases) {
    const { clock, viewer, watch, timeline } = setup(canRate);
    watch.update(timeline({ epoch: 1, position: 0 }));
    await settle();
    clock.advance(500);
    viewer.show(0.5);
    await run(clock, watch, 1_000);
    viewer.calls.length = 0;
    watch.update(timeline({ epoch: 2, position: 300 }));
    await settle();
    deepEqual(viewer.calls.filter((c) => c.startsWith("seek")), [want], what);
  }
});

Deno.test("RoomWatch with ffplay: a picture ahead of the room freezes as long as it is ahead, then runs", async () => {
  const { clock, viewer, watch, timeline } = setup(false);
  watch.update(timeline({ epoch: 1, position: 10 }));
  await settle();
  // Asked for 12.5; the stream starts at its segment's first frame, 12.0, 300 ms later.
  clock.advance(300);
  viewer.show(12.0);
  watch.tick();
  deepEqual(viewer.calls, ["play film 12.50", "pause"], "frozen 1.7 s ahead");
  clock.advance(1_600);
  watch.tick();
  deepEqual(viewer.calls, ["play film 12.50", "pause"], "still frozen");
  clock.advance(100);
  deepEqual(viewer.calls, ["play film 12.50", "pause", "resume"], "runs again on time");
  await run(clock, watch, 5_000);
  equal(viewer.calls.length, 3, `nothing more: ${viewer.calls.join(", ")}`);
  const drift = viewer.screen()!.position - watch.roomPosition()!;
  equal(Math.abs(drift) < 0.01, true, `drift ${drift}`);
});

Deno.test("RoomWatch: a stalled player is left alone until it moves again, then seeks to the room", async () => {
  const cases: [string, boolean, RegExp][] = [
    ["mpv", true, /^seek 13\.50$/],
    ["ffplay", false, /^seek 15\.50$/],
  ];
  for (const [what, canRate, want] of cases) {
    const { clock, viewer, watch, timeline } = setup(canRate);
    watch.update(timeline({ epoch: 1, position: 0 }));
    await settle();
    clock.advance(500);
    viewer.show(canRate ? 0.5 : 0.5);
    await run(clock, watch, 2_000);
    viewer.calls.length = 0;
    viewer.stuck = true;
    await run(clock, watch, 10_000);
    equal(viewer.calls.join(", "), "", `${what}: nothing while stuck`);
    viewer.unstick();
    await run(clock, watch, 1_500);
    const seeks = viewer.calls.filter((c) => c.startsWith("seek"));
    equal(seeks.length, 1, `${what}: ${viewer.calls.join(", ")}`);
    equal(want.test(seeks[0]), true, `${what}: ${seeks[0]}`);
  }
});

Deno.test("RoomWatch: the room's STOP stops the picture; a closed player ends the watch", async () => {
  const { clock, viewer, watch, timeline } = setup(true);
  watch.update(timeline({ epoch: 1, position: 0 }));
  await settle();
  clock.advance(500);
  viewer.show(0.5);
  await run(clock, watch, 1_000);
  watch.update({ epoch: 2, anchor: clock.now() + OFFSET, position: 0, rate: 0 });
  await settle();
  equal(viewer.calls.at(-1), "stop");
  equal(watch.state, "stopped");

  const other = setup(true);
  other.watch.update(other.timeline({ epoch: 1, position: 0 }));
  await settle();
  other.clock.advance(500);
  other.viewer.show(0.5);
  await run(other.clock, other.watch, 1_000);
  other.viewer.close();
  await run(other.clock, other.watch, 1_000);
  equal(other.watch.state, "ended");
  deepEqual(other.events, [{ kind: "ended", why: "closed" }]);
  deepEqual(other.viewer.calls, ["play film 0.50"], "not started again");
});

Deno.test("RoomWatch leaves a picture that just runs again alone for a second, then corrects it", async () => {
  const { clock, viewer, watch, timeline } = setup(false);
  watch.update(timeline({ epoch: 1, position: 0 }));
  await settle();
  clock.advance(500);
  viewer.show(0.5);
  await run(clock, watch, 1_000);
  watch.update(timeline({ epoch: 2, position: 1.5, rate: 0 }));
  await settle();
  // The picture froze 0.5 s off the room's frame (ffplay does not seek while paused).
  viewer.show(2.0);
  viewer.pause();
  viewer.calls.length = 0;
  watch.update(timeline({ epoch: 3, position: 1.5, rate: 1 }));
  await settle();
  deepEqual(viewer.calls, ["resume"]);
  await run(clock, watch, 500);
  deepEqual(viewer.calls, ["resume"], "settling");
  await run(clock, watch, 500);
  deepEqual(viewer.calls, ["resume", "pause"], "then frozen for the 0.5 s it is ahead");
  await run(clock, watch, 500);
  deepEqual(viewer.calls, ["resume", "pause", "resume"], "and runs on the room's time");
});
