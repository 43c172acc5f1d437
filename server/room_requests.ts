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
import { sendTimelines } from "./watch_requests.ts";
import type { Pinned, RoomChange } from "./community/rooms.ts";
import type { DispatchContext } from "./dispatch_context.ts";
import type { ServerClient } from "./member.ts";
import { requireRooms, type RoomContext, signPinOf } from "./room_context.ts";

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
 * @param ctx The server's parts; without `rooms` (a server started without them) rooms are
 * refused.
 * @returns A promise while an entry's signature is checked, to await before the next message.
 * @throws {PeerstreamError} The refusal, for the caller to answer.
 */
export function roomRequest(
  client: ServerClient,
  message: RoomRequest,
  ctx: DispatchContext,
): Promise<void> | void {
  const rooms = requireRooms(ctx.rooms, "use rooms");
  switch (message.type) {
    case "room-create":
    case "room-change":
      return changeRoom(client, message, { ctx, rooms });
    case "room-chain": {
      const asker = pinnedClient(client, ctx);
      const entries = rooms.rooms.entries(message.room, { asker, from: message.from });
      client.conn.send({
        type: "room-entries",
        re: message.id,
        room: message.room,
        name: rooms.rooms.get(message.room)!.name,
        entries: entries.slice(0, MAX_ENTRIES_PER_MESSAGE),
      });
      return;
    }
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
  // Applied now, synchronously (or, in a cluster, stored at its seq in Redis first): a change
  // raced to the same seq fails as CHAIN_INVALID.
  const change = rooms.apply === undefined
    ? (message.type === "room-create"
      ? rooms.rooms.create(message.name, checked, now)
      : rooms.rooms.change(checked, now))
    : await rooms.apply((each) =>
      message.type === "room-create"
        ? each.stageCreate(message.name, checked, now)
        : each.stageChange(checked, now)
    );
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
    name: change.name,
    entries: [change.entry],
  });
  pushRoomChange(change, { except: client.name!, ctx, rooms });
  // Someone who has just joined hears what the room plays, if anything.
  if (entry.op === "accept") sendTimelines(client, { rooms, ctx, only: change.room });
}

/**
 * Tells the other members and invitees online here of an accepted change: each one whose name is
 * held by the key the chain pinned for them (not by whoever took the name since). In a cluster
 * each node tells its own, as it applies a change another node stored.
 *
 * @param change The change.
 * @param options Whom not to tell (its author, answered already), the server's parts.
 */
export function pushRoomChange(
  change: RoomChange,
  options: { except: string; ctx: Pick<DispatchContext, "community">; rooms: RoomContext },
): void {
  for (const { name, sign } of change.audience) {
    if (name === options.except || signPinOf(name, options.ctx) !== sign) continue;
    options.rooms.connectionOf(name)?.conn.send({
      type: "room-entries",
      room: change.room,
      name: change.name,
      entries: [change.entry],
    });
  }
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
  const members = rooms.rooms.membersFor(message.room, pinnedClient(client, ctx));
  const answer: RoomSentMessage = {
    type: "room-sent",
    re: message.id,
    room: message.room,
    relayed: [],
    queued: [],
    refused: [],
  };
  for (const [to, pins] of members) {
    if (to === client.name) continue;
    const outcome = sendToMember(client, { message, to, pinned: pins.sign, ctx });
    if ("refused" in outcome) answer.refused.push({ name: to, ...outcome.refused });
    else if (outcome.qseq !== undefined) answer.queued.push({ name: to, qseq: outcome.qseq });
    else answer.relayed.push(to);
  }
  client.conn.send(answer);
}

/** What became of a room message for one member: relayed, queued (`qseq`), or refused. */
type MemberOutcome =
  | { qseq?: number }
  | { refused: { code: RoomSentMessage["refused"][number]["code"]; message: string } };

/** Sends one room message to one member, as the key the room pinned for them holds the name. */
function sendToMember(
  client: ServerClient,
  options: { message: RoomSendMessage; to: string; pinned: string; ctx: DispatchContext },
): MemberOutcome {
  const { message, to, ctx } = options;
  const pin = signPinOf(to, ctx);
  if (pin === undefined) {
    const words = `Not sent to ${quoted(to)}: this server does not know their keys now`;
    return { refused: { code: "UNKNOWN_PEER", message: words } };
  }
  if (pin !== options.pinned) {
    // Someone else holds the name now (an ephemeral name taken again, a released one): what was
    // sent to the member must not reach them, not even sealed.
    const words = `Not sent to ${
      quoted(to)
    }: the name is held by another key than the one the room pinned for them`;
    return { refused: { code: "KEY_CHANGED", message: words } };
  }
  try {
    // One recipient of the one upload: relayed within the fair budgets, or queued if offline.
    const sent = ctx.community.send(client, {
      requestId: message.id,
      to,
      body: message.body,
      room: message.room,
    });
    if (sent?.queued) return { qseq: sent.qseq };
    ctx.stats.relayed++;
    return {};
  } catch (error) {
    if (!(error instanceof PeerstreamError)) throw error;
    // A full queue or inbox refuses this member only: the sender is told, never silently.
    return { refused: { code: error.code, message: error.message } };
  }
}

/**
 * Sends a newly registered client the rooms it is in or invited to (right after `welcome`, before
 * anything queued for it, so that it holds each room's head before a room message arrives); none
 * when it is in no room.
 *
 * @param client The client, just welcomed.
 * @param rooms The server's rooms; nothing is sent without them.
 */
export function sendRoomsList(
  client: ServerClient,
  parts: { rooms: RoomContext | undefined; ctx: DispatchContext },
): void {
  if (parts.rooms === undefined || client.name === undefined) return;
  const rooms = parts.rooms.rooms.roomsOf(pinnedClient(client, parts.ctx));
  // Someone in no room (most people, most joins) gets no frame: nothing follows their welcome.
  if (rooms.length > 0) client.conn.send({ type: "rooms", rooms });
}

/** A registered client as the rooms know people: its name and its signing key's fingerprint. */
function pinnedClient(client: ServerClient, ctx: DispatchContext): Pinned {
  return { name: client.name!, sign: signPinOf(client.name!, ctx) ?? "" };
}
