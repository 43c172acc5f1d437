/**
 * The session's stream requests: `play` (the sink opened by the `stream-start` handler),
 * `stop`, `quality`, `pause`, `resume` and `seek`, each checked against the answer it takes.
 * `ClientSession` delegates to it; the stream's media and metadata are `stream_receiver.ts`'s.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { Quality, StreamSeekMessage, StreamStartMessage } from "../../protocol/messages.ts";
import type { AnswerTo, RequestMessage } from "./requests.ts";
import type { MediaSink, StreamReceiver } from "./stream_receiver.ts";

/** Options for {@linkcode StreamControl}. */
export interface StreamControlOptions {
  /** The session's stream receiver: it opens the sink at `stream-start`. */
  receiver: StreamReceiver;
  /** Sends a request and waits for its answer. */
  ask<M extends RequestMessage>(message: M): Promise<AnswerTo<M["type"]>>;
  /** Throws `NOT_REGISTERED` before registration. */
  requireRegistered(): void;
}

/** The stream requests of one session (see `ClientSession` for each one's contract). */
export class StreamControl {
  readonly #options: StreamControlOptions;
  #requesting = false;

  /** @param options The receiver, how to ask, and the registration check. */
  constructor(options: StreamControlOptions) {
    this.#options = options;
  }

  /** Whether a PLAY waits for its answer. */
  get requesting(): boolean {
    return this.#requesting;
  }

  /**
   * Starts a stream; see `ClientSession.play`.
   *
   * @param title The title.
   * @param options The quality, where to start, and the sink's factory.
   * @returns The stream's metadata.
   */
  async play(
    title: string,
    options: { quality: Quality; position?: number; sink: (info: StreamStartMessage) => MediaSink },
  ): Promise<StreamStartMessage> {
    this.#options.requireRegistered();
    const receiver = this.#options.receiver;
    // The "stream-start" handler opens the sink and answers the request, so that no media
    // arriving right behind stream-start is missed.
    receiver.expect(options.sink);
    this.#requesting = true;
    try {
      return await this.#options.ask({
        type: "play",
        id: 0,
        title,
        quality: options.quality,
        ...(options.position === undefined ? {} : { position: options.position }),
      });
    } finally {
      receiver.expect(undefined);
      this.#requesting = false;
    }
  }

  /** Stops the current stream; see `ClientSession.stop`. */
  async stop(): Promise<void> {
    this.#options.receiver.stop();
    try {
      await this.#options.ask({ type: "stop", id: 0 });
    } catch (error) {
      if (!(error instanceof PeerstreamError && error.code === "NOT_PLAYING")) throw error;
      // The stream had already ended on the server.
    }
  }

  /**
   * Changes the quality of the current stream; see `ClientSession.setQuality`.
   *
   * @param quality A height, or `auto`.
   * @param options `position`: the second on screen now.
   * @returns The `stream-seek` of the jump, or null without a position.
   */
  async setQuality(
    quality: Quality,
    options: { position?: number } = {},
  ): Promise<StreamSeekMessage | null> {
    const answer = await this.#options.ask({
      type: "quality",
      id: 0,
      quality,
      ...(options.position === undefined ? {} : { position: options.position }),
    });
    if (answer.type === "stream-seek") return answer;
    if (options.position !== undefined) {
      throw new PeerstreamError(
        "BAD_MESSAGE",
        `The server answered "quality" at a position with "ok", not "stream-seek"; it may be misbehaving or of another version`,
      );
    }
    return null;
  }

  /** Holds the current stream on the server. */
  async pause(): Promise<void> {
    await this.#options.ask({ type: "pause", id: 0 });
  }

  /** Continues a held stream. */
  async resume(): Promise<void> {
    await this.#options.ask({ type: "resume", id: 0 });
  }

  /**
   * Jumps to the segment containing `position`.
   *
   * @param position Seconds from the start of the title.
   * @returns The `stream-seek`.
   */
  async seek(position: number): Promise<StreamSeekMessage> {
    return await this.#options.ask({ type: "seek", id: 0, position });
  }
}
