/**
 * Fakes that drive the viewer in unit tests (`viewer_test.ts`, `viewer_screen_test.ts`): a session
 * that answers at once and plays the server's stream, players that take bytes only when told, and
 * setups that wire them to a `Viewer`. Test support only: product code does not import it.
 * @module
 */

import type {
  Quality,
  SegmentMessage,
  StreamSeekMessage,
  StreamStartMessage,
} from "../protocol/messages.ts";
import type { Player, PlayerStart } from "./player.ts";
import type { MediaSink } from "./session.ts";
import { Viewer, type ViewerEvent, type ViewerSession } from "./viewer.ts";

/** The test title's renditions: 240p and 720p. */
export const RENDITIONS = [
  { height: 240, width: 426, bitrate: 400_000 },
  { height: 720, width: 1280, bitrate: 2_000_000 },
];

/** The `stream-start` of stream `streamId` of the 12 s test title, starting at `position`. */
export function info(streamId: number, position = 0): StreamStartMessage {
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
export class FakeSession implements ViewerSession {
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
  setQuality(
    quality: Quality,
    options: { position?: number } = {},
  ): Promise<StreamSeekMessage | null> {
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
  segment(index: number, options: { height?: number; bytes?: number } = {}): void {
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
  finish(): void {
    const sink = this.sink!;
    this.stream = undefined;
    sink.close("finished");
  }
}

/** A player that takes bytes only when told to, and exits when killed or at end of input. */
export class FakePlayer implements Player {
  static running = 0;
  static mostAtOnce = 0;
  taken: number[] = [];
  paused = false;
  killed = false;
  ended = false;
  taking = true;
  /** What {@linkcode FakePlayer.failure} says once it exited. */
  failed?: string;
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
  take(): void {
    this.taking = true;
    for (const r of this.#waiting.splice(0)) r();
  }
  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
  failure(): string | undefined {
    return this.failed;
  }
  /** The player shows the last frame and exits (after end()). */
  exit(code = 0): void {
    this.#exit(code);
  }
  kill(): Promise<void> {
    this.killed = true;
    for (const r of this.#waiting.splice(0)) r();
    this.#exit(143);
    return this.exited.then(() => {});
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  get bytes(): number {
    return this.taken.reduce((a, b) => a + b, 0);
  }
}

/** What {@linkcode setup} wires. */
export interface ViewerRig {
  session: FakeSession;
  /** Every player opened, in order. */
  players: FakePlayer[];
  events: ViewerEvent[];
  /** The viewer's clock, ms: set `now`. */
  clock: { now: number };
  viewer: Viewer;
  /** The kinds of the events so far. */
  kinds: () => ViewerEvent["kind"][];
}

/** Lets queued promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

/**
 * A viewer on a {@linkcode FakeSession} with {@linkcode FakePlayer}s and a clock the test sets.
 *
 * @param options Whether players take bytes from the start. @default {taking: true}
 * @returns The viewer and its fakes, the events it told, and their kinds.
 */
export function setup(options: { taking?: boolean } = {}): ViewerRig {
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

/** What {@linkcode setupExact} wires. */
export interface ExactRig {
  session: FakeSession;
  /** Every player opened, in order. */
  players: ExactPlayer[];
  /** Where each player was asked to start. */
  starts: PlayerStart[];
  viewer: Viewer;
}

/** A player that tells its frame (as mpv does): its position and a hold that freezes it. */
export class ExactPlayer extends FakePlayer {
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

/**
 * A viewer on a {@linkcode FakeSession} with {@linkcode ExactPlayer}s, noting where each starts.
 *
 * @returns The viewer, its fakes and the players' starts.
 */
export function setupExact(): ExactRig {
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
