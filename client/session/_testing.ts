/**
 * Fakes that drive a session's parts in unit tests: a clock whose time moves only when told, and
 * a transport whose server end the test plays. Test support only: product code does not import it.
 * @module
 */

import { FrameDecoder } from "../../protocol/frame.ts";
import {
  type ClientMessage,
  decodeMessage,
  encodeMessage,
  type Message,
  type SegmentMessage,
  type StreamSeekMessage,
  type StreamStartMessage,
} from "../../protocol/messages.ts";
import type { ByteTransport } from "../transport.ts";
import type { SessionClock } from "./clock.ts";

interface Timer {
  id: number;
  at: number;
  every?: number;
  fn: () => void;
}

/** A {@linkcode SessionClock} that moves only on {@linkcode FakeClock.advance}. */
export class FakeClock implements SessionClock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, Timer>();

  /** @param start The time it starts at, ms since the epoch. */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  /** Timers scheduled and not cancelled or run. */
  get pending(): number {
    return this.#timers.size;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): () => void {
    return this.#add({ id: this.#nextId++, at: this.#now + ms, fn });
  }

  every(ms: number, fn: () => void): () => void {
    return this.#add({ id: this.#nextId++, at: this.#now + ms, every: ms, fn });
  }

  /**
   * Moves the time on, running each timer that falls due, in time order, at its own time.
   *
   * @param ms How far.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    while (true) {
      const due = [...this.#timers.values()].filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#now = due.at;
      if (due.every === undefined) this.#timers.delete(due.id);
      else due.at += due.every;
      due.fn();
    }
    this.#now = end;
  }

  #add(timer: Timer): () => void {
    this.#timers.set(timer.id, timer);
    return () => this.#timers.delete(timer.id);
  }
}

/** Options for {@linkcode FakeTransport}. */
export interface FakeTransportOptions {
  /** Writes never complete: a server that does not read. @default {false} */
  stuck?: boolean;
}

/** The server's end of an in-memory connection, played by a test. */
export class FakeTransport implements ByteTransport {
  /** What the client wrote, decoded. */
  readonly sent: ClientMessage[] = [];
  /** Whether the client closed it. */
  closed = false;
  #incoming: Uint8Array[] = [];
  #waiter?: () => void;
  #decoder = new FrameDecoder();
  #stuck: boolean;

  /** @param options How it behaves. */
  constructor(options: FakeTransportOptions = {}) {
    this.#stuck = options.stuck ?? false;
  }

  /**
   * The server sends bytes (frames, parts of frames, anything).
   *
   * @param bytes What the client reads next, in one read.
   */
  pushBytes(bytes: Uint8Array): void {
    this.#incoming.push(bytes);
    this.#waiter?.();
  }

  /**
   * The server sends messages, read together.
   *
   * @param messages What it sends.
   */
  push(...messages: Message[]): void {
    for (const message of messages) this.pushBytes(encodeMessage(message));
  }

  /**
   * The server sends messages that the client reads at once, in one read.
   *
   * @param messages What it sends.
   */
  pushTogether(...messages: Message[]): void {
    const frames = messages.map(encodeMessage);
    const chunk = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const frame of frames) {
      chunk.set(frame, at);
      at += frame.length;
    }
    this.pushBytes(chunk);
  }

  /** The server closes its end. */
  end(): void {
    this.closed = true;
    this.#waiter?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#incoming.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    const chunk = this.#incoming[0];
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#incoming.shift();
    else this.#incoming[0] = chunk.subarray(n);
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#stuck) return new Promise(() => {});
    for (const frame of this.#decoder.push(bytes)) {
      this.sent.push(decodeMessage(frame) as ClientMessage);
    }
    return Promise.resolve(bytes.length);
  }

  close(): void {
    this.closed = true;
    this.#waiter?.();
  }

  /** Types of what the client wrote. */
  types(): string[] {
    return this.sent.map((m) => m.type);
  }
}

/**
 * Lets promise callbacks and the read loop run (no timers involved).
 *
 * @param turns How many macrotask turns.
 */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 0));
}

/**
 * A `stream-start` answering request `re`.
 *
 * @param re The play request's id.
 * @param streamId The stream.
 * @returns The message.
 */
export function streamStartOf(re: number, streamId = 1): StreamStartMessage {
  return {
    type: "stream-start",
    re,
    streamId,
    title: "cat",
    duration: 10,
    codec: "h264",
    container: "mpegts",
    fps: 25,
    hasAudio: false,
    renditions: [{ height: 240, width: 426, bitrate: 400_000 }],
    quality: "auto",
    position: 0,
    epoch: 0,
  };
}

/**
 * A `stream-seek` answering request `re`: epoch `epoch` from segment `index`.
 *
 * @param re The seek or quality request's id.
 * @param epoch The new epoch.
 * @returns The message.
 */
export function streamSeekOf(re: number, epoch: number, streamId = 1): StreamSeekMessage {
  return { type: "stream-seek", re, streamId, epoch, position: 10, index: 5, paused: false };
}

/**
 * A `segment` of `bytes` bytes.
 *
 * @param index The segment's index.
 * @param bytes How many media bytes follow.
 * @returns The message, of stream 1 epoch 0 unless told otherwise.
 */
export function segmentOf(
  index: number,
  bytes: number,
  where: { streamId?: number; epoch?: number } = {},
): SegmentMessage {
  return {
    type: "segment",
    streamId: where.streamId ?? 1,
    epoch: where.epoch ?? 0,
    index,
    height: 240,
    bitrate: 400_000,
    start: index * 2,
    duration: 2,
    bytes,
  };
}
