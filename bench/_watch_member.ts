/**
 * One load member of the watch scenario: a registered {@linkcode LoadClient} that follows a room's
 * timeline the way the real clients do (docs/watch-together.md, protocol/watch_sync.ts): it
 * measures its clock offset with `time`, and on each `room-playback` of its room uses the ordinary
 * `play` (at `timelinePosition(serverNow + startup)`), `seek`, `pause`, `resume` and `stop` for its
 * own stream; twice a second it compares its picture with the room and applies `driftAction`. Its
 * player is a model ({@linkcode SimPlayer}). It can also watch alone (plain `play`, no room).
 * @module
 */

import type {
  Quality,
  RoomPlaybackMessage,
  SegmentMessage,
  ServerMessage,
} from "../protocol/messages.ts";
import {
  ClockOffset,
  driftAction,
  landingAction,
  timelinePosition,
} from "../protocol/watch_sync.ts";
import type { LoadClient } from "./_client.ts";
import { SimPlayer } from "./_sim_player.ts";

/** The start-up assumed before this member has measured one, seconds (docs/watch-together.md). */
export const FIRST_STARTUP_SECONDS = 0.5;
/** How often the picture is compared with the room, ms ("twice a second"). */
export const CORRECT_EVERY_MS = 500;
/** How often the clock offset is measured again, ms. */
export const TIME_EVERY_MS = 30_000;
/** The longest wait for the answer to a request (`time`, `room-control`), ms. */
export const ANSWER_MS = 15_000;

/** Something the member's picture did, for the scenario's figures. */
export interface PictureEvent {
  /** `paused`: held on a room pause; `landed`: a play or seek shows its first picture. */
  kind: "paused" | "landed";
  /** The room epoch that caused it (the timeline in force when the request left). */
  epoch: number;
  /** When, `performance.now()` ms. */
  at: number;
  /** Whether a drift correction (not a member's control) made it. */
  correction: boolean;
}

/** Options for {@linkcode WatchMember}. */
export interface WatchMemberOptions {
  /** The room it follows; none: it only watches alone. */
  room?: string;
  /** Its quality. @default {480} */
  quality?: Quality;
  /** Whether its player changes its rate (mpv, the page) or only seeks (ffplay). @default {true} */
  canRate?: boolean;
}

/** A request whose first picture is awaited. */
interface Pending {
  /** The position asked. */
  position: number;
  /** When it left, ms. */
  sentAt: number;
  /** The stream epoch whose first segment lands it, once known. */
  streamEpoch?: number;
  /** The room epoch it serves. */
  roomEpoch: number;
  correction: boolean;
}

/** A load member following one room's timeline with a modelled player. */
export class WatchMember {
  readonly client: LoadClient;
  readonly clock = new ClockOffset();
  readonly player = new SimPlayer();
  /** What its picture did. */
  readonly events: PictureEvent[] = [];
  /** The room's timeline as last heard (the newest epoch). */
  timeline: RoomPlaybackMessage | undefined;
  /** Requests refused by the server (`code: message`), for the scenario's notes. */
  readonly refusals: string[] = [];
  readonly #room: string | undefined;
  readonly #quality: Quality;
  readonly #canRate: boolean;
  #hold: ReturnType<typeof setTimeout> | undefined;
  #startup = FIRST_STARTUP_SECONDS;
  #streamId = -1;
  #playId = -1;
  #pending: Pending | undefined;
  #segment: SegmentMessage | undefined;
  #segmentBytes = 0;
  #timeSent = new Map<number, number>();
  #answers = new Map<number, (message: ServerMessage) => void>();
  #listeners = new Set<() => void>();
  #timers: ReturnType<typeof setInterval>[] = [];
  /** A timeline heard before the first clock sample: acted on once the clock is known. */
  #beforeClock: RoomPlaybackMessage | undefined;

  /**
   * @param client A connected client (registered or not: it takes over `onMessage`, so that a
   *   `room-playback` right after `welcome` is heard).
   * @param options The room, quality and player kind.
   */
  constructor(client: LoadClient, options: WatchMemberOptions = {}) {
    this.client = client;
    this.#room = options.room;
    this.#quality = options.quality ?? 480;
    this.#canRate = options.canRate ?? true;
    client.onMessage = (message, now) => this.#handle(message, now);
  }

  /** The start-up it measured on its last play or seek, seconds. */
  get startup(): number {
    return this.#startup;
  }

  /**
   * Starts following: measures the clock (three exchanges, then one every 30 s) and corrects its
   * picture twice a second.
   */
  async start(): Promise<void> {
    for (let i = 0; i < 3; i++) await this.askTime();
    this.#timers.push(
      // A late answer is one sample fewer: the offset in use stays.
      setInterval(() => this.askTime().catch(() => {}), TIME_EVERY_MS),
      setInterval(() => this.#correct(performance.now()), CORRECT_EVERY_MS),
    );
  }

