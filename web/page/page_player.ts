/**
 * The page's player controls: play a title at auto or a chosen quality, pause, seek and stop;
 * what the section shows of it (the quality choices, the line that says which rendition is on
 * screen at what bit rate) is written by `player_screen.ts`. Pause and seek are asked of the
 * server (protocol 2 holds the stream there); a server that does not support them yet gets the
 * same effect from what the page has buffered.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type {
  Quality,
  StreamEndMessage,
  StreamEndReason,
  StreamStartMessage,
  VideoSummary,
} from "../../protocol/messages.ts";
import { byId, clock } from "./dom.ts";
import { MsePlayer, videoSupport } from "./player.ts";
import { PlayerControls } from "./controls.ts";
import { PlayerScreen } from "./player_screen.ts";
import type { RoomHooks } from "./room_watch.ts";
import type { ClientSession, MediaSink } from "../../client/session.ts";
import type { LastPlaying } from "./last_session.ts";
import { consoleDetail, failureWords, reasonWords } from "./words.ts";

/** Options for {@linkcode PagePlayer}. */
export interface PagePlayerOptions {
  /** The server's codec. */
  codec: string;
  /** Shows a notice. */
  notice: (text: string, kind?: "info" | "warn") => void;
  /** Told what plays and where, as it plays; undefined once stopped or finished (not on a loss). */
  onPlaying?: (playing: LastPlaying | undefined) => void;
}

/** The player section of the page. */
export class PagePlayer {
  #session: ClientSession;
  readonly #options: PagePlayerOptions;
  readonly #video = byId("video", HTMLVideoElement);
  readonly #mse: MsePlayer;
  readonly #controls: PlayerControls;
  readonly #screen: PlayerScreen;
  /** The title on screen, from its start until it ended on screen or was stopped. */
  #stream?: StreamStartMessage;
  /** Whether the server still sends it (until `stream-end`). */
  #streaming = false;
  #quality: Quality = "auto";
  #paused = false;
  /** A quality change at the playhead is in flight: its jump switches, it does not seek. */
  #switching = false;
  /** The second a resumed title goes to once it starts. */
  #resumeAt?: number;
  /** The room followed, while watching together. */
  #room?: RoomHooks;

