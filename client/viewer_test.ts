import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import type {
  Quality,
  SegmentMessage,
  StreamSeekMessage,
  StreamStartMessage,
} from "../protocol/messages.ts";
import type { Player, PlayerStart } from "./player.ts";
import type { MediaSink } from "./session.ts";
import { Viewer, type ViewerEvent, type ViewerSession } from "./viewer.ts";

const RENDITIONS = [
  { height: 240, width: 426, bitrate: 400_000 },
  { height: 720, width: 1280, bitrate: 2_000_000 },
];

function info(streamId: number, position = 0): StreamStartMessage {
  return {
    type: "stream-start",
    re: 1,
    streamId,
    title: "testcard",
    duration: 12,
    codec: "h264",
    container: "mpegts",
    fps: 25,
    hasAudio: true,
    renditions: RENDITIONS,
    quality: "auto",
    position,
    epoch: 0,
  };
}

/** A session that answers at once and records what it was asked. */
class FakeSession implements ViewerSession {
  calls: string[] = [];
  stream: StreamStartMessage | undefined;
  sink?: MediaSink;
  #nextStream = 1;
  epoch = 0;

  play(
    title: string,
    options: { quality: Quality; position?: number; sink: (info: StreamStartMessage) => MediaSink },
  ): Promise<StreamStartMessage> {
    this.calls.push(`play ${title} ${options.quality} ${options.position ?? 0}`);
    if (this.stream !== undefined) this.sink?.close("stopped");
    const started = info(this.#nextStream++, options.position ?? 0);
    this.epoch = 0;
    this.sink = options.sink(started);
    this.stream = started;
    return Promise.resolve(started);
  }
  stop(): Promise<void> {
    this.calls.push("stop");
    this.sink?.close("stopped");
    this.stream = undefined;
    return Promise.resolve();
  }
  pause(): Promise<void> {
    this.calls.push("pause");
    return Promise.resolve();
  }
  resume(): Promise<void> {
    this.calls.push("resume");
    return Promise.resolve();
  }
  seek(position: number): Promise<StreamSeekMessage> {
    this.calls.push(`seek ${position}`);
    return Promise.resolve(this.jump(position));
  }
  setQuality(quality: Quality, options: { position?: number } = {}) {
    this.calls.push(
      `quality ${quality}${options.position === undefined ? "" : ` ${options.position}`}`,
    );
    return Promise.resolve(options.position === undefined ? null : this.jump(options.position));
  }
  /** The server's stream-seek: segment boundaries every 2 s. */
  jump(position: number): StreamSeekMessage {
    const index = Math.min(5, Math.floor(position / 2));
    const seek: StreamSeekMessage = {
      type: "stream-seek",
      re: 9,
      streamId: this.stream!.streamId,
      epoch: ++this.epoch,
      position: index * 2,
      index,
      paused: false,
    };
    this.sink!.seek?.(seek);
    return seek;
  }
  /** Sends segment `index` (2 s, `bytes` bytes) at `height`. */
  segment(index: number, options: { height?: number; bytes?: number } = {}) {
    const bytes = options.bytes ?? 1000;
    const height = options.height ?? 240;
    const segment: SegmentMessage = {
      type: "segment",
      streamId: this.stream!.streamId,
      epoch: this.epoch,
      index,
      height,
      bitrate: RENDITIONS.find((r) => r.height === height)!.bitrate,
      start: index * 2,
      duration: 2,
      bytes,
    };
    this.sink!.segment?.(segment);
    this.sink!.write(new Uint8Array(bytes).fill(index));
  }
  finish() {
    const sink = this.sink!;
    this.stream = undefined;
    sink.close("finished");
  }
}

/** A player that takes bytes only when told to, and exits when killed or at end of input. */
class FakePlayer implements Player {
  static running = 0;
  static mostAtOnce = 0;
  taken: number[] = [];
  paused = false;
  killed = false;
  ended = false;
  taking = true;
  #waiting: (() => void)[] = [];
  #exit!: (code: number) => void;
  readonly exited: Promise<number>;

