/**
 * Room messages as `RoomBook` sends and receives them: a text sealed once for the members of the
 * checked chain (each member's keys as this client trusts them, a counter that never repeats for
 * this client's origin), and a delivered message opened only against the checked chain (the chain
 * fetched first when the message names a later seq), answered with a receipt. It never uses a
 * member list the server sends. The room's queue and its refusals stay in `rooms.ts`.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { RoomState } from "../../protocol/room_chain.ts";
import { openRoom, type RoomRecipient, sealRoom } from "../../protocol/room_envelope.ts";
import type { RoomBookOptions } from "./room_book_types.ts";
import type { RoomKeyRing } from "./room_keys.ts";
import { type Room, usableState } from "./room_record.ts";

/** A room message the server delivered. */
export interface RoomDelivery {
  /** The relay id, for the receipt. */
  rid: string;
  /** The sender, as the server claims. */
  from: string;
  /** The room id, as the server claims. */
  room: string;
  /** The sealed envelope. */
  body: Uint8Array;
  /** Whether it waited in the sender's offline queue. */
  queued: boolean;
}

/** Options for {@linkcode RoomMail}. */
export interface RoomMailOptions
  extends Pick<RoomBookOptions, "keys" | "send" | "replay" | "message"> {
  /** The keys rooms check and seal with. */
  ring: RoomKeyRing;
  /** The next message counter for a room at a state (remembered and saved before it is used). */
  counter(room: Room, state: RoomState): number;
  /** This client's origin, random once per client storage. */
  origin(): Uint8Array;
  /** Fetches a room's entries after the last checked one. */
  sync(room: Room): Promise<void>;
}

/** Seals and opens the messages of one client's rooms. */
export class RoomMail {
  readonly #options: RoomMailOptions;

  /** @param options The keys, the counter, the origin, and where receipts and messages go. */
  constructor(options: RoomMailOptions) {
    this.#options = options;
  }

  /**
   * Seals a text once for the members of a room's checked chain.
   *
   * @param room The room.
   * @param text The text.
   * @returns The state it was sealed at and the envelope.
   * @throws {PeerstreamError} `NOT_ALLOWED` (read-only), `NOT_A_MEMBER`, `KEY_CHANGED`.
   */
  async seal(room: Room, text: string): Promise<{ state: RoomState; body: Uint8Array }> {
    const { ring } = this.#options;
    const state = usableState(room, "send");
    const self = ring.self();
    if (!state.members.has(self.name)) {
      throw new PeerstreamError(
        "NOT_A_MEMBER",
        `Cannot send to #${room.name}: you are not a member; ACCEPT #${room.name} first if invited`,
      );
    }
    const recipients = new Map<string, RoomRecipient>();
    for (const name of state.members.keys()) {
      recipients.set(name, name === self.name ? await ring.own() : await ring.trusted(name));
    }
    const body = await sealRoom(text, {
      from: self.name,
      identity: self.identity,
      state,
      recipients,
      origin: this.#options.origin(),
      counter: this.#options.counter(room, state),
    });
    return { state, body };
  }

  /**
   * Opens a delivered message against the room's checked chain, then confirms it and hands it on.
   *
   * @param room The room it claims.
   * @param delivery The delivery.
   * @throws {PeerstreamError} The envelope's refusal (`CHAIN_INVALID` after a fetch, `REPLAYED`,
   * `DECRYPT_FAILED`, …); the caller refuses it with a receipt.
   */
  async open(room: Room, delivery: RoomDelivery): Promise<void> {
    const { ring } = this.#options;
    const self = ring.self();
    const sender = await this.#options.keys(delivery.from);
    const open = async () =>
      await openRoom(delivery.body, {
        room: room.id,
        from: delivery.from,
        me: self.name,
        identity: self.identity,
        chain: room.history,
        sender: await ring.of(sender),
        replay: this.#options.replay,
      });
    let opened;
    try {
      opened = await open();
    } catch (error) {
      // A seq this client has not checked yet: fetch the chain, then try once more.
      if (!(error instanceof PeerstreamError && error.code === "CHAIN_INVALID")) throw error;
      await this.#options.sync(room);
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
}
