/**
 * One entry of a room's signed chain (protocol version 3): the entry type, its one canonical
 * encoding, signing and verifying an entry, and its hash. The rules of who may do what, and the
 * state a chain builds, are in `room_chain.ts`.
 *
 * ```
 * bytes  = "peerstream-room-v3\0" ‖ canonical JSON of the entry (keys sorted, no spaces)
 * signed = bytes ‖ 64-byte Ed25519 signature by the author's signKey
 * hash   = SHA-256 of signed, base64; the next entry's `prev`, and the room's fingerprint
 * ```
 * @module
 */

import { PeerstreamError } from "./errors.ts";
import type { Identity, PublicKeysText } from "./e2e.ts";
import { NAME_MAX } from "./messages_checks.ts";

/** What an entry does; see the op table in docs/protocol-v3.md. */
export type RoomOp =
  | "create"
  | "invite"
  | "accept"
  | "decline"
  | "leave"
  | "remove"
  | "handover"
  | "settings";

/** Every {@linkcode RoomOp}. */
export const ROOM_OPS: readonly RoomOp[] = [
  "create",
  "invite",
  "accept",
  "decline",
  "leave",
  "remove",
  "handover",
  "settings",
];

/** A member's two keys pinned in the chain: SHA-256 of each SPKI key, lowercase hex. */
export interface KeyPins {
  /** The RSA-OAEP key's fingerprint. */
  enc: string;
  /** The Ed25519 key's fingerprint. */
  sign: string;
}

/** A room's settings, set by `create` and `settings`. */
export interface RoomSettings {
  /** Who may invite: any member, or the owner only. */
  invite: "members" | "owner";
  /** Who may control shared playback: everyone, or the owner (host) only. */
  control: "all" | "host";
}

/** One entry of a room's chain, as it is signed. */
export interface RoomEntry {
  /** The room id: 16 random bytes, base64url, 22 characters. */
  room: string;
  /** 0 for `create`, then one more per entry. */
  seq: number;
  /** The previous entry's hash (base64); "" for seq 0. */
  prev: string;
  /** Who made and signed it. */
  author: string;
  /** What it does. */
  op: RoomOp;
  /** Whom it concerns: the invitee, the member removed or handed over to; "" when nobody. */
  subject: string;
  /** `create`: the creator's keys; `invite`: the invitee's keys; otherwise null. */
  keys: KeyPins | null;
  /** `create` and `settings`: the settings; otherwise null. */
  settings: RoomSettings | null;
  /** When the author made it, ms since the epoch (for display; never trusted for order). */
  time: number;
}

/** An entry parsed from its signed bytes. */
export interface SignedEntry {
  /** The entry. */
  entry: RoomEntry;
  /** The whole signed entry: canonical bytes then the signature. */
  bytes: Uint8Array<ArrayBuffer>;
  /** The canonical bytes, the part the signature covers. */
  signed: Uint8Array<ArrayBuffer>;
  /** The 64-byte Ed25519 signature. */
  signature: Uint8Array<ArrayBuffer>;
}

/** A parsed entry with its hash: what `applyEntry` (room_chain.ts) takes. */
export interface HashedEntry extends SignedEntry {
  /** SHA-256 of {@linkcode SignedEntry.bytes}, base64. */
  hash: string;
}

/** The context bytes every entry starts with. */
export const ROOM_CONTEXT: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  "peerstream-room-v3\0",
);
/** The largest signed entry, bytes. */
export const MAX_ENTRY_BYTES = 2048;
/** The longest signed entry as base64, characters. */
export const MAX_ENTRY_B64 = Math.ceil(MAX_ENTRY_BYTES / 3) * 4;
/** Bytes of a room id. */
export const ROOM_ID_BYTES = 16;

const SIGNATURE_BYTES = 64;
const ROOM_ID = /^[A-Za-z0-9_-]{22}$/;
const HASH_B64 = /^[A-Za-z0-9+/]{43}=$/;
const HEX64 = /^[0-9a-f]{64}$/;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Whether a value is a room id: 22 base64url characters. */
export function isRoomId(value: unknown): value is string {
  return typeof value === "string" && ROOM_ID.test(value);
}

