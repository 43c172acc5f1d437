/**
 * The client's rooms: per room the chain it has checked (every entry verified with the author's
 * key as this client knows it: trust on first use, as for 1:1), the furthest (seq, hash) it has
 * seen (a rollback or a fork makes the room read-only), each change shown in words, and room
 * messages sealed only to the members of the checked chain and opened only against it.
 * It never uses a member list the server sends.
 * @module
 */

import { type ErrorCode, PeerstreamError } from "../../protocol/errors.ts";
import type { RoomEntriesMessage, RoomSummary } from "../../protocol/messages.ts";
import {
  type HashedEntry,
  newRoomId,
  type RoomEntry,
  type RoomSettings,
  type RoomState,
  signEntry,
} from "../../protocol/room_chain.ts";
import { openRoom, type RoomRecipient, sealRoom } from "../../protocol/room_envelope.ts";
import { RoomHistory } from "../../protocol/room_history.ts";
import { MAX_ENTRIES_PER_MESSAGE } from "../../protocol/room_messages.ts";
import type {
  RoomBookOptions,
  RoomCheck,
  RoomMemory,
  RoomSendOutcome,
  RoomView,
} from "./room_book_types.ts";
import { RoomKeyRing } from "./room_keys.ts";
import {
  extendsProblem,
  freshEntries,
  parseSeq,
  type Room,
  roomView,
  usableState,
} from "./room_record.ts";
import { describeEntry, historyProblem, type RoomHigh } from "./room_words.ts";

export type {
  IncomingRoomMessage,
  RoomBookOptions,
  RoomCheck,
  RoomMemory,
  RoomRequests,
  RoomSendOutcome,
  RoomStorage,
  RoomView,
} from "./room_book_types.ts";

/** Most changes shown one by one when a batch arrives; more are summed up in one line. */
export const MAX_CHANGES_SHOWN = 8;

/** The rooms this client is in or invited to. */
export class RoomBook {
  readonly #options: RoomBookOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #memory: RoomMemory;
  readonly #keys: RoomKeyRing;

