/**
 * The rooms of one server (protocol version 3, issue 20): each room's chain of signed membership
 * entries, append-only and persisted through a {@linkcode RoomStorage}, the state
 * `applyEntry` (protocol/room_chain.ts) derives from it, who is in or invited to which room, and
 * the server's limits. The server cannot write an entry: it checks what it can of each one
 * (`room_entry_check.ts`: parse, author, signature by the author's registered key, pinned keys),
 * then this module applies it to the room's state (seq and `prev` continuity, the op allowed to
 * its author) within the limits (`room_index.ts` keeps the bounds across rooms), stores it, and
 * says whom to tell. Pure: the storage is an interface and the time is given.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { normalizeName } from "../../protocol/names.ts";
import { escapeControls, quoted } from "../../protocol/text.ts";
import { applyEntry, type KeyPins, readEntry, type RoomState } from "../../protocol/room_chain.ts";
import { MAX_ROOMS_LISTED, type RoomSummary } from "../../protocol/room_messages.ts";
import type { RoomRecord, RoomStorage } from "./room_store.ts";
import { audienceOf, pinOf } from "./room_members.ts";
import { RoomIndex } from "./room_index.ts";
import {
  type CheckedEntry,
  type Pinned,
  ROOM_DEFAULTS,
  ROOM_ENTRIES_ANSWER_BYTES,
  type RoomChange,
  type RoomServerLimits,
  type StagedChange,
} from "./room_types.ts";

// Every limit and shape of room_types.ts, where importers of this module find them.
export * from "./room_types.ts";

interface Room {
  name: string;
  state: RoomState;
  /** Signed entries, base64 as on the wire, by seq. */
  entries: string[];
}

/**
 * Every room of a server, loaded from its storage. Requests that change a room are checked first
 * (an await for the signature), then {@linkcode Rooms.create} and {@linkcode Rooms.change} apply
 * them synchronously, so that two changes raced to one seq are told apart: the second fails as
 * `CHAIN_INVALID`.
 */
export class Rooms {
  readonly #rooms = new Map<string, Room>();
  readonly #storage: RoomStorage;
  readonly #limits: RoomServerLimits;
  /** Names, who is in which room, creations and bytes: the bounds across rooms. */
  readonly #index: RoomIndex;

  private constructor(storage: RoomStorage, limits: RoomServerLimits) {
    this.#storage = storage;
    this.#limits = limits;
    this.#index = new RoomIndex(limits, (id) => this.#rooms.get(id)!.name);
  }

  /**
   * Loads every room its storage holds. The storage is the server's own: entries are replayed
   * through `applyEntry` (continuity and the op table), with the signatures taken as they were
   * checked when stored.
   *
   * @param storage Where rooms persist.
   * @param limits The bounds; missing fields take {@linkcode ROOM_DEFAULTS}.
   * @returns The rooms.
   * @throws {PeerstreamError} `INTERNAL` when a stored chain does not check.
   */
  static async open(storage: RoomStorage, limits: Partial<RoomServerLimits> = {}): Promise<Rooms> {
    const rooms = new Rooms(storage, { ...ROOM_DEFAULTS, ...limits });
    for (const [id, records] of storage.load()) await rooms.#load(id, records);
    return rooms;
  }