  /** A control's action failed: the detail to the console, the words to a notice. */
  readonly #failed = (error: unknown): void => {
    console.warn(consoleDetail(error));
    this.#options.notice(failureWords("The player failed", error), "warn");
  };

  /**
   * @param session The joined session.
   * @param options The server's codec and notices.
   */
  constructor(session: ClientSession, options: PagePlayerOptions) {
    this.#session = session;
    this.#options = options;
    this.#mse = new MsePlayer(this.#video);
    this.#mse.onError = (message) => {
      // The browser's own wording (a DOMException) is for the console.
      console.warn(message);
      // The stall watch starts over by itself (stall_watch.ts): say so, and what to do if it cannot.
      options.notice(
        "The video hit a problem in this browser and is picking up again; if it stays still, choose Play",
        "warn",
      );
    };
    this.#mse.onStuck = (position) => this.#startOver(position).catch(this.#failed);
    this.#controls = new PlayerControls(this.#video, byId("player", HTMLElement), {
      active: () => this.#stream !== undefined,
      duration: () => this.#stream?.duration ?? 0,
      togglePause: () => this.#askPause(),
      seek: (position) => this.#askSeek(position),
    });
    this.#screen = new PlayerScreen(this.#video, () => ({
      stream: this.#stream,
      quality: this.#quality,
    }));
    this.#wire();
  }

  /**
   * Plays on a new session after a reconnect.
   *
   * @param session The rejoined session.
   */
  attach(session: ClientSession): void {
    this.#session = session;
  }

  /** Milliseconds each segment took to transmux (for the benchmark). */
  get transmuxMs(): readonly number[] {
    return this.#mse.transmuxMs;
  }

  /**
   * Plays a title, from the start or (resuming after a refresh or a reconnect) from a second.
   *
   * @param video The title.
   * @param options `position`: the second to resume at; `quality`: the quality to resume with.
   */
  async play(
    video: VideoSummary,
    options: { position?: number; quality?: Quality } = {},
  ): Promise<void> {
    const unsupported = this.#options.codec !== "h264"
      ? `Video in the page needs H.264; this server streams ${this.#options.codec.toUpperCase()}`
      : videoSupport();
    if (unsupported !== null) {
      this.#options.notice(`Cannot play "${video.title}": ${unsupported}`, "warn");
      return;
    }
    if (options.quality !== undefined) this.#quality = options.quality;
    this.#resumeAt = options.position;
    this.#quality = this.#screen.offer(video.heights, this.#quality);
    try {
      await this.#session.play(video.title, {
        quality: this.#quality,
        ...(options.position === undefined ? {} : { position: options.position }),
        sink: (info) => this.#open(info),
      });
    } catch (error) {
      console.warn(consoleDetail(error));
      this.#options.notice(failureWords("Cannot play", error, { title: video.title }), "warn");
    }
  }

  /** Opens the page's sink for a stream that starts: the video element through MSE. */
  #open(start: StreamStartMessage): MediaSink {
    if (start.codec !== "h264") {
      throw new Error(`video in the page needs H.264, and this stream is ${start.codec}`);
    }
    this.#stream = start;
    this.#streaming = true;
    this.#paused = false;
    this.#controls.showPaused(false);
    this.#screen.open(start);
    this.#controls.paint();
    this.#mse.start(start);
    // Resuming: the server starts at the segment holding the second; the picture goes to it.
    const resumeAt = this.#resumeAt;
    this.#resumeAt = undefined;
    if (resumeAt !== undefined && resumeAt > start.position) this.#video.currentTime = resumeAt;
    this.#options.notice(`Playing ${start.title} (${clock(start.duration)})`);
    const mse = this.#mse;
    return {
      write: (data) => mse.media(data),
      segment: (segment) => mse.segment(segment),
      seek: (jump) => this.#switching ? mse.switchAt(jump.position) : mse.jump(jump.position),
      close: (reason, end) => this.#ended(start, reason, end),
    };
  }

  /**
   * The server's stream ended. `finished` means everything has arrived: the title stays on
   * screen and plays out; otherwise it ends now.
   */
  #ended(start: StreamStartMessage, reason: StreamEndReason, end?: StreamEndMessage) {
    if (this.#stream !== start || !this.#streaming) return;
    this.#streaming = false;
    this.#mse.end(reason);
    // An error with no end message is the connection lost: the title and its second stay
    // remembered, to play again on reconnect, and the connection's banner says what happened.
    if (reason === "error" && end !== undefined) {
      console.warn(`${end.code ?? ""}: ${end.message ?? ""}`);
      const reason = reasonWords(end.code ?? "INTERNAL", { title: start.title });
      this.#options.notice(`"${start.title}" stopped: ${reason}`, "warn");
      if (end.code !== "SHUTTING_DOWN") this.#options.onPlaying?.(undefined);
    }
    if (reason !== "finished") this.#close();
  }

  /** The connection is gone. */
  disconnected(): void {
    this.#streaming = false;
    this.#close();
  }

  /** Takes the title off screen. */
  #close() {
    this.#stream = undefined;
    this.#controls.closed();
    this.#mse.reset();
    this.#screen.close();
  }

  async #stop() {
    const title = this.#stream?.title;
    const streaming = this.#streaming;
    this.#streaming = false;
    this.#close();
    this.#options.onPlaying?.(undefined);
    // After "finished" the server has nothing left to stop.
    if (streaming && this.#session.stream !== undefined) await this.#session.stop();
    if (title !== undefined) this.#options.notice(`Stopped ${title}`);
  }

  /**
   * A chosen height replaces what is buffered ahead (the server jumps to the playhead in the new
   * rendition), so it shows within a second instead of after the 6 s already buffered; `auto`
   * applies from the next segment the server sends.
   */
  async #setQuality(value: string) {
    const quality: Quality = value === "auto" ? "auto" : Number(value);
    this.#quality = quality;
    const here = quality !== "auto" && this.#streaming;
    this.#switching = here;
    try {
      await this.#session.setQuality(
        quality,
        here ? { position: this.#video.currentTime } : {},
      );
      this.#options.notice(`Quality: ${value === "auto" ? "auto" : `${value}p`}`);
    } catch (error) {
      console.warn(consoleDetail(error));
      this.#options.notice(failureWords("Cannot change quality", error), "warn");
    } finally {
      this.#switching = false;
    }
  }

  /**
   * The video stayed stalled (the player's watchdog; its media source is new): the title starts
   * over at `position`, from the server, which jumps there while it streams, or plays the title
   * again from there once it has sent everything.
   */
  async #startOver(position: number) {
    const stream = this.#stream;
    if (stream === undefined) return;
    if (this.#streaming && this.#session.stream !== undefined) {
      await this.#session.seek(position);
      return;
    }
    await this.play(summaryOf(stream), { position, quality: this.#quality });
  }

  async #togglePause() {
    this.#paused = !this.#paused;
    this.#controls.showPaused(this.#paused);
    if (this.#paused) this.#video.pause();
    else this.#video.play().catch(() => {});
    try {
      await (this.#paused ? this.#session.pause() : this.#session.resume());
    } catch (error) {
      // A server without pause keeps sending; the page holds what arrives meanwhile.
      if (!(error instanceof PeerstreamError)) throw error;
    }
  }

  async #seek(position: number) {
    const stream = this.#stream;
    if (stream === undefined) return;
    const target = Math.max(0, Math.min(position, stream.duration - 0.1));
    try {
      // The server restarts at the segment holding the target (the sink's seek moves the
      // buffer there); then the picture goes to the exact second.
      const jump = await this.#session.seek(target);
      if (target >= jump.position) this.#video.currentTime = target;
      return;
    } catch (error) {
      if (!(error instanceof PeerstreamError)) throw error;
    }
    // This server cannot seek: move within what has arrived.
    const buffered = this.#video.buffered;
    for (let i = 0; i < buffered.length; i++) {
      if (target >= buffered.start(i) && target <= buffered.end(i)) {
        this.#video.currentTime = target;
        return;
      }
    }
    this.#options.notice(`Cannot seek to ${clock(target)}: it has not arrived yet`, "warn");
  }

  /**
   * Follows a room (watching together), or no room: the controls go to its hooks.
   *
   * @param hooks The room's, or undefined to stop following one.
   */
  follow(hooks: RoomHooks | undefined): void {
    this.#room = hooks;
    if (hooks === undefined) this.#video.playbackRate = 1;
  }

  /** The title on screen, if any. */
  get title(): string | undefined {
    return this.#stream?.title;
  }

  /**
   * Pauses or resumes the picture and the stream for the room (not a toggle).
   *
   * @param paused Whether to pause.
   */
  async hold(paused: boolean): Promise<void> {
    if (this.#stream === undefined || this.#paused === paused) return;
    await this.#togglePause();
  }

  /**
   * Jumps the page's own stream to a position for the room (the ordinary seek).
   *
   * @param position Where, s.
   */
  async seek(position: number): Promise<void> {
    await this.#seek(position);
  }

  /** Stops the page's stream (the room stopped). */
  async stop(): Promise<void> {
    if (this.#stream !== undefined) await this.#stop();
  }

  #askPause() {
    if (this.#room !== undefined) this.#room.togglePause();
    else this.#togglePause().catch(this.#failed);
  }

  #askSeek(position: number) {
    if (this.#room !== undefined) this.#room.seek(position);
    else this.#seek(position).catch(this.#failed);
  }

  #wire() {
    byId("stop", HTMLButtonElement).addEventListener("click", () => {
      const room = this.#room;
      this.#room = undefined;
      room?.left();
      this.#stop().catch(this.#failed);
    });
    byId("pause", HTMLButtonElement).addEventListener("click", () => this.#askPause());
    byId("quality", HTMLSelectElement).addEventListener("change", (event) => {
      this.#setQuality((event.target as HTMLSelectElement).value).catch(this.#failed);
    });
    byId("seek", HTMLInputElement).addEventListener("change", (event) => {
      this.#askSeek(Number((event.target as HTMLInputElement).value));
    });
    byId("back", HTMLButtonElement).addEventListener("click", () => {
      this.#askSeek(this.#video.currentTime - 10);
    });
    byId("forward", HTMLButtonElement).addEventListener("click", () => {
      this.#askSeek(this.#video.currentTime + 10);
    });
    this.#video.addEventListener("timeupdate", () => {
      this.#screen.showNow();
      const stream = this.#stream;
      if (stream === undefined || this.#resumeAt !== undefined) return;
      const position = this.#video.currentTime;
      this.#options.onPlaying?.({ title: stream.title, position, quality: this.#quality });
    });
    this.#video.addEventListener("ended", () => {
      const title = this.#stream?.title;
      if (title === undefined || this.#streaming) return;
      this.#close();
      this.#options.onPlaying?.(undefined);
      this.#options.notice(`${title} finished`);
    });
  }
}

/** The title a stream plays, as the library lists it: to play it again. */
function summaryOf(stream: StreamStartMessage): VideoSummary {
  return {
    title: stream.title,
    heights: stream.renditions.map((r) => r.height),
    duration: stream.duration,
    hasAudio: stream.hasAudio,
    state: "ready",
    progress: 1,
  };
}
