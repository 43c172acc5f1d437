/**
 * The session's room book wired to the session: its room requests sent through the request
 * table, its changes and messages raised as {@linkcode SessionEvents}.
 * @module
 */

import type { ClientMessage } from "../../protocol/messages.ts";
import type { ReplayGuard } from "../../protocol/replay.ts";
import type { SessionEvents } from "./events.ts";
import type { InboxSelf } from "./inbox.ts";
import type { TrustedKeys } from "./keys.ts";
import type { AnswerTo, RequestMessage } from "./requests.ts";
import { RoomBook, type RoomRequests, type RoomStorage } from "./rooms.ts";

/** Sends a request and resolves with its checked answer (the session's `#request`). */
export type Ask = <M extends RequestMessage>(message: M) => Promise<AnswerTo<M["type"]>>;

/** What the session gives its room book. */
export interface SessionRoomsOptions {
  /** Who this client is; undefined before registration. */
  self(): InboxSelf | undefined;
  /** A peer's keys (the key cache). */
  keys(name: string): Promise<TrustedKeys>;
  /** Sends a request through the request table. */
  ask: Ask;
  /** Sends a receipt. */
  send(message: ClientMessage): void;
  /** The replay guard shared with 1:1 messages. */
  replay: ReplayGuard;
  /** Where the furthest points seen persist. */
  storage?: RoomStorage;
  /** The session's callbacks. */
  events: SessionEvents;
  /** Shows a warning. */
  warning: NonNullable<SessionEvents["warning"]>;
}

/** The session's room book. */
export function sessionRooms(options: SessionRoomsOptions): RoomBook {
  const { events } = options;
  return new RoomBook({
    self: options.self,
    keys: options.keys,
    requests: roomRequests(options.ask),
    send: options.send,
    replay: options.replay,
    storage: options.storage,
    change: (room, words, entry) => events.roomChange?.(room, words, entry),
    message: (message) => events.roomMessage?.(message),
    warning: options.warning,
  });
}

/** The room requests over `ask`, answers reshaped for the room book. */
export function roomRequests(ask: Ask): RoomRequests {
  return {
    create: (name, entry) => ask({ type: "room-create", id: 0, name, entry }),
    change: (room, entry) => ask({ type: "room-change", id: 0, room, entry }),
    chain: (room, from) => ask({ type: "room-chain", id: 0, room, from }),
    send: async (room, body) => {
      const sent = await ask({ type: "room-send", id: 0, room, body });
      return {
        re: sent.re,
        relayed: sent.relayed,
        queued: sent.queued.map((q) => q.name),
        refused: sent.refused.map((r) => ({ name: r.name, message: r.message })),
      };
    },
  };
}