/** A fresh random room id. */
export function newRoomId(): string {
  return crypto.getRandomValues(new Uint8Array(ROOM_ID_BYTES)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * JSON with object keys sorted at every level and no spaces: one text per value.
 *
 * @param value Plain data: objects, arrays, strings, finite numbers, booleans, null.
 * @returns The canonical JSON text.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The canonical bytes of an entry: the signature covers them.
 *
 * @param entry The entry.
 * @returns The context then the canonical JSON.
 * @throws {TypeError} When the entry's shape is not one {@linkcode parseEntry} takes.
 */
export function encodeEntry(entry: RoomEntry): Uint8Array<ArrayBuffer> {
  checkEntry(entry);
  const json = new TextEncoder().encode(canonicalJson(entry));
  const out = new Uint8Array(ROOM_CONTEXT.length + json.length);
  out.set(ROOM_CONTEXT);
  out.set(json, ROOM_CONTEXT.length);
  return out;
}

/**
 * Signs an entry with the author's identity.
 *
 * @param entry The entry; `author` must be the identity's name.
 * @param identity The author's identity.
 * @returns The signed entry's bytes, as they travel (base64 on the wire).
 * @throws {RangeError} When the signed entry exceeds {@linkcode MAX_ENTRY_BYTES}.
 */
export async function signEntry(
  entry: RoomEntry,
  identity: Identity,
): Promise<Uint8Array<ArrayBuffer>> {
  const signed = encodeEntry(entry);
  if (signed.length + SIGNATURE_BYTES > MAX_ENTRY_BYTES) {
    throw new RangeError(
      `Cannot sign the room entry: ${
        signed.length + SIGNATURE_BYTES
      } bytes exceeds the ${MAX_ENTRY_BYTES}-byte limit`,
    );
  }
  const signature = await crypto.subtle.sign("Ed25519", identity.sign.privateKey, signed);
  const out = new Uint8Array(signed.length + SIGNATURE_BYTES);
  out.set(signed);
  out.set(new Uint8Array(signature), signed.length);
  return out;
}

/**
 * Parses a signed entry, checking every field and that its bytes are the canonical encoding (so
 * that one entry has one hash).
 *
 * @param input The signed entry: bytes, or base64 as on the wire.
 * @returns The entry and its parts.
 * @throws {PeerstreamError} `CHAIN_INVALID` for anything malformed, naming what.
 */
export function parseEntry(input: Uint8Array | string): SignedEntry {
  const bytes = typeof input === "string" ? fromBase64(input) : toBuffer(input);
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw chainInvalid(`${bytes.length} bytes exceeds the ${MAX_ENTRY_BYTES}-byte limit`);
  }
  if (bytes.length < ROOM_CONTEXT.length + SIGNATURE_BYTES + 2) throw chainInvalid("too short");
  for (let i = 0; i < ROOM_CONTEXT.length; i++) {
    if (bytes[i] !== ROOM_CONTEXT[i]) throw chainInvalid("not a peerstream-room-v3 entry");
  }
  const end = bytes.length - SIGNATURE_BYTES;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes.subarray(ROOM_CONTEXT.length, end)));
  } catch (error) {
    throw chainInvalid("its body is not UTF-8 JSON", error);
  }
  try {
    checkEntry(value);
  } catch (error) {
    throw chainInvalid(error instanceof Error ? error.message : String(error), error);
  }
  const entry = value as RoomEntry;
  const signed = bytes.slice(0, end);
  const canonical = encodeEntry(entry);
  if (!sameBytes(canonical, signed)) throw chainInvalid("its JSON is not in canonical form");
  return { entry, bytes, signed, signature: bytes.slice(end) };
}

/**
 * The hash of a signed entry: the next entry's `prev`.
 *
 * @param signed A parsed entry.
 * @returns The entry with its hash, SHA-256 of its signed bytes, base64.
 */
export async function hashEntry(signed: SignedEntry): Promise<HashedEntry> {
  const digest = await crypto.subtle.digest("SHA-256", signed.bytes);
  return { ...signed, hash: new Uint8Array(digest).toBase64() };
}

/**
 * Parses and hashes a signed entry in one step.
 *
 * @param input The signed entry, bytes or base64.
 * @returns The parsed entry and its hash.
 * @throws {PeerstreamError} `CHAIN_INVALID` when it is malformed.
 */
export function readEntry(input: Uint8Array | string): Promise<HashedEntry> {
  return hashEntry(parseEntry(input));
}

/**
 * Checks an entry's signature against a key.
 *
 * @param signed A parsed entry.
 * @param signKey The author's Ed25519 public key, as the checker knows it.
 * @returns Whether the signature is the key's over the entry's canonical bytes.
 */
export async function verifyEntry(signed: SignedEntry, signKey: CryptoKey): Promise<boolean> {
  try {
    return await crypto.subtle.verify("Ed25519", signKey, signed.signature, signed.signed);
  } catch {
    return false;
  }
}

/**
 * The pins of a pair of public keys: SHA-256 of each SPKI key, hex.
 *
 * @param keys Both public keys, SPKI, base64.
 * @returns Their fingerprints, as `invite` and `create` pin them.
 * @throws {PeerstreamError} `KEY_INVALID` when a key is not base64.
 */
export async function keyPins(keys: PublicKeysText): Promise<KeyPins> {
  let enc: Uint8Array<ArrayBuffer>;
  let sign: Uint8Array<ArrayBuffer>;
  try {
    enc = Uint8Array.fromBase64(keys.encKey);
    sign = Uint8Array.fromBase64(keys.signKey);
  } catch (error) {
    throw new PeerstreamError("KEY_INVALID", "Cannot pin keys: a key is not base64", {
      cause: error,
    });
  }
  const [e, s] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc),
    crypto.subtle.digest("SHA-256", sign),
  ]);
  return { enc: new Uint8Array(e).toHex(), sign: new Uint8Array(s).toHex() };
}

