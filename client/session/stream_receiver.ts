/**
 * The stream receiver: the one stream this client plays, demultiplexed by stream id, epoch and
 * segment. Media goes to the {@linkcode MediaSink} as it arrives (never awaited), each segment is
 * acknowledged the moment its last byte is read, bytes of a segment cut short by a jump are
 * dropped, and a sink that throws loses the stream, never the connection.
 * @module
 */

import type { ErrorCode } from "../../protocol/errors.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import type {
  ClientMessage,
  SegmentMessage,
  StreamEndMessage,
  StreamEndReason,
  StreamSeekMessage,
  StreamStartMessage,
} from "../../protocol/messages.ts";

/**
 * Where a stream's media goes: the playout queue of a player, a validator, a test. Every call is
 * made as the data arrives and is never awaited, so a sink must queue (bounded) rather than block.
 */
export interface MediaSink {
  /** Media bytes of the current epoch, in order. */
  write(data: Uint8Array): void;
  /** The stream ended; no more media follows. `finished` lets the sink play out what it has. */
  close(reason: StreamEndReason, end?: StreamEndMessage): void;
  /** A segment begins: its `bytes` follow. */
  segment?(segment: SegmentMessage): void;
  /** The stream jumped to a new epoch: the bytes that follow start at segment `seek.index`. */
  seek?(seek: StreamSeekMessage): void;
}

/** Opens the sink of a stream once its metadata is known; may throw (no player). */
export type SinkFactory = (info: StreamStartMessage) => MediaSink;

/** Options for {@linkcode StreamReceiver}. */
export interface StreamReceiverOptions {
  /** Sends acks and stops. */
  send(message: ClientMessage): void;
  /** The id of a `stop` sent on the receiver's own initiative. */
  nextId(): number;
  /** The sink failed and the stream was stopped. */
  warning?(text: string, code: ErrorCode): void;
}

interface Stream {
  info: StreamStartMessage;
  sink: MediaSink;
  epoch: number;
  /** The segment whose bytes are arriving; none between a jump and the next segment. */
  segment?: SegmentMessage;
  received: number;
  /** STOP was asked: the sink was closed and late media is dropped. */
  stopping: boolean;
}

/** The current stream's demultiplexer. */
export class StreamReceiver {
  readonly #options: StreamReceiverOptions;
  #stream?: Stream;
  #openSink?: SinkFactory;

  /** @param options How to send, ids, and where a failing sink is reported. */
  constructor(options: StreamReceiverOptions) {
    this.#options = options;
  }

  /** The stream, while one runs and no STOP was asked. */
  get info(): StreamStartMessage | undefined {
    return this.#stream?.stopping === false ? this.#stream.info : undefined;
  }

  /**
   * A `play` went out: its `stream-start` opens a sink with this factory.
   *
   * @param openSink The factory, or undefined once the request is settled.
   */
  expect(openSink: SinkFactory | undefined): void {
    this.#openSink = openSink;
  }

  /** Whether a `stream-start` is expected (a play was sent and not settled). */
  get expecting(): boolean {
    return this.#openSink !== undefined;
  }

  /**
   * A `stream-start` answering this client's play: opens the sink. If the factory throws, a
   * `stop` goes out and the error is returned for the play request to reject with.
   *
   * @param message The stream's metadata.
   * @returns Undefined when the stream started, or the factory's error.
   */
  start(message: StreamStartMessage): Error | undefined {
    const openSink = this.#openSink;
    if (openSink === undefined) return new Error("no play request is waiting");
    this.#openSink = undefined;
    let sink: MediaSink;
    try {
      sink = openSink(message);
    } catch (error) {
      // No player: stop the stream at once and report why.
      this.#options.send({ type: "stop", id: this.#options.nextId() });
      return error instanceof Error ? error : new Error(String(error));
    }
    this.#stream = { info: message, sink, epoch: message.epoch, received: 0, stopping: false };
    return undefined;
  }

  /**
   * A segment begins.
   *
   * @param message The segment.
   * @returns Whether it belongs to the current stream and epoch.
   */
  segment(message: SegmentMessage): boolean {
    const stream = this.#stream;
    if (stream === undefined || message.streamId !== stream.info.streamId) return false;
    if (message.epoch !== stream.epoch) return false;
    stream.segment = message;
    stream.received = 0;
    if (!stream.stopping) this.#toSink(stream, (sink) => sink.segment?.(message));
    return true;
  }

  /**
   * Media bytes: to the sink, and an ack once the segment's last byte is in.
   *
   * @param streamId The stream they belong to.
   * @param data The bytes.
   */
  media(streamId: number, data: Uint8Array): void {
    const stream = this.#stream;
    if (stream === undefined || streamId !== stream.info.streamId) return;
    // Bytes of a segment cut short by a jump belong to no epoch: drop them.
    const segment = stream.segment;
    if (segment === undefined) return;
    stream.received += data.length;
    if (stream.received >= segment.bytes) {
      // Acknowledged on receipt, whatever the player does: auto measures the network.
      this.#options.send({
        type: "seg-ack",
        streamId: segment.streamId,
        epoch: segment.epoch,
        index: segment.index,
      });
      stream.segment = undefined;
    }
    if (!stream.stopping) this.#toSink(stream, (sink) => sink.write(data));
  }

  /**
   * A jump answering this client's seek or quality: a new epoch of the current stream.
   *
   * @param message The `stream-seek`.
   */
  seek(message: StreamSeekMessage): void {
    const stream = this.#stream;
    if (stream === undefined || message.streamId !== stream.info.streamId) return;
    stream.epoch = message.epoch;
    stream.segment = undefined;
    if (!stream.stopping) this.#toSink(stream, (sink) => sink.seek?.(message));
  }

  /**
   * The server ended a stream.
   *
   * @param message The `stream-end`.
   * @returns Whether it was the current stream.
   */
  streamEnd(message: StreamEndMessage): boolean {
    if (this.#stream?.info.streamId !== message.streamId) return false;
    this.end(message.reason, message);
    return true;
  }

  /**
   * STOP: the sink is closed at once and late media dropped, until the server's `stream-end`.
   *
   * @throws {PeerstreamError} `NOT_PLAYING` when no stream runs.
   */
  stop(): void {
    const stream = this.#stream;
    if (stream === undefined || stream.stopping) {
      throw new PeerstreamError(
        "NOT_PLAYING",
        "Cannot stop: nothing is playing; PLAY a title first",
      );
    }
    stream.stopping = true;
    try {
      stream.sink.close("stopped");
    } catch {
      // The sink (player) is already gone.
    }
  }

  /**
   * Ends the stream here: its sink is closed with `reason` (unless STOP closed it already).
   *
   * @param reason Why.
   * @param end The server's `stream-end`, when it sent one.
   */
  end(reason: StreamEndReason, end?: StreamEndMessage): void {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined || stream.stopping) return;
    try {
      stream.sink.close(reason, end);
    } catch {
      // The sink (player) is already gone.
    }
  }

  /** Calls the sink; a sink that throws loses the stream, never the connection. */
  #toSink(stream: Stream, call: (sink: MediaSink) => void) {
    try {
      call(stream.sink);
    } catch (error) {
      stream.stopping = true;
      this.#options.send({ type: "stop", id: this.#options.nextId() });
      this.#options.warning?.(
        `Stopped "${stream.info.title}": the player failed (${(error as Error).message})`,
        "INTERNAL",
      );
    }
  }
}
