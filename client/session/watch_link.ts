/**
 * The session's requests for watching together (issue 21): the server's clock (`time` →
 * `time-is`) and a room's shared playback (`room-control` → `room-playback`), a room named as
 * the person types it. What comes back unasked (`room-playback` pushes) is routed to
 * `SessionEvents.roomPlayback` by `router.ts`.
 * @module
 */

import type {
  RoomControlMessage,
  RoomPlaybackMessage,
  WatchAction,
} from "../../protocol/messages.ts";
import type { RoomView } from "./room_book_types.ts";
import type { AnswerTo, RequestMessage } from "./requests.ts";

/** Options for {@linkcode WatchLink}. */
export interface WatchLinkOptions {
  /** Sends a request and waits for its answer. */
  ask<M extends RequestMessage>(message: M): Promise<AnswerTo<M["type"]>>;
  /** A room by its display name (`ROOM_NOT_FOUND` when this client has none so named). */
  find(name: string): RoomView;
}

/** The watch requests of one session. */
export class WatchLink {
  readonly #options: WatchLinkOptions;

  /** @param options How to ask, and how to find a room. */
  constructor(options: WatchLinkOptions) {
    this.#options = options;
  }

  /**
   * Asks the server's clock.
   *
   * @returns The server's time when it read the request, ms since the epoch.
   */
  async time(): Promise<number> {
    return (await this.#options.ask({ type: "time", id: 0 })).server;
  }

  /**
   * Changes a room's shared playback.
   *
   * @param room The room's display name (with or without `#`).
   * @param action `play`, `pause`, `resume`, `seek` or `stop`.
   * @param options The title (`play`), the position (`seek`, optionally `play`).
   * @returns The room's new timeline.
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`, `NOT_A_MEMBER`, `NOT_ALLOWED` (a host-only room),
   * `VIDEO_NOT_FOUND`, `VIDEO_NOT_READY`, `BAD_MESSAGE`.
   */
  async control(
    room: string,
    action: WatchAction,
    options: { title?: string; position?: number } = {},
  ): Promise<RoomPlaybackMessage> {
    const message: RoomControlMessage = {
      type: "room-control",
      id: 0,
      room: this.#options.find(room).id,
      action,
      ...(options.title === undefined ? {} : { title: options.title }),
      ...(options.position === undefined ? {} : { position: options.position }),
    };
    return await this.#options.ask(message);
  }
}
