/**
 * A registered client's room requests (issue 20): `room-create` and `room-change` (the entry
 * checked against the author's registered key, then applied, stored, answered with
 * `room-entries` and pushed to the room's other members and invitees online), `room-chain`, and
 * `room-send`, one sealed upload fanned out to the room's members: relayed to those online,
 * queued for those offline. The `rooms` list after `welcome` is {@linkcode sendRoomsList}.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import type {
  RoomChainMessage,
  RoomChangeMessage,
  RoomCreateMessage,
  RoomSendMessage,
  RoomSentMessage,
} from "../protocol/messages.ts";
import { MAX_ENTRIES_PER_MESSAGE } from "../protocol/room_messages.ts";
import { quoted } from "../protocol/text.ts";
import { checkRoomEntry } from "./community/room_entry_check.ts";
import type { RoomChange, Rooms } from "./community/rooms.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import type { ServerClient } from "./member.ts";

/** The rooms of a server and how to reach their members here. */
export interface RoomContext {
  /** The rooms. */
  readonly rooms: Rooms;
  /** The connection of a name online on this server, if it is. */
  connectionOf(name: string): ServerClient | undefined;
  /** The server's clock, ms. @default {Date.now} */
  now?: () => number;
}

/** A room request. */
export type RoomRequest =
  | RoomCreateMessage
  | RoomChangeMessage
  | RoomChainMessage
  | RoomSendMessage;

/**
 * Handles a room request of a registered client.
 *
 * @param client The client.
 * @param message The request.
 * @param ctx The server's parts; without `rooms` (cluster mode) rooms are refused.
 * @returns A promise while an entry's signature is checked, to await before the next message.
 * @throws {PeerstreamError} The refusal, for the caller to answer.
 */
export function roomRequest(
  client: ServerClient,
  message: RoomRequest,
  ctx: DispatchContext,
): Promise<void> | void {
  const rooms = ctx.rooms;
  if (rooms === undefined) {
    throw new PeerstreamError(
      "UNAVAILABLE",
      "Cannot use rooms: this server runs in a cluster (--redis), where rooms are not built yet; use a single server for rooms",
    );
  }
  switch (message.type) {
    case "room-create":
    case "room-change":
      return changeRoom(client, message, { ctx, rooms });
    case "room-chain":
      client.conn.send({
        type: "room-entries",
        re: message.id,
        room: message.room,
        entries: rooms.rooms.entries(message.room, { asker: client.name!, from: message.from })
          .slice(0, MAX_ENTRIES_PER_MESSAGE),
        ...nameOf(message.room, rooms),
      });
      return;
    case "room-send":
      return roomSend(client, message, { ctx, rooms });
  }
}

async function changeRoom(
  client: ServerClient,
  message: RoomCreateMessage | RoomChangeMessage,
  parts: { ctx: DispatchContext; rooms: RoomContext },
) {
  const { ctx, rooms } = parts;
  const checked = await checkRoomEntry(message.entry, {
    sender: client.name!,
    keysOf: (name) => ctx.community.lookup(name)?.keys,
  });
  if (message.type === "room-change" && checked.hashed.entry.room !== message.room) {
    throw new PeerstreamError(
      "CHAIN_INVALID",
      `Cannot change room ${message.room}: the entry is for room ${checked.hashed.entry.room}`,
    );
  }
  if (client.state !== "registered") return;
  const now = (rooms.now ?? Date.now)();
  // Applied now, synchronously: a change raced to the same seq fails as CHAIN_INVALID.
  const change = message.type === "room-create"
    ? rooms.rooms.create(message.name, checked, now)
    : rooms.rooms.change(checked, now);
  const { entry } = checked.hashed;
  ctx.log.limited(
    client.id,
    `room ${change.room} ${entry.op}${
      entry.subject === "" ? "" : ` ${ctx.log.name(entry.subject)}`
    } by #${client.id} ${ctx.log.name(client.name!)} (seq ${entry.seq})`,
    { event: "room", fields: { op: entry.op } },
  );
  client.conn.send({
    type: "room-entries",
    re: message.id,
    room: change.room,
    entries: [change.entry],
    ...nameOf(change.room, rooms),
  });
  pushChange(change, { except: client.name!, rooms });
}

/** Tells the other members and invitees online of an accepted change. */
function pushChange(change: RoomChange, options: { except: string; rooms: RoomContext }) {
  for (const name of change.audience) {
    if (name === options.except) continue;
    options.rooms.connectionOf(name)?.conn.send({
      type: "room-entries",
      room: change.room,
      entries: [change.entry],
      // An invitee learns the room's name here: no rooms list has named it to them yet.
      ...nameOf(change.room, options.rooms),
    });
  }
}

/** The room's display name, as `room-entries` carries it. */
function nameOf(room: string, rooms: RoomContext): { name?: string } {
  const name = rooms.rooms.get(room)?.name;
  return name === undefined ? {} : { name };
}

function roomSend(
  client: ServerClient,
  message: RoomSendMessage,
  parts: { ctx: DispatchContext; rooms: RoomContext },
) {
  const { ctx, rooms } = parts;
  const { body } = message;
  if (body.length > ctx.limits.maxSealedBytes) {
    throw new PeerstreamError(
      "MESSAGE_TOO_LARGE",
      `Cannot send to room ${
        quoted(rooms.rooms.get(message.room)?.name ?? message.room)
      }: ${body.length} bytes exceeds the ${ctx.limits.maxSealedBytes}-byte limit`,
    );
  }
  const members = rooms.rooms.membersFor(message.room, client.name!);
  const answer: RoomSentMessage = {
    type: "room-sent",
    re: message.id,
    room: message.room,
    relayed: [],
    queued: [],
    refused: [],
  };
  for (const to of members) {
    if (to === client.name) continue;
    try {
      // One recipient of the one upload: relayed within the fair budgets, or queued if offline.
      const sent = ctx.community.send(client, {
        requestId: message.id,
        to,
        body,
        room: message.room,
      });
      if (sent?.queued) {
        answer.queued.push({ name: to, qseq: sent.qseq });
      } else {
        answer.relayed.push(to);
        ctx.stats.relayed++;
      }
    } catch (error) {
      if (!(error instanceof PeerstreamError)) throw error;
      // A full queue or inbox refuses this member only: the sender is told, never silently.
      answer.refused.push({ name: to, code: error.code, message: error.message });
    }
  }
  client.conn.send(answer);
}

/**
 * Sends a newly registered client the rooms it is in or invited to (right after `welcome`, before
 * anything queued for it, so that it holds each room's head before a room message arrives).
 *
 * @param client The client, just welcomed.
 * @param rooms The server's rooms; nothing is sent without them (cluster mode).
 */
export function sendRoomsList(client: ServerClient, rooms: RoomContext | undefined): void {
  if (rooms === undefined || client.name === undefined) return;
  client.conn.send({ type: "rooms", rooms: rooms.rooms.roomsOf(client.name) });
}