  /** Stops its timers and closes its connection. */
  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    clearTimeout(this.#hold);
    this.client.close();
  }

  /**
   * One `time` exchange into the clock offset.
   *
   * @returns When the answer is in.
   */
  async askTime(): Promise<void> {
    const id = this.client.nextId++;
    this.#timeSent.set(id, performance.timeOrigin + performance.now());
    await this.#ask(id, { type: "time", id });
  }

  /**
   * The room's position at a moment, by this member's clock offset.
   *
   * @param now `performance.now()` ms.
   * @returns Seconds, or NaN without a timeline.
   */
  roomPosition(now: number): number {
    if (this.timeline?.title === undefined) return NaN;
    return timelinePosition(this.timeline, this.clock.serverTime(performance.timeOrigin + now));
  }

  /**
   * Sends a `room-control` and resolves with its answer.
   *
   * @param action What to do.
   * @param fields The title (`play`) or position (`seek`).
   * @returns The answer: the new timeline, or an error.
   */
  control(
    action: "play" | "pause" | "resume" | "seek" | "stop",
    fields: { title?: string; position?: number } = {},
  ): Promise<ServerMessage> {
    const id = this.client.nextId++;
    return this.#ask(id, { type: "room-control", id, room: this.#room ?? "", action, ...fields });
  }

  /**
   * Plays a title alone (no room), as a person watching by themselves.
   *
   * @param title The title.
   */
  playAlone(title: string): void {
    this.#play(title, 0, performance.now(), -1, false);
  }