  constructor() {
    FakePlayer.running++;
    FakePlayer.mostAtOnce = Math.max(FakePlayer.mostAtOnce, FakePlayer.running);
    this.exited = new Promise((resolve) => this.#exit = resolve);
    this.exited.then(() => FakePlayer.running--);
  }
  async write(data: Uint8Array): Promise<boolean> {
    while (!this.taking && !this.killed) await new Promise<void>((r) => this.#waiting.push(r));
    if (this.killed) return false;
    this.taken.push(data.length);
    return true;
  }
  take() {
    this.taking = true;
    for (const r of this.#waiting.splice(0)) r();
  }
  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
  /** The player shows the last frame and exits (after end()). */
  exit(code = 0) {
    this.#exit(code);
  }
  kill(): Promise<void> {
    this.killed = true;
    for (const r of this.#waiting.splice(0)) r();
    this.#exit(143);
    return this.exited.then(() => {});
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  get bytes(): number {
    return this.taken.reduce((a, b) => a + b, 0);
  }
}

/** Lets queued promise callbacks run. */
async function settle() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

function setup(options: { taking?: boolean } = {}) {
  FakePlayer.running = 0;
  FakePlayer.mostAtOnce = 0;
  const session = new FakeSession();
  const players: FakePlayer[] = [];
  const events: ViewerEvent[] = [];
  const clock = { now: 0 };
  const viewer = new Viewer({
    session,
    openPlayer: () => {
      const player = new FakePlayer();
      player.taking = options.taking ?? true;
      players.push(player);
      return player;
    },
    onEvent: (e) => events.push(e),
    now: () => clock.now,
  });
  const kinds = () => events.map((e) => e.kind);
  return { session, players, events, clock, viewer, kinds };
}

Deno.test("Viewer queues media as it arrives and drains it into the player in order", async () => {
  const { session, players, viewer } = setup({ taking: false });
  await viewer.play("testcard", "auto");
  equal(viewer.state, "playing");
  // The player takes nothing: the session's calls still return at once.
  for (let i = 0; i < 3; i++) session.segment(i);
  equal(viewer.queuedSeconds, 6);
  players[0].take();
  await settle();
  equal(players[0].bytes, 3000);
  equal(viewer.queuedSeconds, 0);
});

Deno.test("Viewer holds the stream when the queue reaches 10 s and resumes under 4 s", async () => {
  const { session, players, viewer, kinds } = setup({ taking: false });
  await viewer.play("testcard", "auto");
  for (let i = 0; i < 4; i++) session.segment(i);
  deepEqual(session.calls, ["play testcard auto 0"]);
  session.segment(4); // 10 s queued
  deepEqual(session.calls.slice(1), ["pause"]);
  equal(viewer.held, true);
  session.segment(5); // in flight: still queued, never dropped
  equal(viewer.queuedSeconds, 12);
  players[0].take();
  await settle();
  deepEqual(session.calls.slice(1), ["pause", "resume"]);
  equal(viewer.held, false);
  deepEqual(kinds(), ["playing", "held", "released"]);
});

Deno.test("Viewer PAUSE freezes the player and holds the stream; RESUME undoes both", async () => {
  const { session, players, viewer, clock, events } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  clock.now = 1000;
  equal(viewer.pause(), true);
  equal(viewer.pause(), false);
  equal(players[0].paused, true);
  deepEqual(session.calls.slice(1), ["pause"]);
  clock.now = 60_000;
  const status = viewer.tick()!;
  equal(status.position, 1);
  equal(status.paused, true);
  equal(viewer.resume(), true);
  equal(players[0].paused, false);
  deepEqual(session.calls.slice(1), ["pause", "resume"]);
  equal(events.filter((e) => e.kind === "held").length, 0, "PAUSE says so itself");
  clock.now = 60_500;
  equal(viewer.tick()!.position, 1.5);
});

Deno.test("Viewer shows the on-screen position and announces a rendition when it reaches the screen", async () => {
  const { session, viewer, clock, events } = setup();
  await viewer.play("testcard", "auto");
  equal(viewer.tick()!.height, 0); // nothing taken yet
  session.segment(0, { height: 240 });
  session.segment(1, { height: 720 });
  session.segment(2, { height: 720 });
  await settle();
  clock.now = 500;
  const first = viewer.tick()!;
  deepEqual([first.position, first.height, first.bitrate], [0.5, 240, 400_000]);
  deepEqual(
    events.filter((e) => e.kind === "rendition").map((e) => e.kind === "rendition" && e.height),
    [240],
  );
  clock.now = 1990;
  viewer.tick();
  equal(events.filter((e) => e.kind === "rendition").length, 1, "720p is not on screen yet");
  clock.now = 2010;
  equal(viewer.tick()!.height, 720);
  deepEqual(
    events.filter((e) => e.kind === "rendition").map((e) => e.kind === "rendition" && e.height),
    [240, 720],
  );
  // The clock never passes what the player took (6 s).
  clock.now = 20_000;
  equal(viewer.tick()!.position, 6);
});

Deno.test("Viewer keeps playing after the last byte: STOP then still kills the player", async () => {
  const { session, players, viewer, kinds } = setup({ taking: false });
  await viewer.play("testcard", 240);
  session.segment(0);
  session.finish();
  equal(viewer.state, "ending");
  await viewer.stop();
  equal(players[0].killed, true);
  equal(viewer.state, "idle");
  deepEqual(session.calls, ["play testcard 240 0"], "no STOP to the server: its stream ended");
  deepEqual(kinds(), ["playing", "stopped"]);
  await rejects(
    viewer.stop(),
    (e: unknown) => e instanceof PeerstreamError && e.code === "NOT_PLAYING",
  );
});

Deno.test("Viewer finishes when the player exits after playing out everything", async () => {
  const { session, players, viewer, kinds } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  session.finish();
  await settle();
  equal(players[0].ended, true);
  equal(viewer.state, "ending");
  players[0].exit(0);
  await settle();
  equal(viewer.state, "idle");
  deepEqual(kinds(), ["playing", "finished"]);
});

Deno.test("Viewer PLAY while playing ends the old player before the new one starts", async () => {
  const { session, players, viewer } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await viewer.play("testcard", 720);
  equal(players.length, 2);
  equal(players[0].killed, true);
  equal(FakePlayer.mostAtOnce, 1);
  // Late bytes of the old stream never reach the new player.
  await settle();
  equal(players[1].bytes, 0);
});

Deno.test("Viewer SEEK restarts the player at the new epoch, after the old one is gone", async () => {
  const { session, players, viewer, clock, events } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  session.segment(1);
  await settle();
  clock.now = 1500;
  equal(await viewer.seek({ relative: 5 }), 6.5);
  deepEqual(session.calls.slice(1), ["seek 6.5"]);
  await settle();
  equal(players.length, 2);
  equal(players[0].killed, true);
  equal(FakePlayer.mostAtOnce, 1);
  ok(events.some((e) => e.kind === "moved" && e.position === 6));
  session.segment(3);
  await settle();
  equal(players[1].bytes, 1000);
  clock.now = 2000;
  equal(viewer.tick()!.position, 6.5);
  // Past the end is clamped; before the start too.
  equal(await viewer.seek({ absolute: 99 }), 12);
  equal(await viewer.seek({ relative: -99 }), 0);
});

Deno.test("Viewer QUALITY with a height jumps at the on-screen position; auto does not restart", async () => {
  const { session, players, viewer, clock } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  clock.now = 1200;
  equal(await viewer.setQuality("auto"), "next");
  equal(players.length, 1);
  equal(await viewer.setQuality(720), "now");
  deepEqual(session.calls.slice(1), ["quality auto", "quality 720 1.2"]);
  await settle();
  equal(players.length, 2);
  await rejects(
    viewer.setQuality(1080),
    (e: unknown) =>
      e instanceof PeerstreamError && e.code === "RENDITION_NOT_FOUND" &&
      /240p, 720p/.test(e.message),
  );
});

Deno.test("Viewer SEEK after everything arrived plays again from there, paused if it was", async () => {
  const { session, players, viewer, clock, kinds } = setup();
  await viewer.play("testcard", 720);
  session.segment(0);
  session.finish();
  await settle();
  clock.now = 1000;
  viewer.pause();
  await viewer.seek({ absolute: 4 });
  deepEqual(session.calls, ["play testcard 720 0", "play testcard 720 4", "pause"]);
  equal(players.length, 2);
  equal(players[0].killed, true);
  await settle();
  equal(players[1].paused, true);
  equal(viewer.state, "playing");
  deepEqual(kinds(), ["playing", "moved"], "to the person it is the same stream");
});

Deno.test("Viewer SEEK or QUALITY that crosses the stream's end plays again from there", async () => {
  const { session, players, viewer, clock } = setup();
  await viewer.play("testcard", 720);
  session.segment(0);
  await settle();
  clock.now = 1000;
  // The server sends its last segment and stream-end while the SEEK is on its way: it answers
  // NOT_PLAYING after stream-end.
  session.seek = (position: number) => {
    session.calls.push(`seek ${position}`);
    session.finish();
    return Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot seek: nothing is playing"));
  };
  equal(await viewer.seek({ absolute: 4 }), 4);
  deepEqual(session.calls, ["play testcard 720 0", "seek 4", "play testcard 720 4"]);
  await settle();
  equal(players.length, 2);
  equal(players[0].killed, true);
  equal(viewer.state, "playing");
  // The same for a QUALITY with a height.
  session.setQuality = (quality: Quality) => {
    session.calls.push(`quality ${quality}`);
    session.finish();
    return Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot change quality"));
  };
  equal(await viewer.setQuality(240), "now");
  deepEqual(session.calls.slice(3), ["quality 240", "play testcard 240 4"]);
  // While the stream runs, NOT_PLAYING is the server's answer and reaches the caller.
  session.seek = () => Promise.reject(new PeerstreamError("NOT_PLAYING", "Cannot seek"));
  await rejects(viewer.seek({ absolute: 2 }), /Cannot seek/);
});

Deno.test("Viewer RESUME while the queue is still full says nothing of the player", async () => {
  const { session, players, viewer, kinds, clock } = setup({ taking: false });
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  viewer.pause();
  for (let i = 1; i < 6; i++) session.segment(i);
  clock.now = 1000;
  viewer.resume();
  equal(viewer.tick()!.waiting, false);
  players[0].take();
  await settle();
  deepEqual(kinds(), ["playing"]);
  deepEqual(session.calls.slice(1), ["pause", "resume"]);
});

Deno.test("Viewer stops the stream when the player is closed early", async () => {
  const { session, players, viewer, kinds } = setup();
  await viewer.play("testcard", 240);
  session.segment(0);
  await settle();
  players[0].exit(0);
  await settle();
  deepEqual(kinds(), ["playing", "player-closed", "stopped"]);
  deepEqual(session.calls.slice(1), ["stop"]);
  equal(viewer.state, "idle");
});

Deno.test("Viewer's clock waits at what a player that stopped reading has taken", async () => {
  const { session, players, viewer, clock } = setup();
  await viewer.play("testcard", 720);
  session.segment(0, { height: 720 });
  await settle();
  players[0].taking = false;
  clock.now = 1000;
  session.segment(1, { height: 720 });
  await settle();
  equal(viewer.tick()!.position, 1);
  // Paused in its own window: it took segment 0 only, so the clock stops at 2 s ...
  clock.now = 9000;
  equal(viewer.tick()!.position, 2);
  // ... and runs on from there once it reads again.
  players[0].take();
  await settle();
  clock.now = 9500;
  equal(viewer.tick()!.position, 2.5);
});

Deno.test("Viewer stops a stream whose server ignores the hold, instead of growing the queue", async () => {
  const { session, viewer, kinds, events } = setup({ taking: false });
  await viewer.play("testcard", 240);
  for (let i = 0; i < 9; i++) session.segment(i);
  await settle();
  deepEqual(kinds(), ["playing", "held", "failed"]);
  ok(events.some((e) => e.kind === "failed" && /more than the player can queue/.test(e.message)));
  deepEqual(session.calls.slice(1), ["pause", "stop"]);
});

Deno.test("Viewer STOP while PLAY waits stops the stream once it starts", async () => {
  const { session, players, viewer } = setup();
  const play = viewer.play("testcard", 240);
  await viewer.stop();
  await play;
  equal(players[0].killed, true);
  deepEqual(session.calls, ["play testcard 240 0", "stop"]);
  equal(viewer.state, "idle");
});

/** A player that tells its frame (as mpv does): its position and a hold that freezes it. */
class ExactPlayer extends FakePlayer {
  shown: number | undefined = undefined;
  held = false;
  position(): number | undefined {
    return this.shown;
  }
  hold(): Promise<number | undefined> {
    this.held = true;
    this.paused = true;
    return Promise.resolve(this.shown);
  }
}

function setupExact() {
  const session = new FakeSession();
  const players: ExactPlayer[] = [];
  const starts: PlayerStart[] = [];
  const viewer = new Viewer({
    session,
    openPlayer: (_info, start) => {
      starts.push(start);
      const player = new ExactPlayer();
      players.push(player);
      return player;
    },
    onEvent: () => {},
    now: () => 0,
  });
  return { session, players, starts, viewer };
}

Deno.test("Viewer QUALITY with a player that tells its frame holds it and starts at the next frame", async () => {
  const { session, players, starts, viewer } = setupExact();
  await viewer.play("testcard", "auto");
  session.segment(0);
  session.segment(1);
  await settle();
  // Frame 89 of 25 fps is on screen: 3.56 s into the input.
  players[0].shown = 3.56;
  equal(viewer.tick()?.position, 3.56);
  equal(await viewer.setQuality(720), "now");
  ok(players[0].held, "the frame on screen was frozen first");
  // The jump asks for the position half a frame after it, and the new epoch starts there.
  equal(session.calls[1], "quality 720 3.58");
  await settle();
  deepEqual(starts[1], { origin: 2, at: 3.58, paused: false });
  ok(players[0].killed);
  // Paused, the same frame again, in the new rendition.
  viewer.pause();
  players[1].shown = 1.56;
  session.segment(1);
  await viewer.setQuality(240);
  const [, at] = /^quality 240 ([\d.]+)$/.exec(session.calls.at(-2) ?? "") ?? [];
  ok(Math.abs(Number(at) - 3.55) < 1e-9, `${session.calls.at(-2)}`);
});

Deno.test("Viewer SEEK asks a player to start at the target inside the segment", async () => {
  const { session, starts, viewer } = setupExact();
  await viewer.play("testcard", "auto");
  session.segment(0);
  await settle();
  equal(await viewer.seek({ absolute: 7.3 }), 7.3);
  await settle();
  deepEqual(starts[1], { origin: 6, at: 7.3, paused: false });
});

Deno.test("Viewer SEEK while paused with a player that tells its frame fetches the first segment, then holds again", async () => {
  const { session, players, starts, viewer } = setupExact();
  await viewer.play("testcard", "auto");
  session.segment(0);
  await settle();
  viewer.pause();
  deepEqual(session.calls.slice(1), ["pause"]);
  await viewer.seek({ absolute: 5 });
  await settle();
  // The stream runs again until the target's segment is in, so the target's frame can show.
  deepEqual(session.calls.slice(1), ["pause", "seek 5", "resume"]);
  deepEqual(starts[1], { origin: 4, at: 5, paused: true });
  session.segment(2);
  deepEqual(session.calls.slice(4), []);
  session.segment(3);
  deepEqual(session.calls.slice(4), ["pause"], "held again once the first segment is in");
  await settle();
  ok(players[1].paused, "the new epoch's player stays paused");
});
