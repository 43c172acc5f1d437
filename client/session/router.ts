/**
 * Where each message the server sends goes: the session's parts take the typed messages of
 * `protocol/messages.ts` and nothing else of each other; this is the one place that routes them
 * (answers to the request table, media and stream control to the stream receiver, deliveries to
 * the inbox, announcements to the roster).
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import {
  type ErrorMessage,
  isServerMessage,
  type Message,
  type ServerMessage,
  type StreamStartMessage,
} from "../../protocol/messages.ts";
import type { Connection } from "./connection.ts";
import type { SessionEvents } from "./events.ts";
import type { Inbox } from "./inbox.ts";
import type { KeyCache } from "./keys.ts";
import type { RequestTable } from "./requests.ts";
import type { QueuedRoomSends } from "./room_queued.ts";
import type { RoomBook } from "./rooms.ts";
import type { Roster } from "./roster.ts";
import type { StreamReceiver } from "./stream_receiver.ts";

/** The parts of a session that messages are routed to. */
export interface SessionParts {
  /** The user's callbacks. */
  events: SessionEvents;
  /** Requests waiting for answers. */
  requests: RequestTable;
  /** Peers' keys. */
  keys: KeyCache;
  /** Delivered messages. */
  inbox: Inbox;
  /** The current stream. */
  receiver: StreamReceiver;
  /** Registration and peers. */
  roster: Roster;
  /** Rooms. */
  rooms: RoomBook;
  /** Room messages queued for members, so their later receipts count as the room message's. */
  roomQueued: QueuedRoomSends;
  /** The connection (a function: messages that came with the greeting are routed before it is kept). */
  connection(): Connection;
}

/** A queued message's receipt: a room member's, or a 1:1 message's. */
function queuedReceipt(to: string, qseq: number, parts: SessionParts) {
  const re = parts.roomQueued.take(to, qseq);
  if (re === undefined) parts.events.queueNotice?.("delivered", to, qseq);
  else parts.events.roomDelivered?.(re, to);
}

/**
 * Hands a message to the part it is for, at once; nothing here waits (opening a message runs on
 * the side). A message only clients send is reported and ignored.
 *
 * @param message A message the server sent.
 * @param parts The session's parts.
 */
export function routeMessage(message: Message, parts: SessionParts): void {
  if (isServerMessage(message)) return handle(message, parts);
  parts.events.warning?.(
    `The server sent "${message.type}", which only clients send; ignoring it`,
    "BAD_MESSAGE",
  );
}

function handle(message: ServerMessage, parts: SessionParts) {
  switch (message.type) {
    case "media":
      return parts.receiver.media(message.streamId, message.data);
    case "segment":
      if (parts.receiver.segment(message)) parts.events.segment?.(message);
      return;
    case "stream-seek": {
      // A jump only as the answer to this client's seek or quality.
      const type = parts.requests.typeOf(message.re);
      if (type === "seek" || type === "quality") parts.receiver.seek(message);
      return answer(message.re, message, parts);
    }
    case "stream-end":
      if (parts.receiver.streamEnd(message)) parts.events.streamEnd?.(message);
      if (message.re !== undefined) answer(message.re, message, parts);
      return;
    case "stream-start":
      return streamStart(message, parts);
    default:
      return handleOther(message, parts);
  }
}

function handleOther(message: ServerMessage, parts: SessionParts) {
  switch (message.type) {
    case "welcome":
      return parts.roster.welcomed(message);
    case "joined":
      return parts.roster.joined(message.name);
    case "left":
      parts.keys.forget(message.name);
      return parts.roster.left(message.name, message.reason);
    case "peer-state":
      return parts.roster.peerState(message.names, message.state);
    case "deliver":
      if (message.room !== undefined) {
        return parts.rooms.deliver({
          ...message,
          room: message.room,
          queued: message.queued === true,
        });
      }
      return parts.inbox.deliver(message.rid, message.from, message.body, message.queued === true);
    case "rooms":
      parts.rooms.listed(message.rooms);
      return parts.events.roomsListed?.();
    case "room-entries":
      // An answer to this client's request, or a push of someone else's change.
      if (message.re === undefined) return parts.rooms.pushed(message);
      return answer(message.re, message, parts);
    case "room-sent":
      // Kept before the answer is handed on: a queued member's receipt may follow at once.
      for (const queued of message.queued) parts.roomQueued.add(message.re, queued);
      return answer(message.re, message, parts);
    case "queued":
      // In a cluster a room member on another node is listed under `relayed`; that they were
      // offline follows with the room-send's id, which room-sent answered already (issue 20).
      if (!parts.requests.answer(message.re, message)) {
        parts.roomQueued.add(message.re, { name: message.to, qseq: message.qseq });
        parts.events.roomQueued?.(message.re, message.to, message.qseq);
      }
      return;
    case "delivered":
      // A queued message's confirmation answers no request of this connection.
      if (message.qseq === undefined) {
        // One already answered is a room member's receipt: room-sent came first.
        if (!parts.requests.answer(message.re, message)) {
          parts.events.roomDelivered?.(message.re, message.to);
        }
        return;
      }
      return queuedReceipt(message.to, message.qseq, parts);
    case "expired":
      parts.roomQueued.take(message.to, message.qseq);
      parts.events.queueNotice?.("expired", message.to, message.qseq);
      return;
    case "error":
      return error(message, parts);
    case "room-playback":
      // The answer to this client's own room-control is the room's new timeline too.
      if (message.re !== undefined) answer(message.re, message, parts);
      return parts.events.roomPlayback?.(message);
    case "shutdown":
      parts.connection().expectEnd();
      parts.events.shutdown?.(message.message);
      return;
    case "ping":
      parts.connection().send({ type: "pong", id: message.id });
      return;
    case "server-hello":
    case "pong":
      return;
    default:
      if ("re" in message && typeof message.re === "number") answer(message.re, message, parts);
  }
}

/** A `stream-start`: only as the answer to this client's own play request. */
function streamStart(message: StreamStartMessage, parts: SessionParts) {
  if (!parts.receiver.expecting || parts.requests.typeOf(message.re) !== "play") return;
  const failure = parts.receiver.start(message);
  if (failure === undefined) answer(message.re, message, parts);
  else parts.requests.fail(message.re, failure);
}

function error(message: ErrorMessage, parts: SessionParts) {
  const failure = new PeerstreamError(message.code, message.message);
  if (message.re !== undefined && parts.requests.fail(message.re, failure)) return;
  if (!parts.roster.fail(failure)) parts.events.serverError?.(message.code, message.message);
}

function answer(re: number, message: ServerMessage, parts: SessionParts) {
  // A `play` refused while its title was being prepared is answered again once it is ready.
  if (!parts.requests.answer(re, message) && message.type === "videos") {
    parts.events.videos?.(message.videos);
  }
}