  /** @param options Who this client is, the keys, the requests, callbacks. */
  constructor(options: RoomBookOptions) {
    this.#options = options;
    this.#keys = new RoomKeyRing(options);
    this.#memory = options.storage?.load() ?? {
      origin: crypto.getRandomValues(new Uint8Array(8)).toHex(),
      rooms: {},
    };
  }

  /** The rooms, as checked. */
  list(): RoomView[] {
    return [...this.#rooms.values()].map((room) => roomView(room));
  }

  /** The display names of the rooms, for Tab. */
  names(): string[] {
    return [...this.#rooms.values()].map((room) => room.name).filter((n) => n !== "");
  }

  /**
   * A room by its display name (with or without `#`).
   *
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`.
   */
  find(name: string): RoomView {
    return roomView(this.#byName(name));
  }

  /** Resolves once the work queued on every room so far is done. */
  get idle(): Promise<void> {
    return Promise.all([...this.#rooms.values()].map((r) => r.queue)).then(() => {});
  }

  /**
   * The `rooms` list after `welcome`: learn names, check each chain from where this client is.
   *
   * @param summaries The rooms the server says this person is in or invited to.
   */
  listed(summaries: readonly RoomSummary[]): void {
    for (const summary of summaries) {
      const room = this.#room(summary.room, summary.name);
      if (room === undefined) continue;
      room.listed = summary.seq;
      this.#background(room, () => this.#sync(room));
    }
  }

  /**
   * `room-entries` pushed by the server (a change by someone else).
   *
   * @param message The push.
   */
  pushed(message: RoomEntriesMessage): void {
    const room = this.#room(message.room, message.name ?? "");
    if (room === undefined) return;
    this.#background(room, () => this.#take(room, message.entries, { fill: true }));
  }

  /**
   * Creates a room: signs its `create` entry and sends it.
   *
   * @param name The display name.
   * @param options `control: "host"` for a room whose shared playback only its owner controls.
   * @returns The room.
   */
  async create(name: string, options: { control?: "all" | "host" } = {}): Promise<RoomView> {
    const self = this.#keys.self();
    const pins = (await this.#keys.own()).pins;
    const id = newRoomId();
    const entry = await signEntry({
      room: id,
      seq: 0,
      prev: "",
      author: self.name,
      op: "create",
      subject: "",
      keys: pins,
      settings: { invite: "members", control: options.control ?? "all" },
      time: Date.now(),
    }, self.identity);
    const answer = await this.#options.requests.create(name, entry.toBase64());
    const room = this.#room(answer.room, name)!;
    await this.#enqueue(room, () => this.#take(room, answer.entries, { fill: false }));
    return roomView(room);
  }

  /**
   * Makes a change to a room as this client: `invite`, `accept`, `decline`, `leave`, `remove`
   * or `handover`.
   *
   * @param roomName The room's display name.
   * @param change The op and, for invite/remove/handover, whom; for `settings` (the owner's), the
   * settings that change (the others are kept).
   * @returns The room after the change.
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`, `NOT_ALLOWED` (read-only, or the op is not
   * yours: checked here before it goes), `KEY_CHANGED`, or the server's refusal.
   */
  async change(
    roomName: string,
    change: {
      op: Exclude<RoomEntry["op"], "create">;
      subject?: string;
      settings?: Partial<RoomSettings>;
    },
  ): Promise<RoomView> {
    const room = this.#byName(roomName);
    return await this.#enqueue(room, async () => {
      const self = this.#keys.self();
      const subject = change.op === "settings" ? "" : change.subject ?? self.name;
      const keys = change.op === "invite" ? (await this.#keys.trusted(subject)).pins : null;
      for (let attempt = 1;; attempt++) {
        const state = usableState(room, change.op);
        const entry = await signEntry({
          room: room.id,
          seq: state.seq + 1,
          prev: state.head,
          author: self.name,
          op: change.op,
          subject,
          keys,
          settings: change.op === "settings" ? { ...state.settings, ...change.settings } : null,
          time: Date.now(),
        }, self.identity);
        try {
          const answer = await this.#options.requests.change(room.id, entry.toBase64());
          await this.#take(room, answer.entries, { fill: false });
          return roomView(room);
        } catch (error) {
          // Someone else's change came first (its push is still on the way): catch up, sign again.
          const raced = error instanceof PeerstreamError && error.code === "CHAIN_INVALID";
          if (!raced || attempt > 1) throw error;
          await this.#sync(room);
        }
      }
    });
  }

  /**
   * Seals a text once for the members of the checked chain and sends it.
   *
   * @param roomName The room's display name.
   * @param text The text.
   * @returns Who got it, who it waits for, who it could not reach.
   */
  async sendText(roomName: string, text: string): Promise<RoomSendOutcome> {
    const room = this.#byName(roomName);
    const { state, body } = await this.#enqueue(room, async () => {
      const state = usableState(room, "send");
      const self = this.#keys.self();
      if (!state.members.has(self.name)) {
        throw new PeerstreamError(
          "NOT_A_MEMBER",
          `Cannot send to #${room.name}: you are not a member; ACCEPT #${room.name} first if invited`,
        );
      }
      const recipients = new Map<string, RoomRecipient>();
      for (const name of state.members.keys()) {
        const keys = name === self.name ? await this.#keys.own() : await this.#keys.trusted(name);
        recipients.set(name, keys);
      }
      const memory = this.#remember(room, state);
      memory.counter++;
      this.#options.storage?.save(this.#memory);
      const body = await sealRoom(text, {
        from: self.name,
        identity: self.identity,
        state,
        recipients,
        origin: Uint8Array.fromHex(this.#memory.origin),
        counter: memory.counter,
      });
      return { state, body };
    });
    return await this.#options.requests.send(state.room, body);
  }

  /**
   * A room message delivered: opened against the checked chain (fetching entries first if it
   * names a later seq), answered with a receipt.
   *
   * @param delivery The relay id, the claimed sender and room, the body, whether it was queued.
   */
  deliver(
    delivery: { rid: string; from: string; room: string; body: Uint8Array; queued: boolean },
  ): void {
    const room = this.#rooms.get(delivery.room) ?? this.#room(delivery.room, "");
    const { rid, from } = delivery;
    const refuse = (code: ErrorCode, text: string) => {
      this.#options.send({ type: "receipt", rid, ok: false, code });
      this.#options.warning?.(text, code, from);
    };
    if (room === undefined) {
      return refuse("ROOM_LIMIT", `Rejected a room message from "${from}": too many rooms`);
    }
    this.#background(room, async () => {
      try {
        await this.#open(room, delivery);
      } catch (error) {
        const code = error instanceof PeerstreamError ? error.code : "DECRYPT_FAILED";
        if (delivery.queued && code === "REPLAYED") {
          this.#options.send({ type: "receipt", rid, ok: true });
          return;
        }
        refuse(code, error instanceof Error ? error.message : String(error));
      }
    });
  }

  async #open(
    room: Room,
    delivery: { rid: string; from: string; room: string; body: Uint8Array; queued: boolean },
  ) {
    const self = this.#keys.self();
    const sender = await this.#options.keys(delivery.from);
    const open = async () =>
      await openRoom(delivery.body, {
        room: room.id,
        from: delivery.from,
        me: self.name,
        identity: self.identity,
        chain: room.history,
        sender: await this.#keys.of(sender),
        replay: this.#options.replay,
      });
    let opened;
    try {
      opened = await open();
    } catch (error) {
      // A seq this client has not checked yet: fetch the chain, then try once more.
      if (!(error instanceof PeerstreamError && error.code === "CHAIN_INVALID")) throw error;
      await this.#sync(room);
      opened = await open();
    }
    this.#options.send({ type: "receipt", rid: delivery.rid, ok: true });
    this.#options.message?.({
      room: room.id,
      roomName: room.name,
      from: opened.from,
      text: opened.text,
      sentAt: opened.sentAt,
      trust: sender.trust,
      ...(delivery.queued ? { queued: true } : {}),
    });
  }

  /**
   * Checks a room again (issue 20): fetches its whole history from entry 0 and checks it afresh.
   * A read-only room becomes usable only if that history extends the one this client checked
   * (every checked entry the same, and at least as far as the furthest point seen before).
   *
   * @param roomName The room's display name.
   * @returns Whether it was read-only, and why it still is, if it is.
   * @throws {PeerstreamError} `ROOM_NOT_FOUND`, or the server's refusal of `room-chain`.
   */
  async check(roomName: string): Promise<RoomCheck> {
    const room = this.#byName(roomName);
    return await this.#enqueue(room, async () => {
      const wasBroken = room.broken !== undefined;
      const entries: string[] = [];
      for (let rounds = 0; rounds < 1000; rounds++) {
        const answer = await this.#options.requests.chain(room.id, entries.length);
        if (answer.room !== room.id) break;
        entries.push(...answer.entries);
        if (answer.entries.length < MAX_ENTRIES_PER_MESSAGE) break;
      }
      const fresh = new RoomHistory(this.#options.limits);
      let still: string | undefined;
      try {
        await fresh.extend(entries, (name) => this.#keys.lookup(name));
        still = extendsProblem(room.history, fresh, this.#memory.rooms[room.id]);
      } catch (error) {
        if (!(error instanceof PeerstreamError)) throw error;
        still = `its history still does not check out: ${error.message}`;
      }
      if (still !== undefined) {
        this.#break(room, still, "CHAIN_INVALID");
        return { room: roomView(room), wasBroken, still };
      }
      const added = fresh.entries.slice(room.history.seq + 1);
      room.history = fresh;
      room.broken = undefined;
      room.listed = Math.max(room.listed ?? -1, fresh.seq);
      this.#show(room, added);
      this.#check(room, true);
      return { room: roomView(room), wasBroken };
    });
  }

  /** Fetches entries after the last checked one until the server has no more. */
  async #sync(room: Room): Promise<void> {
    for (let rounds = 0; rounds < 1000; rounds++) {
      const answer = await this.#options.requests.chain(room.id, room.history.seq + 1);
      if (answer.room !== room.id) break;
      await this.#take(room, answer.entries, { fill: false });
      if (answer.entries.length < MAX_ENTRIES_PER_MESSAGE || room.broken !== undefined) break;
    }
    this.#check(room, true);
  }

  /** Checks and appends entries; shows each change past the furthest point seen before. */
  async #take(room: Room, entries: readonly string[], options: { fill: boolean }) {
    if (room.broken !== undefined || entries.length === 0) return;
    const from = room.history.seq + 1;
    let added: HashedEntry[];
    try {
      const fresh = freshEntries(room.history, entries);
      if (fresh.length === 0) return;
      if (options.fill && parseSeq(fresh[0]) > from) {
        // A push after a gap: fetch what is missing instead.
        return await this.#sync(room);
      }
      added = await room.history.extend(fresh, (name) => this.#keys.lookup(name));
    } catch (error) {
      if (!(error instanceof PeerstreamError)) throw error;
      this.#break(room, `it refused a change the server sent: ${error.message}`, error.code);
      return;
    }
    this.#show(room, added);
    this.#check(room, false);
  }

  /** Shows each change past the furthest point seen before. */
  #show(room: Room, added: readonly HashedEntry[]) {
    const me = this.#options.self()?.name ?? "";
    const seen = this.#memory.rooms[room.id]?.seq ?? -1;
    const view = roomView(room);
    const unseen = added.filter((hashed) => hashed.entry.seq > seen);
    // A long history met for the first time (a room one is invited to) is summed up, not
    // printed line by line: its last changes, which include the invitation, are shown.
    const shown = unseen.slice(-MAX_CHANGES_SHOWN);
    if (unseen.length > shown.length) {
      const earlier = unseen.length - shown.length;
      this.#options.change?.(view, `${earlier} earlier changes; ROOMS lists the members`);
    }
    for (const hashed of shown) {
      const words = describeEntry(hashed.entry, { me, room: room.name });
      this.#options.change?.(view, words, hashed.entry);
    }
  }

  /** Compares with the furthest point seen; remembers a further one. */
  #check(room: Room, complete: boolean) {
    const high = this.#memory.rooms[room.id];
    const problem = historyProblem(high, {
      seq: room.history.seq,
      headAt: (seq) => room.history.stateAt(seq)?.head,
      complete: complete && room.listed !== undefined && room.listed <= room.history.seq,
    });
    if (problem !== undefined) return this.#break(room, problem, "CHAIN_INVALID");
    const state = room.history.state;
    if (state !== undefined && (high === undefined || state.seq > high.seq)) {
      this.#remember(room, state);
      this.#options.storage?.save(this.#memory);
    }
  }

  #remember(room: Room, state: RoomState): RoomHigh & { counter: number } {
    const memory = this.#memory.rooms[room.id] ??= { seq: -1, head: "", counter: 0 };
    if (state.seq > memory.seq) {
      memory.seq = state.seq;
      memory.head = state.head;
    }
    return memory;
  }

  #break(room: Room, why: string, code: ErrorCode) {
    if (room.broken !== undefined) return;
    room.broken = why;
    this.#options.warning?.(
      `Room #${
        room.name || room.id
      } is read-only: ${why}; compare VERIFY #${room.name} with a member, and ROOM CHECK #${room.name} once the server is fixed`,
      code,
    );
  }

  #byName(name: string): Room {
    const wanted = name.startsWith("#") ? name.slice(1) : name;
    for (const room of this.#rooms.values()) if (room.name === wanted) return room;
    throw new PeerstreamError(
      "ROOM_NOT_FOUND",
      `Cannot find room #${wanted}: you are not in it or invited to it; ROOMS lists yours`,
    );
  }

  #room(id: string, name: string): Room | undefined {
    let room = this.#rooms.get(id);
    if (room === undefined) {
      if (this.#rooms.size >= (this.#options.maxRooms ?? 200)) return undefined;
      room = {
        id,
        name,
        history: new RoomHistory(this.#options.limits),
        queue: Promise.resolve(),
      };
      this.#rooms.set(id, room);
    } else if (name !== "" && room.name === "") room.name = name;
    return room;
  }

  /** Runs work on a room after the work before it; the caller gets its result or error. */
  #enqueue<T>(room: Room, work: () => Promise<T>): Promise<T> {
    const run = room.queue.then(work);
    room.queue = run.then(() => {}, () => {});
    return run;
  }

  /** Runs work on a room that nobody awaits: a failure is shown as a warning. */
  #background(room: Room, work: () => Promise<unknown>): void {
    this.#enqueue(room, work).catch((error) => {
      const code = error instanceof PeerstreamError ? error.code : "INTERNAL";
      this.#options.warning?.(
        `Cannot update #${room.name || room.id}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        code,
      );
    });
  }
}
