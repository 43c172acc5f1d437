/**
 * Video in the page through Media Source Extensions. The server pushes the same aligned MPEG-TS
 * segments (H.264 + AAC) it sends the terminal; the page transmuxes each whole segment to
 * fragmented MP4 with mux.js and appends it to one `SourceBuffer`. Every browser with MSE takes
 * fMP4 (Firefox and stock Chrome take no MPEG-TS), so there is one path for all.
 *
 * Timeline: each epoch (the start, and each jump) gets a fresh transmuxer whose decode times start
 * at the epoch's position, so `video.currentTime` is the position in the title. A rendition switch
 * changes the SPS: mux.js emits a new init segment, which is appended before the switched media
 * into the same buffer (after a `changeType` when the profile or level differs).
 *
 * A chosen quality replaces what is buffered instead of playing it out (issue 18): the server
 * restarts at the segment holding the playhead in the new rendition (a new epoch); when its first
 * segment is ready, the buffer from that segment's start on is removed, the new segment appended,
 * and the element seeks to where it is, so the next frame shown is the next frame of the title in
 * the new rendition, well within a second. A playhead stalled at a small hole between renditions
 * is moved over it at once; one stuck for 3 s with media ahead of it (a larger hole, a stuck
 * decoder) is moved on, and if that fails the page starts over at it ({@linkcode watchStall}).
 * @module
 */

import { Transmuxer } from "mux.js/lib/mp4/transmuxer.js";
import type { SegmentMessage, StreamStartMessage } from "../../protocol/messages.ts";
import { rangesOf } from "./buffer_gaps.ts";
import { STALL_START, type StallState, watchStall } from "./stall_watch.ts";

/** What the transmuxer hands back for one segment. */
interface TransmuxedSegment {
  initSegment: Uint8Array;
  data: Uint8Array;
  info?: { profileIdc?: number; levelIdc?: number; profileCompatibility?: number };
}

/** The part of mux.js's Transmuxer the player uses (mux.js ships no types). */
interface MuxTransmuxer {
  on(event: "data", listener: (segment: TransmuxedSegment) => void): void;
  push(bytes: Uint8Array): void;
  flush(): void;
  dispose?(): void;
}

/** One step of the buffer's work, done in order, one at a time. */
type BufferStep =
  | { kind: "append"; bytes: Uint8Array }
  | { kind: "codecs"; codecs: string }
  | { kind: "remove"; start: number; end: number }
  /** Seek to where the playhead is (or to the first buffered instant after it). */
  | { kind: "seek" };

/** How many seconds of already-played media the buffer keeps. */
const BACK_BUFFER_S = 20;
/** How often a playing video is checked for a stall, ms. */
const STALL_CHECK_MS = 250;

/**
 * Whether this browser can play the page's video: MSE with H.264 (and AAC) in fMP4.
 *
 * @returns A reason it cannot, or null.
 */
export function videoSupport(): string | null {
  if (typeof MediaSource === "undefined") {
    return "This browser has no Media Source Extensions, so it cannot play the stream";
  }
  if (!MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E, mp4a.40.2"')) {
    return "This browser cannot decode H.264 video in MP4";
  }
  return null;
}

/**
 * The MSE codecs string for an H.264 stream, e.g. `avc1.64001f, mp4a.40.2`.
 *
 * @param info The SPS fields mux.js reports.
 * @param hasAudio Whether AAC audio is muxed in.
 * @returns The codecs.
 */
export function codecsFor(info: TransmuxedSegment["info"], hasAudio: boolean): string {
  const hex = (n: number | undefined, fallback: number) =>
    (n ?? fallback).toString(16).padStart(2, "0");
  const avc = `avc1.${hex(info?.profileIdc, 0x42)}${hex(info?.profileCompatibility, 0xe0)}${
    hex(info?.levelIdc, 0x1e)
  }`;
  return hasAudio ? `${avc}, mp4a.40.2` : avc;
}

