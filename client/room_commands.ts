/**
 * The terminal's room commands: `ROOM CREATE`, `ROOMS`, `INVITE`, `ACCEPT #room`, `DECLINE`,
 * `LEAVE`, `REMOVE`, `HANDOVER`, `ROOM CONTROL` (who controls playback) and `MESSAGE #room`, run against the client's rooms. Split from
 * `handler.ts`, which hands these commands here.
 * @module
 */

import { formatFingerprint } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import { showName } from "../protocol/shown_name.ts";
import type { Command } from "./commands.ts";
import type { HandlerIo, HandlerRooms } from "./handler.ts";
import { isConnectionLost, type RoomView } from "./session.ts";
import { safe, type Style } from "./render.ts";
import { type RoomReceipts, roomSentLines } from "./room_receipts.ts";

/** What a room command needs. */
export interface RoomCommandContext {
  /** Input and output. */
  io: HandlerIo;
  /** The rooms; undefined when the session has none. */
  rooms: HandlerRooms | undefined;
  /** Colours. */
  style: Style;
  /** This client's name. */
  me: string;
  /** Prints an error. */
  error(message: string): void;
  /** Sums up members' receipts of room messages; without it, none are shown. */
  receipts?: RoomReceipts;
}

/** The room commands. */
export type RoomCommand = Extract<
  Command,
  {
    kind:
      | "room-create"
      | "room-change"
      | "rooms"
      | "room-verify"
      | "room-check"
      | "room-message"
      | "room-control";
  }
>;

/**
 * Runs one room command.
 *
 * @param command The parsed command.
 * @param ctx The rooms, input and output.
 * @returns True (the client carries on); false at the end of input at a prompt.
 * @throws {PeerstreamError} A refusal, for the handler to print.
 */
export async function roomCommand(command: RoomCommand, ctx: RoomCommandContext): Promise<boolean> {
  const rooms = ctx.rooms;
  if (rooms === undefined) {
    throw new PeerstreamError("UNAVAILABLE", "Cannot use rooms: this client has none");
  }
  switch (command.kind) {
    case "rooms":
      showRooms(rooms.list(), ctx);
      return true;
    case "room-create": {
      const room = await rooms.create(command.room);
      ctx.io.print(
        `* created #${safe(room.name)}; INVITE #${safe(room.name)} <peer> to add people`,
      );
      return true;
    }
    case "room-change": {
      const room = await rooms.change(command.room, {
        op: command.op,
        ...(command.peer === undefined ? {} : { subject: command.peer }),
      });
      // The change itself is shown in words as the chain accepts it (roomChange events).
      if (command.op === "leave") ctx.io.print(`* you left #${safe(room.name)}`);
      return true;
    }
    case "room-message":
      return await roomMessage(command.room, command.text, ctx);
    case "room-control":
      // The change is shown in words as the chain accepts it (roomChange events).
      await rooms.change(command.room, { op: "settings", settings: { control: command.control } });
      return true;
    case "room-verify": {
      const room = rooms.find(command.room);
      ctx.io.print(
        `#${safe(room.name)} at entry ${room.seq}: ${formatFingerprint(toHex(room.head))}`,
      );
      ctx.io.print(
        room.broken === undefined
          ? `Compare it with a member out of band: the same fingerprint at the same entry is the same history`
          : `READ-ONLY: ${safe(room.broken)}`,
      );
      if (room.broken !== undefined) {
        ctx.io.print(
          `Once the server is fixed, ROOM CHECK #${safe(room.name)} fetches its history again`,
        );
      }
      return true;
    }
    case "room-check":
      return await roomCheck(command.room, ctx);
  }
}

async function roomCheck(name: string, ctx: RoomCommandContext): Promise<boolean> {
  const checked = await ctx.rooms!.check(name);
  const room = `#${safe(checked.room.name)}`;
  if (checked.still !== undefined) {
    throw new PeerstreamError(
      "CHAIN_INVALID",
      `Cannot use ${room} again: checked from entry 0, ${checked.still}; compare VERIFY ${room} with a member`,
    );
  }
  ctx.io.print(
    `* ${room}: checked again from entry 0: ${
      checked.wasBroken
        ? `the server's history extends the one you checked (entry ${checked.room.seq}); you can send again`
        : `its history checks out (entry ${checked.room.seq})`
    }`,
  );
  return true;
}

async function roomMessage(
  room: string,
  text: string | undefined,
  ctx: RoomCommandContext,
): Promise<boolean> {
  const rooms = ctx.rooms!;
  const view = rooms.find(room);
  if (text === undefined) {
    const answer = await ctx.io.read(`#${view.name} message: `);
    if (answer === null) return false;
    text = answer;
  }
  if (text.trim() === "") {
    ctx.error(`Cannot send to #${safe(view.name)}: the message is empty; type some text`);
    return true;
  }
  rooms.sendText(view.name, text).then(
    (sent) => {
      const { lines, errors } = roomSentLines(view.name, sent);
      for (const line of lines) ctx.io.print(ctx.style.dim(line));
      for (const error of errors) ctx.error(error);
      for (const line of ctx.receipts?.sent(view.name, sent, performance.now()) ?? []) {
        ctx.io.print(ctx.style.dim(line));
      }
    },
    (error) => {
      if (!isConnectionLost(error)) ctx.error((error as Error).message);
    },
  );
  return true;
}

function showRooms(list: readonly RoomView[], ctx: RoomCommandContext) {
  if (list.length === 0) {
    ctx.io.print("You are in no room; ROOM CREATE <name> makes one");
    return;
  }
  for (const room of list) {
    const role = room.members.includes(ctx.me)
      ? room.owner === ctx.me ? "owner" : "member"
      : room.invitees.includes(ctx.me)
      ? `invited; ACCEPT #${safe(room.name)} or DECLINE #${safe(room.name)}`
      : "not a member";
    const names = room.members.map((m) =>
      m === room.owner ? `${showName(m)} (owner)` : showName(m)
    );
    const invited = room.invitees.length > 0
      ? `; invited: ${room.invitees.map(showName).join(", ")}`
      : "";
    ctx.io.print(`#${safe(room.name)} (${role}): ${names.join(", ")}${invited}`);
    ctx.io.print(
      ctx.style.dim(
        `  entry ${room.seq}, fingerprint ${formatFingerprint(toHex(room.head), 4)}${
          room.broken === undefined ? "" : `; READ-ONLY: ${safe(room.broken)}`
        }`,
      ),
    );
  }
}

function toHex(base64: string): string {
  try {
    return Uint8Array.fromBase64(base64).toHex();
  } catch {
    return "";
  }
}
