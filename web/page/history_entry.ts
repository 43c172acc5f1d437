/**
 * One line of the conversation as this browser keeps it, and its sealing at rest: AES-GCM-256
 * under a non-extractable key, with the owner's name bound as additional data. Pure WebCrypto, no
 * IndexedDB (that is `history_store.ts`), so it is tested in Deno.
 * @module
 */

import type { KeyTrust } from "../../client/known_peers.ts";

/** One line of the conversation. */
export interface HistoryEntry {
  /** `in` from a peer, `out` to a peer; in a room, `change` for a membership change. */
  dir: "in" | "out" | "change";
  /** The other side; in a room, the sender (`in`) or nobody (`out`, `change`). */
  peer: string;
  /** The room's id, for a line of a room's chat; absent for 1:1. */
  room?: string;
  /** The text. */
  text: string;
  /** When it was sent, ms since the epoch. */
  at: number;
  /** For `in`: trust in the sender's key when it arrived. */
  trust?: KeyTrust;
  /** For `in`: a known peer whose name the sender's looked like. */
  lookalike?: string;
  /** For `out`: `delivered`, or the code it failed with. */
  state?: string;
}

const TRUSTS: readonly string[] = ["new", "known", "verified", "changed"];

/**
 * Reads an entry back, checking every field: what is stored may be from an older page or damaged.
 *
 * @param value The decrypted, parsed JSON.
 * @returns The entry, or undefined when it is not one.
 */
export function parseEntry(value: unknown): HistoryEntry | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { dir, peer, text, at, trust, lookalike, state, room } = value as Record<string, unknown>;
  if (dir !== "in" && dir !== "out" && dir !== "change") return undefined;
  if (room !== undefined && typeof room !== "string") return undefined;
  if (dir === "change" && room === undefined) return undefined;
  if (typeof peer !== "string" || typeof text !== "string") return undefined;
  if (typeof at !== "number" || !Number.isFinite(at)) return undefined;
  const entry: HistoryEntry = { dir, peer, text, at };
  if (typeof trust === "string" && TRUSTS.includes(trust)) entry.trust = trust as KeyTrust;
  if (typeof lookalike === "string") entry.lookalike = lookalike;
  if (typeof state === "string") entry.state = state;
  if (typeof room === "string") entry.room = room;
  return entry;
}

/** An entry as stored: the IV and the ciphertext, and whose conversation it is. */
export interface SealedEntry {
  /** The name of the person of this browser (not secret: it is the store's index). */
  name: string;
  /** The AES-GCM IV, 12 random bytes. */
  iv: Uint8Array<ArrayBuffer>;
  /** The AES-GCM ciphertext of the entry's JSON, with its tag. */
  data: ArrayBuffer;
}

/**
 * Makes a history key: AES-GCM-256, non-extractable.
 *
 * @returns The key.
 */
export function generateHistoryKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
}

/**
 * Seals an entry. The name is bound as additional data, so a record moved to another name's
 * conversation does not open.
 *
 * @param key The history key.
 * @param name Whose conversation.
 * @param entry The entry.
 * @returns The record to store.
 */
export async function sealEntry(
  key: CryptoKey,
  name: string,
  entry: HistoryEntry,
): Promise<SealedEntry> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = new TextEncoder().encode(JSON.stringify(entry));
  const additionalData = new TextEncoder().encode(name);
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData }, key, plain);
  return { name, iv, data };
}

/**
 * Opens a stored record.
 *
 * @param key The history key.
 * @param record What was stored.
 * @returns The entry, or undefined when it does not open (another key, tampered, not a record).
 */
export async function openEntry(
  key: CryptoKey,
  record: unknown,
): Promise<HistoryEntry | undefined> {
  if (typeof record !== "object" || record === null) return undefined;
  const { name, iv, data } = record as Record<string, unknown>;
  if (typeof name !== "string" || !(iv instanceof Uint8Array) || !(data instanceof ArrayBuffer)) {
    return undefined;
  }
  try {
    const additionalData = new TextEncoder().encode(name);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: new Uint8Array(iv), additionalData },
      key,
      data,
    );
    return parseEntry(JSON.parse(new TextDecoder().decode(plain)));
  } catch {
    return undefined;
  }
}