/** Plays one stream at a time into a `<video>`. */
export class MsePlayer {
  readonly #video: HTMLVideoElement;
  #source?: MediaSource;
  #buffer?: SourceBuffer;
  #url?: string;
  /** The codecs of the last media queued (what the buffer will have once the queue is done). */
  #codecs = "";
  /** The codecs the buffer has now. */
  #bufferCodecs = "";
  #hasAudio = false;
  #transmuxer?: MuxTransmuxer;
  #segment?: SegmentMessage;
  #parts: Uint8Array[] = [];
  #received = 0;
  #lastInit?: Uint8Array;
  #queue: BufferStep[] = [];
  #ending = false;
  #duration = 0;
  /** The start of a rendition switch waiting for its first segment. */
  #switchFrom?: number;
  #stallTimer?: ReturnType<typeof setInterval>;
  #stall: StallState = STALL_START;
  /** Milliseconds each segment took to transmux, for the benchmark. */
  readonly transmuxMs: number[] = [];
  /** Called when something fails that stops the video. */
  onError?: (message: string) => void;
  /**
   * Called when moving the playhead did not get a stalled video going: the stream should start
   * over at `position` (the media source is new by then; the caller asks the server to jump).
   */
  onStuck?: (position: number) => void;

  /** @param video The element to play into. */
  constructor(video: HTMLVideoElement) {
    this.#video = video;
    video.addEventListener("timeupdate", () => this.#evict());
  }

  /**
   * Starts a new stream: a fresh MediaSource on the element.
   *
   * @param info The stream's metadata.
   */
  start(info: StreamStartMessage): void {
    this.reset();
    this.#hasAudio = info.hasAudio;
    this.#ending = false;
    this.#duration = info.duration;
    this.#stall = STALL_START;
    this.#openSource();
    this.#newEpoch(info.position);
    this.#stallTimer = setInterval(() => this.#checkStall(), STALL_CHECK_MS);
  }

  /** A fresh MediaSource on the element (its SourceBuffer comes with the first segment). */
  #openSource() {
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#buffer = undefined;
    this.#bufferCodecs = "";
    this.#codecs = "";
    this.#lastInit = undefined;
    const source = new MediaSource();
    this.#source = source;
    this.#url = URL.createObjectURL(source);
    this.#video.src = this.#url;
    source.addEventListener("sourceopen", () => this.#pump(), { once: true });
    this.#video.play().catch(() => {
      // Autoplay refused: the person presses play on the element.
    });
  }

  /**
   * Starts over on a fresh MediaSource (what is buffered goes); the stream's next epoch (the
   * caller's jump, {@linkcode MsePlayer.jump}) fills it. For a video that no move of its
   * playhead got going again.
   */
  restart(): void {
    if (this.#source === undefined) return;
    this.#dropPending();
    this.#switchFrom = undefined;
    this.#openSource();
  }

  /**
   * The stream jumped (a seek): drop what is buffered and start over at `position`.
   *
   * @param position The start of the new epoch, seconds.
   */
  jump(position: number): void {
    this.#dropPending();
    this.#switchFrom = undefined;
    this.#newEpoch(position);
    const buffer = this.#buffer;
    if (buffer !== undefined && this.#source?.readyState === "open") {
      if (buffer.updating) buffer.abort();
      buffer.remove(0, Infinity);
    }
    this.#video.currentTime = position;
  }

  /**
   * The stream switched rendition at the playhead (`quality` with a position): the new epoch
   * starts at the segment holding the playhead. What is buffered plays on until the new
   * rendition's first segment is ready; then it replaces everything from `position` on, and the
   * picture goes on from the frame it was at, in the new rendition.
   *
   * @param position The start of the new epoch (the start of the segment at the playhead), s.
   */
  switchAt(position: number): void {
    this.#dropPending();
    this.#newEpoch(position);
    this.#switchFrom = position;
  }

  /**
   * A segment begins.
   *
   * @param segment Its header.
   */
  segment(segment: SegmentMessage): void {
    this.#segment = segment;
    this.#parts = [];
    this.#received = 0;
  }

  /**
   * Media bytes of the current segment; a complete segment is transmuxed and appended.
   *
   * @param data The bytes.
   */
  media(data: Uint8Array): void {
    const segment = this.#segment;
    if (segment === undefined) return;
    // A copy: the session's read buffer is reused.
    this.#parts.push(data.slice());
    this.#received += data.length;
    if (this.#received < segment.bytes) return;
    this.#segment = undefined;
    const bytes = new Uint8Array(this.#received);
    let at = 0;
    for (const part of this.#parts) {
      bytes.set(part, at);
      at += part.length;
    }
    this.#parts = [];
    this.#transmux(bytes);
  }

  /**
   * The stream ended.
   *
   * @param reason `finished` plays out what is buffered; otherwise the video stops now.
   */
  end(reason: "finished" | "stopped" | "error"): void {
    if (reason === "finished") {
      this.#ending = true;
      this.#pump();
    } else {
      this.reset();
    }
  }

  /** Stops and detaches everything. */
  reset(): void {
    this.#transmuxer?.dispose?.();
    this.#transmuxer = undefined;
    clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#queue = [];
    this.#segment = undefined;
    this.#parts = [];
    this.#switchFrom = undefined;
    this.#buffer = undefined;
    this.#lastInit = undefined;
    this.#codecs = "";
    this.#bufferCodecs = "";
    this.#source = undefined;
    this.#video.pause();
    this.#video.removeAttribute("src");
    this.#video.load();
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#url = undefined;
  }

  /** Forgets media of the old epoch that has not reached the buffer yet. */
  #dropPending() {
    this.#queue = [];
    this.#segment = undefined;
    this.#parts = [];
    // What was dropped may have held a changeType and an init segment: start from the buffer's.
    this.#codecs = this.#bufferCodecs;
    this.#lastInit = undefined;
  }

  #newEpoch(position: number) {
    this.#transmuxer?.dispose?.();
    const transmuxer = new Transmuxer({
      remux: true,
      baseMediaDecodeTime: Math.round(position * 90_000),
    }) as unknown as MuxTransmuxer;
    transmuxer.on("data", (out) => this.#transmuxed(out));
    this.#transmuxer = transmuxer;
  }

  #transmux(bytes: Uint8Array) {
    const transmuxer = this.#transmuxer;
    if (transmuxer === undefined) return;
    const started = performance.now();
    transmuxer.push(bytes);
    transmuxer.flush();
    this.transmuxMs.push(performance.now() - started);
    // For the benchmark: what transmuxing costs per segment, read from outside the page.
    this.#video.dataset.transmuxMs = this.transmuxMs.slice(-50).map((ms) => ms.toFixed(2)).join(
      ",",
    );
  }

  #transmuxed(out: TransmuxedSegment) {
    // A switch replaces the buffer from its first segment's start, before that segment goes in.
    const switchFrom = this.#switchFrom;
    if (switchFrom !== undefined) {
      this.#switchFrom = undefined;
      this.#queue.push({ kind: "remove", start: switchFrom, end: Infinity });
    }
    const codecs = codecsFor(out.info, this.#hasAudio);
    // A changed profile or level is announced with changeType, which must come before the new
    // init segment: the append after a changeType has to start with one.
    if (this.#codecs === "") this.#codecs = codecs;
    else if (codecs !== this.#codecs && this.#buffer?.changeType !== undefined) {
      this.#codecs = codecs;
      this.#queue.push({ kind: "codecs", codecs });
      this.#lastInit = undefined;
    }
    if (this.#lastInit === undefined || !sameBytes(this.#lastInit, out.initSegment)) {
      this.#lastInit = out.initSegment;
      this.#queue.push({ kind: "append", bytes: out.initSegment });
    }
    this.#queue.push({ kind: "append", bytes: out.data });
    if (switchFrom !== undefined) this.#queue.push({ kind: "seek" });
    this.#pump();
  }

  #pump() {
    const source = this.#source;
    if (source === undefined || source.readyState !== "open") return;
    if (this.#buffer === undefined && !this.#openBuffer(source)) return;
    const buffer = this.#buffer!;
    while (!buffer.updating) {
      const step = this.#queue.shift();
      if (step === undefined) {
        if (this.#ending && source.readyState === "open") source.endOfStream();
        return;
      }
      try {
        this.#run(buffer, step);
      } catch (error) {
        this.onError?.(`Cannot buffer the video: ${(error as Error).message}`);
        return;
      }
    }
  }

  /** Creates the SourceBuffer once the first segment says which codecs. */
  #openBuffer(source: MediaSource): boolean {
    if (this.#codecs === "") return false;
    try {
      source.duration = this.#duration;
      this.#buffer = source.addSourceBuffer(`video/mp4; codecs="${this.#codecs}"`);
      this.#bufferCodecs = this.#codecs;
    } catch (error) {
      this.onError?.(`Cannot play: ${(error as Error).message}`);
      return false;
    }
    this.#buffer.addEventListener("updateend", () => this.#pump());
    this.#buffer.addEventListener("error", () => this.onError?.("The video buffer failed"));
    return true;
  }

  #run(buffer: SourceBuffer, step: BufferStep) {
    switch (step.kind) {
      case "append":
        buffer.appendBuffer(step.bytes as Uint8Array<ArrayBuffer>);
        return;
      case "codecs":
        buffer.changeType(`video/mp4; codecs="${step.codecs}"`);
        this.#bufferCodecs = step.codecs;
        return;
      case "remove":
        if (
          buffer.buffered.length > 0 && step.start < buffer.buffered.end(buffer.buffered.length - 1)
        ) {
          buffer.remove(step.start, step.end);
        }
        return;
      case "seek":
        this.#seekInPlace(buffer);
        return;
    }
  }

  /**
   * Seeks to the playhead, so that the decoder starts over from the new rendition's keyframe and
   * shows the frame of this instant in it; or to the first buffered instant after the playhead,
   * when the new rendition starts a little later than the old one did.
   */
  #seekInPlace(buffer: SourceBuffer) {
    const time = this.#video.currentTime;
    const ranges = rangesOf(buffer.buffered);
    const inside = ranges.some((r) => r.start <= time && time < r.end);
    const after = ranges.find((r) => r.start > time);
    this.#video.currentTime = inside || after === undefined ? time : after.start;
  }

  /** A playing video that has not moved: jump a hole, nudge it, or start over at it. */
  #checkStall() {
    const video = this.#video;
    if (this.#buffer === undefined) return;
    const { state, action } = watchStall(this.#stall, {
      now: performance.now(),
      time: video.currentTime,
      // A hidden tab's video may be held back by the browser: not a stall to act on.
      active: !video.paused && !video.ended && !document.hidden,
      starved: !video.seeking && video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA,
      ranges: rangesOf(video.buffered),
      failed: video.error !== null,
    });
    this.#stall = state;
    if (action.kind === "seek") {
      // The small hole between renditions is routine (issue 18); anything else is worth a line.
      if (action.why !== "gap") {
        console.warn(
          `The video stalled at ${video.currentTime} s (${action.why}): on at ${action.to} s`,
        );
      }
      video.currentTime = action.to;
    } else if (action.kind === "restart" && this.onStuck !== undefined) {
      console.warn(`The video stayed stalled at ${action.at}: starting over there`);
      this.restart();
      this.onStuck(action.at);
    }
  }

  /** Drops media long played, so that a long title does not fill the buffer's quota. */
  #evict() {
    const buffer = this.#buffer;
    if (buffer === undefined || buffer.updating || buffer.buffered.length === 0) return;
    const upTo = this.#video.currentTime - BACK_BUFFER_S;
    if (upTo > buffer.buffered.start(0) + 5) buffer.remove(0, upTo);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
