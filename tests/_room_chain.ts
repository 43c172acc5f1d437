/**
 * Support of the `protocol/room_chain_*_test.ts` suites: four people with identities and key pins,
 * entries made and applied as signed by their author, a room created, with Bob invited or a
 * member, and refusals asserted by code and message fragment.
 * @module
 */

import { equal, ok, throws } from "node:assert/strict";
import { exportPublicKeys, generateIdentity, type Identity } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import {
  applyEntry,
  type ApplyOptions,
  type HashedEntry,
  type KeyPins,
  keyPins,
  readEntry,
  type RoomEntry,
  type RoomState,
  signEntry,
} from "../protocol/room_chain.ts";

/** A member with an identity and its key pins. */
export interface Person {
  name: string;
  identity: Identity;
  pins: KeyPins;
}

/** A person named `name` with a fresh identity. */
export async function person(name: string): Promise<Person> {
  const identity = await generateIdentity();
  return { name, identity, pins: await keyPins(await exportPublicKeys(identity)) };
}

/** The four people of the tables, made once. */
export const [alice, bob, carol, dave] = await Promise.all(
  ["alice", "bob", "carol", "dave"].map(person),
);
/** The room the entries are about. */
export const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";

/** An entry by `who`, following `state` (seq and prev filled in) unless fields say otherwise. */
export async function make(
  who: Person,
  state: RoomState | undefined,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
): Promise<HashedEntry> {
  const entry: RoomEntry = {
    room: ROOM,
    seq: state === undefined ? 0 : state.seq + 1,
    prev: state === undefined ? "" : state.head,
    author: who.name,
    subject: "",
    keys: null,
    settings: null,
    time: 1_700_000_000_000,
    ...fields,
  };
  return await readEntry(await signEntry(entry, who.identity));
}

/** Makes an entry and applies it as signed by `who` (the checker verified `who`'s key). */
export async function step(
  who: Person,
  state: RoomState | undefined,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
  options: ApplyOptions = {},
): Promise<RoomState> {
  return applyEntry(state, await make(who, state, fields), { signedBy: who.pins.sign, ...options });
}

/** The room settings of the entries that create one. */
export const SETTINGS = { invite: "members", control: "all" } as const;

/** Alice creates the room. */
export function create(options: ApplyOptions = {}): Promise<RoomState> {
  return step(alice, undefined, { op: "create", keys: alice.pins, settings: SETTINGS }, options);
}

/** Alice's room with Bob invited. */
export async function withBobInvited(): Promise<RoomState> {
  return await step(alice, await create(), { op: "invite", subject: "bob", keys: bob.pins });
}

/** Alice's room with Bob a member. */
export async function withBob(): Promise<RoomState> {
  return await step(bob, await withBobInvited(), { op: "accept", subject: "bob" });
}

/** Asserts `fn` throws a PeerstreamError with `code` and `fragment` in its message. */
export function assertRefused(fn: () => unknown, code: string, fragment: string): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof PeerstreamError, String(error));
    equal(error.code, code, error.message);
    ok(error.message.includes(fragment), `${error.message} lacks ${fragment}`);
    return true;
  });
}

/** Asserts applying `who`'s entry with `fields` to `state` is refused as `want` says. */
export async function refused(
  state: Promise<RoomState> | RoomState | undefined,
  who: Person,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
  want: [string, string],
  options: ApplyOptions = {},
): Promise<void> {
  const before = await state;
  const hashed = await make(who, before, fields);
  assertRefused(
    () => applyEntry(before, hashed, { signedBy: who.pins.sign, ...options }),
    ...want,
  );
}
