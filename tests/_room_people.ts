/**
 * Raw protocol people in rooms, for tests of the server's rooms and watching together: a person
 * with a real identity joined over a raw connection, requests answered by id, and a room's chain
 * signed and followed as a client keeps it.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, type Identity } from "../protocol/e2e.ts";
import type { Message, RoomPlaybackMessage } from "../protocol/messages.ts";
import {
  type KeyPins,
  keyPins,
  readEntry,
  type RoomEntry,
  signEntry,
} from "../protocol/room_chain.ts";
import { RawClient } from "./_raw_client.ts";

export const ROOM = "c2VydmVyLXJvb21zLXRlc3";
export const SETTINGS = { invite: "members", control: "all" } as const;

/** A person: a name, an identity, and a raw connection once joined. */
export interface Person {
  name: string;
  identity: Identity;
  client?: RawClient;
}

export async function person(name: string): Promise<Person> {
  return { name, identity: await generateIdentity() };
}

/** Connects and registers (again), replacing the person's connection. */
export async function join(port: number, who: Person): Promise<RawClient> {
  const client = await RawClient.connect(port, { timeoutMs: 30_000 });
  await client.register(who.name, who.identity);
  who.client = client;
  return client;
}

/** Sends `room-*` requests and waits for the answer that names them. */
let nextId = 1;
export async function request(
  who: Person,
  message: Record<string, unknown> & { type: string },
): Promise<Message> {
  const id = nextId++;
  const from = who.client!.messages.length;
  await who.client!.write({ ...message, id } as unknown as Message);
  return await who.client!.next((m) => "re" in m && m.re === id, { from, timeoutMs: 30_000 });
}

/** A room's chain as a client keeps it: what the server accepted, in order. */
export class Chain {
  readonly entries: string[] = [];
  seq = -1;
  head = "";

  /** Signs the next entry by `who` (seq and prev filled in unless given). */
  async sign(
    who: Person,
    fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
    as?: Identity,
  ): Promise<string> {
    const self = fields.op === "accept" || fields.op === "decline" || fields.op === "leave";
    const entry: RoomEntry = {
      room: ROOM,
      seq: this.seq + 1,
      prev: this.head,
      author: who.name,
      subject: self ? who.name : "",
      keys: null,
      settings: null,
      time: Date.now(),
      ...fields,
    };
    return (await signEntry(entry, as ?? who.identity)).toBase64();
  }

  /** Takes an entry the server accepted. */
  async accepted(entry: string): Promise<void> {
    const hashed = await readEntry(entry);
    this.entries.push(entry);
    this.seq = hashed.entry.seq;
    this.head = hashed.hash;
  }
}

export async function pins(who: Person): Promise<KeyPins> {
  return await keyPins(await exportPublicKeys(who.identity));
}

/** Asks for a change and expects it accepted: the answer names the entry, the chain takes it. */
export async function change(chain: Chain, who: Person, entry: string): Promise<void> {
  const answer = await request(who, { type: "room-change", room: ROOM, entry });
  equal(answer.type, "room-entries", JSON.stringify(answer));
  deepEqual(answer.type === "room-entries" && answer.entries, [entry]);
  await chain.accepted(entry);
}

export async function create(chain: Chain, who: Person, name = "club"): Promise<void> {
  const entry = await chain.sign(who, { op: "create", keys: await pins(who), settings: SETTINGS });
  const answer = await request(who, { type: "room-create", name, entry });
  equal(answer.type, "room-entries", JSON.stringify(answer));
  await chain.accepted(entry);
}

export async function invite(chain: Chain, who: Person, subject: Person): Promise<void> {
  await change(
    chain,
    who,
    await chain.sign(who, { op: "invite", subject: subject.name, keys: await pins(subject) }),
  );
}

/** A pushed `room-entries` (no `re`) carrying `entry`, from message index `from` on. */
export function pushed(who: Person, entry: string, from = 0): Promise<Message> {
  return who.client!.next(
    (m) => m.type === "room-entries" && m.re === undefined && m.entries.includes(entry),
    { from, timeoutMs: 30_000 },
  );
}

export function error(answer: Message): { code: string; message: string } {
  ok(answer.type === "error", `expected an error, got ${JSON.stringify(answer)}`);
  return { code: answer.code, message: answer.message };
}

export async function quitAll(...people: Person[]): Promise<void> {
  for (const who of people) {
    who.client?.close();
    await who.client?.done;
  }
}

/** The message as a `room-playback`, or a failed assertion saying what came instead. */
export function playback(answer: Message): RoomPlaybackMessage {
  ok(answer.type === "room-playback", `expected room-playback, got ${JSON.stringify(answer)}`);
  return answer;
}

/** The next pushed `room-playback` (no `re`) of `epoch`, from message index `from` on. */
export async function pushedPlayback(
  who: Person,
  epoch: number,
  from = 0,
): Promise<RoomPlaybackMessage> {
  return playback(
    await who.client!.next(
      (m) => m.type === "room-playback" && m.re === undefined && m.epoch === epoch,
      { from, timeoutMs: 30_000 },
    ),
  );
}

/** A `room-control` for {@linkcode ROOM}, and its answer. */
export async function control(who: Person, fields: Record<string, unknown>): Promise<Message> {
  return await request(who, { type: "room-control", room: ROOM, ...fields });
}
