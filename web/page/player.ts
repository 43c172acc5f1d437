/**
 * Video in the page through Media Source Extensions. The server pushes the same aligned MPEG-TS
 * segments (H.264 + AAC) it sends the terminal; the page transmuxes each whole segment to
 * fragmented MP4 with mux.js and appends it to one `SourceBuffer`. Every browser with MSE takes
 * fMP4 (Firefox and stock Chrome take no MPEG-TS), so there is one path for all.
 *
 * Timeline: each epoch (the start, and each jump) gets a fresh transmuxer whose decode times start
 * at the epoch's position, so `video.currentTime` is the position in the title. A rendition switch
 * changes the SPS: mux.js emits a new init segment, which is appended before the switched media
 * into the same buffer, so the picture changes size without a stall.
 * @module
 */

import { Transmuxer } from "mux.js/lib/mp4/transmuxer.js";
import type { SegmentMessage, StreamStartMessage } from "../../protocol/messages.ts";

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

/** A rendition placed on the media timeline, to say what is on screen. */
interface Placed {
  start: number;
  end: number;
  height: number;
  bitrate: number;
}

/** How many seconds of already-played media the buffer keeps. */
const BACK_BUFFER_S = 20;

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
  #codecs = "";
  #hasAudio = false;
  #transmuxer?: MuxTransmuxer;
  #segment?: SegmentMessage;
  #parts: Uint8Array[] = [];
  #received = 0;
  #lastInit?: Uint8Array;
  #queue: Uint8Array[] = [];
  #placed: Placed[] = [];
  #ending = false;
  #epochStart = 0;
  #duration = 0;
  /** Milliseconds each segment took to transmux, for the benchmark. */
  readonly transmuxMs: number[] = [];
  /** Called when something fails that stops the video. */
  onError?: (message: string) => void;

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
    const source = new MediaSource();
    this.#source = source;
    this.#url = URL.createObjectURL(source);
    this.#video.src = this.#url;
    this.#duration = info.duration;
    source.addEventListener("sourceopen", () => this.#pump(), { once: true });
    this.#newEpoch(info.position);
    this.#video.play().catch(() => {
      // Autoplay refused: the person presses play on the element.
    });
  }

  /**
   * The stream jumped (seek, or quality at the current position): drop what is buffered and
   * start over at `position`.
   *
   * @param position The start of the new epoch, seconds.
   */
  jump(position: number): void {
    this.#queue = [];
    this.#placed = [];
    this.#segment = undefined;
    this.#parts = [];
    this.#newEpoch(position);
    const buffer = this.#buffer;
    if (buffer !== undefined && this.#source?.readyState === "open") {
      if (buffer.updating) buffer.abort();
      buffer.remove(0, Infinity);
    }
    this.#video.currentTime = position;
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
    this.#transmux(bytes, segment);
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
    this.#queue = [];
    this.#placed = [];
    this.#segment = undefined;
    this.#parts = [];
    this.#buffer = undefined;
    this.#lastInit = undefined;
    this.#codecs = "";
    this.#source = undefined;
    this.#video.pause();
    this.#video.removeAttribute("src");
    this.#video.load();
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#url = undefined;
  }

  /**
   * The rendition on screen now.
   *
   * @returns Its height and bit rate, or undefined before the first frame.
   */
  current(): { height: number; bitrate: number } | undefined {
    const t = this.#video.currentTime;
    return this.#placed.find((p) => t >= p.start - 0.05 && t < p.end) ??
      this.#placed.findLast((p) => p.start <= t);
  }

  #newEpoch(position: number) {
    this.#transmuxer?.dispose?.();
    this.#epochStart = position;
    const transmuxer = new Transmuxer({
      remux: true,
      baseMediaDecodeTime: Math.round(position * 90_000),
    }) as unknown as MuxTransmuxer;
    transmuxer.on("data", (out) => this.#transmuxed(out));
    this.#transmuxer = transmuxer;
  }

  #transmux(bytes: Uint8Array, segment: SegmentMessage) {
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
    const start = Math.max(segment.start, this.#epochStart);
    this.#placed.push({
      start,
      end: segment.start + segment.duration,
      height: segment.height,
      bitrate: segment.bitrate,
    });
  }

  #transmuxed(out: TransmuxedSegment) {
    const codecs = codecsFor(out.info, this.#hasAudio);
    // A changed profile or level is announced with changeType, which must come before the new
    // init segment: the append after a changeType has to start with one.
    if (this.#codecs === "") this.#codecs = codecs;
    else if (codecs !== this.#codecs && this.#buffer?.changeType !== undefined) {
      this.#codecs = codecs;
      this.#queue.push(marker(codecs));
      this.#lastInit = undefined;
    }
    if (this.#lastInit === undefined || !sameBytes(this.#lastInit, out.initSegment)) {
      this.#lastInit = out.initSegment;
      this.#queue.push(out.initSegment);
    }
    this.#queue.push(out.data);
    this.#pump();
  }

  #pump() {
    const source = this.#source;
    if (source === undefined || source.readyState !== "open") return;
    if (this.#buffer === undefined) {
      if (this.#codecs === "") return;
      try {
        source.duration = this.#duration;
        this.#buffer = source.addSourceBuffer(`video/mp4; codecs="${this.#codecs}"`);
      } catch (error) {
        this.onError?.(`Cannot play: ${(error as Error).message}`);
        return;
      }
      this.#buffer.addEventListener("updateend", () => this.#pump());
      this.#buffer.addEventListener("error", () => this.onError?.("The video buffer failed"));
    }
    const buffer = this.#buffer;
    if (buffer.updating) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      if (this.#ending && source.readyState === "open") source.endOfStream();
      return;
    }
    try {
      const codecs = CODEC_MARKERS.get(next);
      if (codecs !== undefined) {
        CODEC_MARKERS.delete(next);
        buffer.changeType(`video/mp4; codecs="${codecs}"`);
        this.#pump();
      } else {
        buffer.appendBuffer(next as Uint8Array<ArrayBuffer>);
      }
    } catch (error) {
      this.onError?.(`Cannot buffer the video: ${(error as Error).message}`);
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

/** Queue entries that ask for `changeType` instead of an append. */
const CODEC_MARKERS = new WeakMap<Uint8Array, string>();

function marker(codecs: string): Uint8Array {
  const entry = new Uint8Array(0);
  CODEC_MARKERS.set(entry, codecs);
  return entry;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