/**
 * The error for an entry or chain that is malformed or broken.
 *
 * @param why What is wrong, after "Invalid room entry: ".
 * @param cause The underlying error, if any.
 * @returns A {@linkcode PeerstreamError} with code `CHAIN_INVALID`.
 */
export function chainInvalid(why: string, cause?: unknown): PeerstreamError {
  return new PeerstreamError("CHAIN_INVALID", `Invalid room entry: ${why}`, { cause });
}

const FIELDS = ["author", "keys", "op", "prev", "room", "seq", "settings", "subject", "time"];

/** Checks an entry's shape and the fields each op needs; throws TypeError naming the field. */
function checkEntry(value: unknown): asserts value is RoomEntry {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("expected an object");
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!FIELDS.includes(key)) throw new TypeError(`field "${key.slice(0, 32)}" is not part of it`);
  }
  if (!isRoomId(obj.room)) throw new TypeError(`field "room" is not a room id`);
  if (typeof obj.seq !== "number" || !Number.isInteger(obj.seq) || obj.seq < 0) {
    throw new TypeError(`field "seq" is not a non-negative integer`);
  }
  if (obj.seq > 0xffff_ffff) throw new TypeError(`field "seq" is larger than ${0xffff_ffff}`);
  if (typeof obj.prev !== "string" || !(obj.prev === "" || HASH_B64.test(obj.prev))) {
    throw new TypeError(`field "prev" is not a hash`);
  }
  if ((obj.seq === 0) !== (obj.prev === "")) {
    throw new TypeError(`field "prev" must be empty exactly at seq 0`);
  }
  checkName(obj.author, "author", false);
  if (!ROOM_OPS.includes(obj.op as RoomOp)) throw new TypeError(`field "op" is not a room op`);
  checkName(obj.subject, "subject", true);
  if (typeof obj.time !== "number" || !Number.isSafeInteger(obj.time) || obj.time < 0) {
    throw new TypeError(`field "time" is not a time in ms`);
  }
  checkOpFields(obj as unknown as RoomEntry);
}

function checkOpFields(entry: RoomEntry): void {
  const { op, author, subject } = entry;
  const wantsKeys = op === "create" || op === "invite";
  const wantsSettings = op === "create" || op === "settings";
  if (wantsKeys) checkPins(entry.keys);
  else if (entry.keys !== null) throw new TypeError(`field "keys" must be null for "${op}"`);
  if (wantsSettings) checkSettings(entry.settings);
  else if (entry.settings !== null) {
    throw new TypeError(`field "settings" must be null for "${op}"`);
  }
  if (op === "create" && entry.seq !== 0) throw new TypeError(`"create" must be at seq 0`);
  if (op !== "create" && entry.seq === 0) throw new TypeError(`seq 0 must be "create"`);
  const self = op === "accept" || op === "decline" || op === "leave";
  const nobody = op === "create" || op === "settings";
  if (self && subject !== author) {
    throw new TypeError(`field "subject" must be the author for "${op}"`);
  }
  if (nobody && subject !== "") throw new TypeError(`field "subject" must be empty for "${op}"`);
  if (!self && !nobody && (subject === "" || subject === author)) {
    throw new TypeError(`field "subject" must name someone else for "${op}"`);
  }
}

function checkName(value: unknown, field: string, mayBeEmpty: boolean): void {
  if (typeof value !== "string" || value.length > NAME_MAX) {
    throw new TypeError(`field "${field}" is not a name`);
  }
  if (value === "" && !mayBeEmpty) throw new TypeError(`field "${field}" is empty`);
}

function checkPins(value: unknown): void {
  const obj = value as Record<string, unknown> | null;
  if (
    typeof obj !== "object" || obj === null || Object.keys(obj).length !== 2 ||
    typeof obj.enc !== "string" || !HEX64.test(obj.enc) ||
    typeof obj.sign !== "string" || !HEX64.test(obj.sign)
  ) {
    throw new TypeError(`field "keys" is not two key fingerprints`);
  }
}

function checkSettings(value: unknown): void {
  const obj = value as Record<string, unknown> | null;
  if (
    typeof obj !== "object" || obj === null || Object.keys(obj).length !== 2 ||
    (obj.invite !== "members" && obj.invite !== "owner") ||
    (obj.control !== "all" && obj.control !== "host")
  ) {
    throw new TypeError(`field "settings" is not { invite, control }`);
  }
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (text.length > MAX_ENTRY_B64) {
    throw chainInvalid(`${text.length} base64 characters exceeds the ${MAX_ENTRY_B64} limit`);
  }
  try {
    return Uint8Array.fromBase64(text);
  } catch (error) {
    throw chainInvalid("it is not base64", error);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : bytes.slice();
}
