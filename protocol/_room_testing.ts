/**
 * Test fixtures for rooms: people with real keys, and a room built entry by entry through a
 * {@linkcode RoomHistory}, as a client checks it. Used by the room tests only.
 * @module
 */

import { exportPublicKeys, generateIdentity, type Identity } from "./e2e.ts";
import { type RoomEntry, signEntry } from "./room_chain.ts";
import type { RoomRecipient } from "./room_envelope.ts";
import { RoomHistory, type RoomKeyLookup, type RoomKeys, roomKeys } from "./room_history.ts";

/** A person with real keys. */
export interface Person {
  /** The name. */
  name: string;
  /** The identity. */
  identity: Identity;
  /** Their signing key and pins, as others know them. */
  keys: RoomKeys;
  /** What a sender wraps for them. */
  recipient: RoomRecipient;
}

/** Makes people with fresh identities. */
export async function people(...names: string[]): Promise<Person[]> {
  return await Promise.all(names.map(async (name) => {
    const identity = await generateIdentity();
    const keys = await roomKeys(await exportPublicKeys(identity));
    return { name, identity, keys, recipient: { enc: identity.enc.publicKey, pins: keys.pins } };
  }));
}

/** A lookup that knows exactly these people. */
export function lookupOf(known: readonly Person[]): RoomKeyLookup {
  const map = new Map(known.map((p) => [p.name, p.keys]));
  return (name) => Promise.resolve(map.get(name));
}

/** The recipients map of these people. */
export function recipientsOf(known: readonly Person[]): Map<string, RoomRecipient> {
  return new Map(known.map((p) => [p.name, p.recipient]));
}

/** The fixed room id of the fixtures. */
export const TEST_ROOM = "AAAAAAAAAAAAAAAAAAAAAA";

/**
 * Signs the next entry of a history by `who` (seq and prev filled in from it).
 *
 * @param history The chain so far.
 * @param who The author.
 * @param fields The op and whatever else differs from the defaults.
 * @returns The signed entry, base64.
 */
export async function nextEntry(
  history: RoomHistory,
  who: Person,
  fields: Partial<RoomEntry> & Pick<RoomEntry, "op">,
): Promise<string> {
  const state = history.state;
  const entry: RoomEntry = {
    room: TEST_ROOM,
    seq: history.seq + 1,
    prev: state?.head ?? "",
    author: who.name,
    subject: ["accept", "decline", "leave"].includes(fields.op) ? who.name : "",
    keys: fields.op === "create" ? who.keys.pins : null,
    settings: fields.op === "create" ? { invite: "members", control: "all" } : null,
    time: 1_700_000_000_000 + history.seq + 1,
    ...fields,
  };
  return (await signEntry(entry, who.identity)).toBase64();
}

/** One step of {@linkcode buildRoom}: who does what to whom. */
export type Step = [Person, RoomEntry["op"], Person?];

/**
 * Builds a checked room from steps such as `[alice, "invite", bob]`, `[bob, "accept"]`.
 *
 * @param steps The steps; the first is normally `[owner, "create"]`.
 * @param lookup How the checker knows the authors' keys.
 * @returns The history and the signed entries, base64, in order.
 */
export async function buildRoom(
  steps: readonly Step[],
  lookup: RoomKeyLookup,
): Promise<{ history: RoomHistory; entries: string[] }> {
  const history = new RoomHistory();
  const entries: string[] = [];
  for (const [who, op, subject] of steps) {
    const fields: Partial<RoomEntry> & Pick<RoomEntry, "op"> = { op };
    if (subject !== undefined) fields.subject = subject.name;
    if (op === "invite") fields.keys = subject!.keys.pins;
    const entry = await nextEntry(history, who, fields);
    await history.extend([entry], lookup);
    entries.push(entry);
  }
  return { history, entries };
}
