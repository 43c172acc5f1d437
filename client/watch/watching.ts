/**
 * The terminal's watching together (issue 21): the rooms' timelines as the server tells them, the
 * one room this client watches (a {@linkcode RoomWatch} over the terminal's viewer, checked twice
 * a second), and the commands: `WATCH #room [<title>]`, and while watching `PAUSE`, `RESUME` and
 * `SEEK` for the whole room, `STOP` for oneself, `ROOM STOP #room` for everyone. What others do is
 * said in the chat area (`notices.ts`).
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { Quality, RoomPlaybackMessage, WatchAction } from "../../protocol/messages.ts";
import type { SeekTarget } from "../commands.ts";
import type { PlaybackState } from "../playback.ts";
import { safe } from "../render.ts";
import { type SessionClock, SYSTEM_CLOCK } from "../session/clock.ts";
import type { RoomView } from "../session/room_book_types.ts";
import { ClockSampler } from "./clock_sampler.ts";
import { controlRefusal, playbackNotice } from "./notices.ts";
import { RoomWatch, WATCH_TICK_MS, type WatchEvent, type WatchViewer } from "./room_watch.ts";

/** What watching needs of a session (a `ClientSession` has it). */
export interface WatchingSession {
  /** The watch requests. */
  readonly watch: {
    time(): Promise<number>;
    control(
      room: string,
      action: WatchAction,
      options?: { title?: string; position?: number },
    ): Promise<RoomPlaybackMessage>;
  };
  /** The rooms as this client checked them. */
  readonly rooms: { list(): RoomView[]; find(name: string): RoomView };
}

/** What watching needs of the viewer (a `Viewer` has it). */
export interface WatchingViewer {
  /** Where playback stands. */
  readonly state: PlaybackState;
  /** What is on screen. */
  screen(): ReturnType<WatchViewer["screen"]>;
  /** Plays a title from a position. */
  play(title: string, quality: Quality, position?: number): Promise<void>;
  /** Jumps. */
  seek(target: SeekTarget): Promise<number>;
  /** Freezes the picture. */
  pause(): boolean;
  /** Continues. */
  resume(): boolean;
  /** Plays faster or slower (mpv). */
  setRate(rate: number): boolean;
  /** Stops. */
  stop(): Promise<void>;
}

/** Options for {@linkcode Watching}. */
export interface WatchingOptions {
  /** The session. */
  session: WatchingSession;
  /** The viewer. */
  viewer: WatchingViewer;
  /** Whether the player changes its rate and starts exactly where asked (mpv). */
  canRate: boolean;
  /** Prints a notice. */
  print(line: string): void;
  /** Prints an error. */
  error(line: string): void;
  /** Checks, before a title starts, that the player can run. */
  checkPlayer?: () => void;
  /** This end's clock and timers. @default {SYSTEM_CLOCK} */
  clock?: SessionClock;
}

/**
 * The most rooms whose timelines are kept: a client is in far fewer (a server's room limits), and
 * a hostile server must not make it hold an unbounded map.
 */
export const MAX_TIMELINES = 1_000;

/** The room watched now. */
interface Current {
  id: string;
  name: string;
  watch: RoomWatch;
  /** The server's clock is known: timelines are followed. */
  ready: boolean;
  stopTicks: () => void;
}

/** The terminal's watching together. */
export class Watching {
  readonly #options: WatchingOptions;
  readonly #clock: SessionClock;
  readonly #sampler: ClockSampler;
  readonly #timelines = new Map<string, RoomPlaybackMessage>();
  #current?: Current;
  /** The room this client is starting a title in: its own `play` is not news to it. */
  #joining?: string;
  #quality: Quality = "auto";
  /** The start-ups the last watch measured: the next one starts from them. */
  #startups?: RoomWatch["startup"];