  async #load(id: string, records: RoomRecord[]) {
    for (const record of records) {
      try {
        await this.#replay(id, record);
      } catch (error) {
        throw new PeerstreamError(
          "INTERNAL",
          `Cannot load room "${id}": its entry ${
            this.#rooms.get(id)?.entries.length ?? 0
          } does not check (${
            error instanceof Error ? error.message : String(error)
          }); move its file away to drop that room`,
          { cause: error },
        );
      }
    }
  }

  /**
   * Applies entries another cluster node stored (read back from the shared storage, checked when
   * that node stored them) after the room's head here, in order.
   *
   * @param id The room id.
   * @param records The records that follow the room's head here (a new room's from its `create`).
   * @returns One change per entry: whom to tell here.
   * @throws {PeerstreamError} `CHAIN_INVALID` (or the op table's code) when a record does not
   * follow the head; the entries before it are applied.
   */
  async learn(id: string, records: RoomRecord[]): Promise<RoomChange[]> {
    const out: RoomChange[] = [];
    for (const record of records) out.push(await this.#replay(id, record));
    return out;
  }

  /** Replays one stored record onto its room (the signature was checked when it was stored). */
  async #replay(id: string, record: RoomRecord): Promise<RoomChange> {
    const text = record.entry.toBase64();
    const hashed = await readEntry(record.entry);
    let room = this.#rooms.get(id);
    // The signature was verified when the entry was stored: the key it pins is the signer.
    const signedBy = room === undefined
      ? hashed.entry.keys?.sign
      : room.state.invitees.get(hashed.entry.author)?.keys.sign ??
        room.state.members.get(hashed.entry.author)?.sign;
    // Limits that tightened since keep what was stored.
    const state = applyEntry(room?.state, hashed, { signedBy, maxMembers: Infinity });
    const before = room?.state;
    if (room === undefined) {
      room = { name: record.name ?? id, state, entries: [] };
      this.#rooms.set(id, room);
      this.#index.addRoom(id, room.name, state);
      if (record.key !== undefined) this.#index.created(record.key, record.at);
    } else {
      this.#index.reindex(id, before, state);
    }
    room.state = state;
    room.entries.push(text);
    this.#index.addBytes(text);
    return { room: id, name: room.name, entry: text, audience: audienceOf(before, state) };
  }

  /** How many rooms there are. */
  get size(): number {
    return this.#rooms.size;
  }

  /**
   * A room's state.
   *
   * @param room The room id.
   * @returns Its state and name, or undefined when there is no such room.
   */
  get(room: string): { name: string; state: RoomState } | undefined {
    const found = this.#rooms.get(room);
    return found === undefined ? undefined : { name: found.name, state: found.state };
  }

  /**
   * The room a member may send to: its members and their pinned keys.
   *
   * @param room The room id.
   * @param sender The sender, with the fingerprint of the signing key they registered with.
   * @returns The members, in the order they joined, with their pins.
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`, or `NOT_A_MEMBER` when the sender is not a member
   * with that key.
   */
  membersFor(room: string, sender: Pinned): ReadonlyMap<string, KeyPins> {
    const state = this.#require(room, "send").state;
    if (state.members.get(sender.name)?.sign !== sender.sign) {
      throw new PeerstreamError(
        "NOT_A_MEMBER",
        `Cannot send to room ${quoted(this.#label(room))}: you are not a member${
          state.members.has(sender.name) ? " with this key" : ""
        }; ask a member to INVITE you`,
      );
    }
    return state.members;
  }

  /**
   * Creates a room from its checked `create` entry.
   *
   * @param rawName The display name asked for.
   * @param checked The entry, checked.
   * @param now The server's time, ms.
   * @returns The change: the entry and whom to tell (the creator).
   * @throws {PeerstreamError} `NAME_INVALID`, `NAME_TAKEN`, `NAME_CONFUSABLE`, `ROOM_LIMIT`, or
   * `CHAIN_INVALID` / `NOT_ALLOWED` from the chain's rules (an id in use, not a `create`).
   */
  create(rawName: string, checked: CheckedEntry, now: number): RoomChange {
    const staged = this.stageCreate(rawName, checked, now);
    this.#storage.append(staged.room, staged.record);
    return staged.commit();
  }

  /**
   * Checks a room's `create` entry as {@linkcode Rooms.create} does, without storing or applying
   * it: the caller stores the record (cluster mode: at its seq in Redis), then commits.
   *
   * @param rawName The display name asked for.
   * @param checked The entry, checked.
   * @param now The server's time, ms.
   * @returns The staged change.
   * @throws {PeerstreamError} As {@linkcode Rooms.create}.
   */
  stageCreate(rawName: string, checked: CheckedEntry, now: number): StagedChange {
    const { entry } = checked.hashed;
    const name = roomName(rawName);
    if (this.#rooms.has(entry.room)) {
      throw new PeerstreamError(
        "CHAIN_INVALID",
        `Cannot create room ${
          quoted(name)
        }: the id ${entry.room} is in use; choose a new random id`,
      );
    }
    this.#index.checkName(name);
    const state = applyEntry(undefined, checked.hashed, this.#applyOptions(checked));
    this.#index.checkRoomsOf(entry.author, "create a room");
    const created = this.#index.checkCreates(checked.signKey, name, now);
    const text = checked.hashed.bytes.toBase64();
    this.#index.checkTotal(text, `create room ${quoted(name)}`);
    const record: RoomRecord = { at: now, entry: checked.hashed.bytes, name, key: checked.signKey };
    return this.#staged(entry.room, record, () => {
      created();
      this.#rooms.set(entry.room, { name, state, entries: [text] });
      this.#index.addBytes(text);
      this.#index.addRoom(entry.room, name, state);
      return {
        room: entry.room,
        name,
        entry: text,
        audience: [{ name: entry.author, sign: checked.signedBy }],
      };
    });
  }

  /** A staged change: committed only while the room's head is still the one it was checked at. */
  #staged(id: string, record: RoomRecord, apply: () => RoomChange): StagedChange {
    const seq = this.count(id);
    return {
      room: id,
      seq,
      record,
      commit: () => {
        if (this.count(id) !== seq) {
          throw new PeerstreamError(
            "CHAIN_INVALID",
            `Cannot change room ${
              quoted(this.#label(id))
            }: another change took seq ${seq} first; fetch the chain and sign again`,
          );
        }
        return apply();
      },
    };
  }

  /**
   * How many entries a room holds here (the seq its next entry takes).
   *
   * @param room The room id.
   * @returns The count; 0 for a room not known here.
   */
  count(room: string): number {
    return this.#rooms.get(room)?.entries.length ?? 0;
  }

  /**
   * Applies a checked entry to its room, within the limits, and stores it.
   *
   * @param checked The entry, checked.
   * @param now The server's time, ms.
   * @returns The change: the entry and whom to tell.
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`, `ROOM_LIMIT`, or the chain's `CHAIN_INVALID`,
   * `NOT_A_MEMBER`, `NOT_ALLOWED`.
   */
  change(checked: CheckedEntry, now: number): RoomChange {
    const staged = this.stageChange(checked, now);
    this.#storage.append(staged.room, staged.record);
    return staged.commit();
  }

  /**
   * Checks an entry as {@linkcode Rooms.change} does, without storing or applying it: the caller
   * stores the record (cluster mode: at its seq in Redis), then commits.
   *
   * @param checked The entry, checked.
   * @param now The server's time, ms.
   * @returns The staged change.
   * @throws {PeerstreamError} As {@linkcode Rooms.change}.
   */
  stageChange(checked: CheckedEntry, now: number): StagedChange {
    const { entry } = checked.hashed;
    const room = this.#require(entry.room, entry.op);
    const state = applyEntry(room.state, checked.hashed, this.#applyOptions(checked));
    if (entry.op === "accept") this.#index.checkRoomsOf(entry.author, `join ${quoted(room.name)}`);
    if (entry.op === "invite") this.#index.checkInvites(entry.subject, room.name);
    const text = checked.hashed.bytes.toBase64();
    this.#index.checkTotal(text, `${entry.op} in ${quoted(room.name)}`);
    return this.#staged(entry.room, { at: now, entry: checked.hashed.bytes }, () => {
      const audience = audienceOf(room.state, state);
      this.#index.reindex(entry.room, room.state, state);
      room.state = state;
      room.entries.push(text);
      this.#index.addBytes(text);
      return { room: entry.room, name: room.name, entry: text, audience };
    });
  }

  /**
   * A room's entries from a seq on, for a member or an invitee, at most
   * {@linkcode ROOM_ENTRIES_ANSWER_BYTES} of them (at least one): the asker asks again from the
   * next seq for the rest.
   *
   * @param room The room id.
   * @param options Who asks (with their signing key's fingerprint), and the first seq wanted.
   * @returns The entries, base64, in order (none when `from` is past the head).
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`, or `NOT_A_MEMBER` for anyone else.
   */
  entries(room: string, options: { asker: Pinned; from: number }): string[] {
    const found = this.#require(room, "read");
    const { state } = found;
    if (pinOf(state, options.asker.name) !== options.asker.sign) {
      throw new PeerstreamError(
        "NOT_A_MEMBER",
        `Cannot read room ${quoted(this.#label(room))}: you are neither a member nor invited`,
      );
    }
    const out: string[] = [];
    let bytes = 0;
    for (let seq = options.from; seq < found.entries.length; seq++) {
      const text = found.entries[seq];
      if (out.length > 0 && bytes + text.length > ROOM_ENTRIES_ANSWER_BYTES) break;
      out.push(text);
      bytes += text.length;
    }
    return out;
  }

  /**
   * The rooms a person is a member of or invited to, with the key the chain pinned for them, for
   * the `rooms` list after `welcome`.
   *
   * @param person The person, with their signing key's fingerprint.
   * @returns One summary per room.
   */
  roomsOf(person: Pinned): RoomSummary[] {
    const out: RoomSummary[] = [];
    for (const id of this.#index.roomsOf(person.name)) {
      const { name, state } = this.#rooms.get(id)!;
      if (pinOf(state, person.name) !== person.sign) continue;
      // Within what one `rooms` message lists (limits raised through PEERSTREAM_LIMITS aside).
      if (out.length === MAX_ROOMS_LISTED) break;
      out.push({ room: id, name, seq: state.seq, head: state.head });
    }
    return out;
  }

  #applyOptions(checked: CheckedEntry) {
    return {
      signedBy: checked.signedBy,
      maxMembers: this.#limits.maxMembers,
      maxEntries: this.#limits.maxEntries,
    };
  }

  #require(room: string, action: string): Room {
    const found = this.#rooms.get(room);
    if (found === undefined) {
      throw new PeerstreamError(
        "ROOM_NOT_FOUND",
        `Cannot ${action} in room ${room}: no such room on this server; run ROOMS to see yours`,
      );
    }
    return found;
  }

  /** A room's name for a message, or its id when there is no such room. */
  #label(room: string): string {
    return this.#rooms.get(room)?.name ?? room;
  }
}

/**
 * A room's display name, with the rules of a peer name.
 *
 * @param raw The name asked for.
 * @returns The normalized name.
 * @throws {PeerstreamError} `NAME_INVALID`, the name rules' words.
 */
export function roomName(raw: string): string {
  try {
    return normalizeName(raw);
  } catch (error) {
    // The rule's message repeats the name: it goes to a log and a terminal, so escape it.
    const why = error instanceof Error ? error.message : String(error);
    throw new PeerstreamError(
      "NAME_INVALID",
      escapeControls(why.replace(/^Invalid name/, "Invalid room name")),
      { cause: error },
    );
  }
}