  /**
   * Resolves once a test passes on its events (checked now and after each new one), or after a
   * deadline with false.
   *
   * @param test The test.
   * @param ms The deadline.
   * @returns Whether it passed.
   */
  until(test: () => boolean, ms: number): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!test()) return;
        finish(true);
      };
      const finish = (passed: boolean) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(passed);
      };
      const timer = setTimeout(() => finish(false), ms);
      this.#listeners.add(check);
    });
  }

  /** Sends a request; its answer, or a rejection after {@linkcode ANSWER_MS} without one. */
  #ask(id: number, message: Parameters<LoadClient["send"]>[0]): Promise<ServerMessage> {
    const answer = new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#answers.delete(id);
        reject(
          new Error(
            `Cannot hear the answer to "${message.type}": none within ${ANSWER_MS} ms; see the server log`,
          ),
        );
      }, ANSWER_MS);
      this.#answers.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    this.client.send(message);
    return answer;
  }

  #event(event: PictureEvent): void {
    this.events.push(event);
    for (const listener of [...this.#listeners]) listener();
  }

  #handle(message: ServerMessage, now: number): void {
    if ("re" in message && typeof message.re === "number") this.#answered(message, now);
    switch (message.type) {
      case "room-playback":
        return this.#onTimeline(message, now);
      case "stream-start":
        if (message.re !== this.#playId) return;
        this.#streamId = message.streamId;
        if (this.#pending !== undefined) this.#pending.streamEpoch = message.epoch;
        return;
      case "stream-seek":
        if (message.streamId !== this.#streamId || this.#pending === undefined) return;
        this.#pending.streamEpoch = message.epoch;
        return;
      case "segment":
        if (message.streamId !== this.#streamId) return;
        this.#segment = message;
        this.#segmentBytes = 0;
        return;
      case "media":
        if (message.streamId === this.#streamId) this.#media(message.data.length, now);
        return;
      case "stream-end":
        if (message.streamId === this.#streamId) this.#streamId = -1;
        return;
    }
  }

  #answered(message: ServerMessage & { re?: number }, now: number): void {
    const id = message.re!;
    const sent = this.#timeSent.get(id);
    if (message.type === "time-is" && sent !== undefined) {
      this.#timeSent.delete(id);
      this.clock.add(sent, message.server, performance.timeOrigin + now);
      const waiting = this.#beforeClock;
      this.#beforeClock = undefined;
      if (waiting !== undefined) this.#follow(waiting, now);
    }
    if (message.type === "error" && message.code !== "NOT_PLAYING") {
      this.refusals.push(`${message.code}: ${message.message}`);
    }
    const answer = this.#answers.get(id);
    this.#answers.delete(id);
    answer?.(message);
  }

  #media(bytes: number, now: number): void {
    const segment = this.#segment;
    if (segment === undefined) return;
    this.#segmentBytes += bytes;
    if (this.#segmentBytes < segment.bytes) return;
    // The server paces on these acks, as for any viewer.
    this.client.send({
      type: "seg-ack",
      streamId: segment.streamId,
      epoch: segment.epoch,
      index: segment.index,
    });
    this.#segment = undefined;
    const end = segment.start + segment.duration;
    const pending = this.#pending;
    if (pending?.streamEpoch !== undefined && segment.epoch >= pending.streamEpoch) {
      this.#pending = undefined;
      this.#startup = (now - pending.sentAt) / 1000;
      this.player.received(now, end, pending.position);
      this.#land(now);
      this.#event({
        kind: "landed",
        epoch: pending.roomEpoch,
        at: now,
        correction: pending.correction,
      });
      return;
    }
    this.player.received(now, end);
  }

  /** A timeline of its room: the newest epoch wins; its stream follows as the real client's. */
  #onTimeline(message: RoomPlaybackMessage, now: number): void {
    if (message.room !== this.#room) return;
    if (this.timeline !== undefined && message.epoch <= this.timeline.epoch) return;
    this.timeline = message;
    // Where the room is needs the server's clock: a member who just joined asks it first.
    if (this.clock.offset === undefined) this.#beforeClock = message;
    else this.#follow(message, now);
  }

  /** Its stream and player follow a new timeline. */
  #follow(message: RoomPlaybackMessage, now: number): void {
    if (message.title === undefined || message.action === "stop") {
      if (this.#streamId >= 0) this.client.send({ type: "stop", id: this.client.nextId++ });
      this.#pending = undefined;
      this.player.reset();
      return;
    }
    const streaming = this.#streamId >= 0 || this.#pending !== undefined;
    if (message.action === "pause") {
      this.player.pause(now);
      this.#event({ kind: "paused", epoch: message.epoch, at: now, correction: false });
      this.client.send({ type: "pause", id: this.client.nextId++ });
      return;
    }
    if (message.action === "resume") {
      clearTimeout(this.#hold);
      this.#hold = undefined;
      this.player.resume(now);
      this.client.send({ type: "resume", id: this.client.nextId++ });
      return;
    }
    // play, seek, or the state of a room joined late: play or seek to where the room will be
    // when the first frame is expected.
    if (message.action === "state" && streaming) return;
    const position = this.#target(now);
    if (message.action === "seek" && streaming) {
      this.#seek(position, now, message.epoch, false);
    } else {
      this.#play(message.title, position, now, message.epoch, message.rate === 0);
    }
  }

  /** The room's position when a picture asked now is expected: now + the measured start-up. */
  #target(now: number): number {
    return this.roomPosition(now + this.#startup * 1000);
  }

  #play(title: string, position: number, now: number, roomEpoch: number, paused: boolean): void {
    this.player.reset();
    this.#playId = this.client.nextId++;
    this.#pending = { position, sentAt: now, roomEpoch, correction: false };
    this.client.send({ type: "play", id: this.#playId, title, quality: this.#quality, position });
    if (paused) {
      this.player.pause(now);
      this.client.send({ type: "pause", id: this.client.nextId++ });
    }
  }

  #seek(position: number, now: number, roomEpoch: number, correction: boolean): void {
    this.#pending = { position, sentAt: now, roomEpoch, correction };
    this.client.send({ type: "seek", id: this.client.nextId++, position });
  }

  /**
   * Where a start or a jump landed, by the landing rule of protocol/watch_sync.ts (as the real
   * clients land): ahead, the first picture held until the room is there; far behind, a jump
   * again with the start-up now measured.
   */
  #land(now: number): void {
    const timeline = this.timeline;
    if (timeline?.rate !== 1) return;
    const room = this.roomPosition(now);
    const action = landingAction(this.player.position(now) - room, room, this.#startup);
    if (action.kind === "seek") this.#seek(action.position, now, timeline.epoch, true);
    if (action.kind !== "hold") return;
    this.player.pause(now);
    clearTimeout(this.#hold);
    this.#hold = setTimeout(() => {
      this.#hold = undefined;
      // A room paused meanwhile keeps the picture held; its resume lets it go.
      if (this.timeline?.rate === 1) this.player.resume(performance.now());
    }, action.seconds * 1000);
  }

  /** Twice a second: the drift between its picture and the room, and what `driftAction` says. */
  #correct(now: number): void {
    const timeline = this.timeline;
    if (timeline?.title === undefined || timeline.rate !== 1) return;
    if (!this.player.started || this.player.paused || this.#pending !== undefined) return;
    if (this.#hold !== undefined) return;
    const room = this.roomPosition(now);
    const drift = this.player.position(now) - room;
    const action = driftAction(drift, room, this.player.rate, {
      canRate: this.#canRate,
      startup: this.#startup,
    });
    if (action.kind === "rate") this.player.setRate(now, action.rate);
    if (action.kind === "seek") {
      this.player.setRate(now, 1);
      this.#seek(action.position, now, timeline.epoch, true);
    }
  }
}