  /** @param options The session, the viewer, the player's abilities and where to print. */
  constructor(options: WatchingOptions) {
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#sampler = new ClockSampler({
      ask: () => options.session.watch.time(),
      clock: this.#clock,
    });
  }

  /** The room watched now, by name; undefined when none is. */
  get room(): string | undefined {
    return this.#current?.name;
  }

  /**
   * A room's timeline from the server: kept (an older epoch is dropped), said in the chat area,
   * and followed when it is the watched room's.
   *
   * @param message The `room-playback`.
   */
  playback(message: RoomPlaybackMessage): void {
    const known = this.#timelines.get(message.room);
    if (known !== undefined && message.epoch < known.epoch) return;
    if (known === undefined && this.#timelines.size >= MAX_TIMELINES) return;
    this.#timelines.set(message.room, message);
    const current = this.#current?.id === message.room ? this.#current : undefined;
    const view = this.#options.session.rooms.list().find((r) => r.id === message.room);
    if (view !== undefined) {
      const watching = current !== undefined || this.#joining === message.room;
      const line = playbackNotice(message, { room: view.name, watching });
      if (line !== undefined) this.#options.print(line);
    }
    if (current === undefined || !current.ready) return;
    current.watch.update(message);
    // The title stopped for everyone: this client no longer watches the room.
    if (message.title === undefined && message.action === "stop") this.#drop(current);
  }

  /**
   * `WATCH #room <title>` starts the title for the whole room and watches it; `WATCH #room`
   * watches what the room plays, at its position.
   *
   * @param room The room's name.
   * @param options The title to start, the quality to watch in.
   * @throws {PeerstreamError} The refusal, in words with the remedy.
   */
  async watch(room: string, options: { title?: string; quality?: Quality } = {}): Promise<void> {
    const view = this.#options.session.rooms.find(room);
    this.#options.checkPlayer?.();
    if (options.quality !== undefined) this.#quality = options.quality;
    if (options.title !== undefined) {
      this.#joining = view.id;
      try {
        await this.#control("start", view, "play", { title: options.title });
      } finally {
        this.#joining = undefined;
      }
      // Watching the room already: the new timeline came to its watch.
      if (this.#current?.id === view.id) return;
    } else if (this.#current?.id === view.id) {
      this.#options.print(`Already watching #${safe(view.name)}; STOP to stop`);
      return;
    }
    const timeline = this.#timelines.get(view.id);
    if (timeline?.title === undefined) {
      const name = `#${safe(view.name)}`;
      this.#options.print(
        `Nothing plays in ${name} yet; you will watch what it plays (WATCH ${name} <title> starts one for everyone)`,
      );
    }
    await this.#follow(view);
  }

  /**
   * `PAUSE` or `RESUME` while watching: for the whole room.
   *
   * @param action Which.
   * @returns False when no room is watched (the command is the viewer's own).
   */
  async control(action: "pause" | "resume"): Promise<boolean> {
    const current = this.#current;
    if (current === undefined) return false;
    await this.#control(action, this.#view(current), action);
    return true;
  }

  /**
   * `SEEK` while watching: the whole room moves.
   *
   * @param target A time, or seconds from the room's position.
   * @returns False when no room is watched.
   */
  async seek(target: SeekTarget): Promise<boolean> {
    const current = this.#current;
    if (current === undefined) return false;
    const here = current.watch.roomPosition() ?? 0;
    const position = Math.max(0, "absolute" in target ? target.absolute : here + target.relative);
    await this.#control("seek", this.#view(current), "seek", { position });
    return true;
  }

  /**
   * `STOP` while watching: this client stops watching; the room plays on.
   *
   * @returns False when no room is watched.
   */
  async stopWatching(): Promise<boolean> {
    const current = this.#current;
    if (current === undefined) return false;
    this.#drop(current);
    if (this.#options.viewer.state !== "idle") await this.#options.viewer.stop();
    const name = `#${safe(current.name)}`;
    this.#options.print(`* you stopped watching ${name}; it plays on — WATCH ${name} to come back`);
    return true;
  }

  /**
   * `ROOM STOP #room`: the title stops for everyone.
   *
   * @param room The room's name.
   */
  async roomStop(room: string): Promise<void> {
    await this.#control("stop", this.#options.session.rooms.find(room), "stop");
  }

  /**
   * `QUALITY`: this client's own, kept for what it starts later in the room.
   *
   * @param quality The quality.
   */
  noteQuality(quality: Quality): void {
    this.#quality = quality;
  }

  /** Stops steering and sampling (on QUIT). */
  close(): void {
    if (this.#current !== undefined) this.#drop(this.#current);
    this.#sampler.stop();
  }

  async #follow(view: RoomView) {
    if (this.#current !== undefined) {
      // Another room's title is not this one's: it goes.
      this.#drop(this.#current);
      if (this.#options.viewer.state !== "idle") await this.#options.viewer.stop();
    }
    const watch = new RoomWatch({
      viewer: this.#viewerLink(),
      clock: this.#clock,
      serverNow: () => this.#sampler.serverNow(),
      ...(this.#startups === undefined ? {} : { startups: this.#startups }),
      onEvent: (event) => this.#watchEvent(current, event),
    });
    // Watched from now on (what the room does meanwhile is not news to join), steered once the
    // server's clock is known.
    const current: Current = {
      id: view.id,
      name: view.name,
      watch,
      ready: false,
      stopTicks: () => {},
    };
    this.#current = current;
    await this.#sampler.start();
    if (this.#current !== current) return;
    current.ready = true;
    current.stopTicks = this.#clock.every(WATCH_TICK_MS, () => watch.tick());
    // The newest timeline: one may have come while the clock was sampled.
    const timeline = this.#timelines.get(view.id);
    if (timeline?.title !== undefined) watch.update(timeline);
  }

  #drop(current: Current) {
    this.#startups = { ...current.watch.startup };
    current.stopTicks();
    current.watch.close();
    if (this.#current === current) this.#current = undefined;
  }

  #watchEvent(current: Current, event: WatchEvent) {
    if (this.#current !== current) return;
    this.#drop(current);
    const name = `#${safe(current.name)}`;
    if (event.kind === "failed") {
      this.#options.error(
        `Cannot watch ${name}: ${safe(event.message)}; WATCH ${name} to try again`,
      );
    } else if (event.why === "closed") {
      this.#options.print(
        `* you stopped watching ${name}; it plays on — WATCH ${name} to come back`,
      );
    } else this.#options.print(`* the title ended in ${name}`);
  }

  #view(current: Current): RoomView {
    return this.#options.session.rooms.find(current.name);
  }

  async #control(
    verb: string,
    view: RoomView,
    action: WatchAction,
    options: { title?: string; position?: number } = {},
  ) {
    try {
      await this.#options.session.watch.control(view.name, action, options);
    } catch (error) {
      if (!(error instanceof PeerstreamError)) throw error;
      throw new PeerstreamError(
        error.code,
        controlRefusal(verb, view.name, error.code, error.message, view.owner),
        { cause: error },
      );
    }
  }

  /** The terminal's viewer as a {@linkcode RoomWatch} steers it. */
  #viewerLink(): WatchViewer {
    const viewer = this.#options.viewer;
    const quietly = (step: () => unknown) => {
      try {
        step();
      } catch {
        // NOT_PLAYING: the stream is starting or just ended; the next check sees it.
      }
    };
    return {
      canRate: this.#options.canRate,
      screen: () => viewer.screen(),
      play: (title, position) => viewer.play(title, this.#quality, position),
      seek: async (position) => void await viewer.seek({ absolute: position }),
      pause: () => quietly(() => viewer.pause()),
      resume: () => quietly(() => viewer.resume()),
      setRate: (rate) => void viewer.setRate(rate),
      stop: () => viewer.stop().catch(() => {}),
    };
  }
}
