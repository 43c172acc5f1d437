/**
 * The room envelope (protocol version 3): one upload per message however many members. The text
 * is encrypted once with a fresh AES-256-GCM key, that key is wrapped with the RSA-OAEP key of
 * every member of the sender's checked chain (the sender included), and the whole is signed with
 * Ed25519. A recipient opens it only if the sender and every wrap are members at the chain seq
 * and head hash it names, as the recipient's own checked chain has them.
 *
 * Layout (all integers big-endian):
 *
 * ```
 * u8 version (3) | u8 kind (2 = room) | 16 room id | u32 chain seq | 32 chain head hash
 * | u8 fromLen | from | 8 origin | u64 counter | f64 sentAt | 16 id
 * | u16 members | members × (u8 nameLen | name | u16 wrappedKeyLen | wrappedKey)
 * | 12 iv | u32 ctLen | ciphertext | 64 Ed25519 signature
 * ```
 *
 * The header (version to id) is the AES-GCM additional data; the signature covers every byte
 * before it.
 * @module
 */

import { concat, type Identity } from "./e2e.ts";
import { u16, u32 } from "./_bytes.ts";
import { PeerstreamError } from "./errors.ts";
import { MAX_SEALED_BYTES, MAX_TEXT_BYTES } from "./messages.ts";
import type { ReplayGuard } from "./replay.ts";
import type { KeyPins, RoomState } from "./room_chain.ts";
import type { RoomKeys } from "./room_history.ts";

const VERSION = 3;
const KIND_ROOM = 2;
const ROOM_BYTES = 16;
const HASH_BYTES = 32;
const ORIGIN_BYTES = 8;
const ID_BYTES = 16;
const IV_BYTES = 12;
const SIGNATURE_BYTES = 64;
const encoder = new TextEncoder();

/** A member's keys as the sender knows them: the RSA-OAEP key to wrap for, and both pins. */
export interface RoomRecipient {
  /** The RSA-OAEP public key. */
  enc: CryptoKey;
  /** The fingerprints of both keys; must be those the chain pins for this member. */
  pins: KeyPins;
}

/** Options for {@linkcode sealRoom}. */
export interface SealRoomOptions {
  /** The sender's name; a member of `state`. */
  from: string;
  /** The sender's identity. */
  identity: Identity;
  /** The sender's checked chain at its head: the message is wrapped for exactly its members. */
  state: RoomState;
  /** Each member's keys as the sender knows them. */
  recipients: ReadonlyMap<string, RoomRecipient>;
  /** This installation's 8 random bytes. */
  origin: Uint8Array;
  /** The per-(origin, room) counter, from 1. */
  counter: number;
  /** When sealed, ms since the epoch. @default {Date.now()} */
  sentAt?: number;
}

/** A room message that was opened and verified. */
export interface OpenedRoomMessage {
  /** The room id. */
  room: string;
  /** The verified sender. */
  from: string;
  /** The text. */
  text: string;
  /** The message id, hex. */
  id: string;
  /** When the sender sealed it, ms. */
  sentAt: number;
  /** The chain seq it was sealed at. */
  seq: number;
  /** The sender's installation, hex. */
  origin: string;
  /** The sender's counter. */
  counter: number;
  /** The members it was wrapped for, in envelope order. */
  members: string[];
}

/**
 * Encrypts a text once for every member of a checked chain, and signs it.
 *
 * @param text The text, at most {@linkcode MAX_TEXT_BYTES} of UTF-8.
 * @param options The sender, the checked state, the members' keys, origin and counter.
 * @returns The envelope: the body of `room-send`.
 * @throws {PeerstreamError} `NOT_A_MEMBER` when the sender is not a member, `KEY_CHANGED` when a
 * member's keys are missing or not those the chain pins, `MESSAGE_TOO_LARGE` for a text or
 * envelope over its limit.
 */
export async function sealRoom(
  text: string,
  options: SealRoomOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const { state, from } = options;
  const plain = encoder.encode(text);
  if (plain.length > MAX_TEXT_BYTES) {
    throw new PeerstreamError(
      "MESSAGE_TOO_LARGE",
      `Cannot send message: ${plain.length} bytes exceeds the ${MAX_TEXT_BYTES}-byte limit; split it`,
    );
  }
  if (!state.members.has(from)) {
    throw new PeerstreamError(
      "NOT_A_MEMBER",
      `Cannot send to room ${state.room}: "${from}" is not a member at ${state.seq}`,
    );
  }
  const wraps: [string, CryptoKey][] = [];
  for (const [name, pins] of state.members) {
    const recipient = options.recipients.get(name);
    if (recipient === undefined || !samePins(recipient.pins, pins)) {
      throw new PeerstreamError(
        "KEY_CHANGED",
        `Cannot send to room ${state.room}: the keys of "${name}" are not those the room pinned; run VERIFY ${name}`,
      );
    }
    wraps.push([name, recipient.enc]);
  }
  const header = encodeHeader(options);
  const aesKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
    "encrypt",
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const [wrapped, ciphertext] = await Promise.all([
    Promise.all(wraps.map(([, key]) => crypto.subtle.wrapKey("raw", aesKey, key, "RSA-OAEP"))),
    crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: header }, aesKey, plain),
  ]);
  const parts: Uint8Array[] = [header, u16(wraps.length)];
  wraps.forEach(([name], i) => {
    const nameBytes = encoder.encode(name);
    parts.push(new Uint8Array([nameBytes.length]), nameBytes, u16(wrapped[i].byteLength));
    parts.push(new Uint8Array(wrapped[i]));
  });
  parts.push(iv, u32(ciphertext.byteLength), new Uint8Array(ciphertext));
  const unsigned = concat(parts);
  if (unsigned.length + SIGNATURE_BYTES > MAX_SEALED_BYTES) {
    throw new PeerstreamError(
      "MESSAGE_TOO_LARGE",
      `Cannot send to room ${state.room}: the envelope for ${wraps.length} members exceeds ${MAX_SEALED_BYTES} bytes; send a shorter text`,
    );
  }
  const signature = await crypto.subtle.sign("Ed25519", options.identity.sign.privateKey, unsigned);
  return concat([unsigned, new Uint8Array(signature)]);
}

/** The checked chain a recipient opens against. */
export interface CheckedChain {
  /** The state right after entry `seq`, or undefined when that seq is not checked. */
  stateAt(seq: number): RoomState | undefined;
}

/** Options for {@linkcode openRoom}. */
export interface OpenRoomOptions {
  /** The room the server says it was sent to. */
  room: string;
  /** The name the server says sent it. */
  from: string;
  /** The recipient's own name. */
  me: string;
  /** The recipient's identity. */
  identity: Identity;
  /** The recipient's checked chain of the room. */
  chain: CheckedChain;
  /** The sender's keys as the recipient knows them. */
  sender: RoomKeys;
  /** Rejects replays. */
  replay: ReplayGuard;
  /** The current time, ms. @default {Date.now()} */
  now?: number;
}

/**
 * Verifies and decrypts a room envelope: the signature by the sender's pinned key, the sender and
 * every wrap members at the named seq with the named head hash, the recipient's own wrap, then
 * replay, then decryption.
 *
 * @param envelope The body of a room `deliver`.
 * @param options The claimed room and sender, the recipient, its checked chain and keys.
 * @returns The verified message.
 * @throws {PeerstreamError} `BAD_MESSAGE` (malformed), `CHAIN_INVALID` (a seq this client has not
 * checked, or another head there: fetch the chain, or show it unverifiable), `NOT_A_MEMBER` (the
 * sender or a wrap is not a member there, or no wrap is for the recipient), `BAD_SIGNATURE`,
 * `REPLAYED`, `DECRYPT_FAILED`.
 */
export async function openRoom(
  envelope: Uint8Array,
  options: OpenRoomOptions,
): Promise<OpenedRoomMessage> {
  const p = parseRoomEnvelope(envelope);
  const label = `a message in room ${options.room} from "${options.from}"`;
  if (p.room !== options.room || p.from !== options.from) {
    throw new PeerstreamError(
      "BAD_SIGNATURE",
      `Rejected ${label}: it was sealed as from "${p.from}" in room ${p.room}`,
    );
  }
  const state = options.chain.stateAt(p.seq);
  if (state === undefined || state.head !== p.head) {
    throw new PeerstreamError(
      "CHAIN_INVALID",
      `Rejected ${label}: it names room entry ${p.seq} ${
        state === undefined ? "which this client has not checked" : "with another history"
      }; fetch the room's chain`,
    );
  }
  checkMembers(p, state, label);
  const pinned = state.members.get(p.from)!;
  if (options.sender.pins.sign !== pinned.sign) {
    throw new PeerstreamError(
      "BAD_SIGNATURE",
      `Rejected ${label}: their key is not the one the room pinned; run VERIFY ${p.from}`,
    );
  }
  if (!await crypto.subtle.verify("Ed25519", options.sender.sign, p.signature, p.signed)) {
    throw new PeerstreamError("BAD_SIGNATURE", `Rejected ${label}: the signature does not match`);
  }
  const mine = p.wraps.find((w) => w.name === options.me);
  if (mine === undefined) {
    throw new PeerstreamError("NOT_A_MEMBER", `Rejected ${label}: it is not wrapped for you`);
  }
  options.replay.check(p.id, p.sentAt, options.now ?? Date.now());
  const text = await decrypt(p, mine.key, options.identity, label);
  return {
    room: p.room,
    from: p.from,
    text,
    id: p.id,
    sentAt: p.sentAt,
    seq: p.seq,
    origin: p.origin,
    counter: p.counter,
    members: p.wraps.map((w) => w.name),
  };
}

/** The sender and the wraps must be exactly the members at the named seq. */
function checkMembers(p: ParsedRoomEnvelope, state: RoomState, label: string): void {
  if (!state.members.has(p.from)) {
    throw new PeerstreamError(
      "NOT_A_MEMBER",
      `Rejected ${label}: "${p.from}" is not a member at room entry ${p.seq}`,
    );
  }
  const names = new Set(p.wraps.map((w) => w.name));
  for (const name of names) {
    if (!state.members.has(name)) {
      throw new PeerstreamError(
        "NOT_A_MEMBER",
        `Rejected ${label}: it is wrapped for "${name}", who is not a member at room entry ${p.seq}`,
      );
    }
  }
  if (names.size !== p.wraps.length || names.size !== state.members.size) {
    throw new PeerstreamError(
      "NOT_A_MEMBER",
      `Rejected ${label}: its wraps are not exactly the ${state.members.size} members at room entry ${p.seq}`,
    );
  }
}

async function decrypt(
  p: ParsedRoomEnvelope,
  wrapped: Uint8Array<ArrayBuffer>,
  identity: Identity,
  label: string,
): Promise<string> {
  let plain: ArrayBuffer;
  try {
    const aesKey = await crypto.subtle.unwrapKey(
      "raw",
      wrapped,
      identity.enc.privateKey,
      { name: "RSA-OAEP" },
      { name: "AES-GCM" },
      false,
      ["decrypt"],
    );
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: p.iv, additionalData: p.header },
      aesKey,
      p.ciphertext,
    );
  } catch (error) {
    throw new PeerstreamError(
      "DECRYPT_FAILED",
      `Rejected ${label}: it cannot be decrypted with your key`,
      { cause: error },
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch (error) {
    throw new PeerstreamError("BAD_MESSAGE", `Rejected ${label}: its text is not UTF-8`, {
      cause: error,
    });
  }
}

function encodeHeader(options: SealRoomOptions): Uint8Array<ArrayBuffer> {
  const room = Uint8Array.fromBase64(options.state.room, { alphabet: "base64url" });
  const head = Uint8Array.fromBase64(options.state.head);
  const from = encoder.encode(options.from);
  if (from.length > 255) throw new RangeError("Name longer than 255 bytes");
  if (options.origin.length !== ORIGIN_BYTES) {
    throw new RangeError(`Cannot seal: the origin is not ${ORIGIN_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(options.counter) || options.counter < 1) {
    throw new RangeError("Cannot seal: the counter is not a whole number from 1");
  }
  const fixed = new Uint8Array(8 + 8);
  const view = new DataView(fixed.buffer);
  view.setBigUint64(0, BigInt(options.counter));
  view.setFloat64(8, options.sentAt ?? Date.now());
  return concat([
    new Uint8Array([VERSION, KIND_ROOM]),
    room,
    u32(options.state.seq),
    head,
    new Uint8Array([from.length]),
    from,
    options.origin,
    fixed,
    crypto.getRandomValues(new Uint8Array(ID_BYTES)),
  ]);
}

/** A room envelope's parts, as {@linkcode parseRoomEnvelope} reads them. */
export interface ParsedRoomEnvelope {
  /** Room id, base64url. */
  room: string;
  /** Chain seq. */
  seq: number;
  /** Chain head hash, base64. */
  head: string;
  /** Sender. */
  from: string;
  /** Origin, hex. */
  origin: string;
  /** Counter. */
  counter: number;
  /** Sent at, ms. */
  sentAt: number;
  /** Id, hex. */
  id: string;
  /** The wrapped keys, by member name. */
  wraps: { name: string; key: Uint8Array<ArrayBuffer> }[];
  /** The AES-GCM additional data. */
  header: Uint8Array<ArrayBuffer>;
  /** The IV. */
  iv: Uint8Array<ArrayBuffer>;
  /** The ciphertext. */
  ciphertext: Uint8Array<ArrayBuffer>;
  /** Every byte the signature covers. */
  signed: Uint8Array<ArrayBuffer>;
  /** The signature. */
  signature: Uint8Array<ArrayBuffer>;
}

/**
 * Reads a room envelope's parts without checking anything but its layout (a server may use it
 * to read the room and seq; a test to see whose wraps a body carries).
 *
 * @param input The envelope.
 * @returns Its parts (copies).
 * @throws {PeerstreamError} `BAD_MESSAGE` when the layout is wrong.
 */
export function parseRoomEnvelope(input: Uint8Array): ParsedRoomEnvelope {
  const bytes = input.slice();
  const view = new DataView(bytes.buffer);
  let at = 0;
  const take = (n: number, what: string) => {
    if (at + n > bytes.length) {
      throw new PeerstreamError("BAD_MESSAGE", `Rejected a room message: malformed (${what})`);
    }
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const [version, kind] = take(2, "version");
  if (version !== VERSION || kind !== KIND_ROOM) {
    throw new PeerstreamError(
      "BAD_MESSAGE",
      `Rejected a room message: version ${version} kind ${kind} is not a version-3 room envelope`,
    );
  }
  const room = take(ROOM_BYTES, "room").toBase64({ alphabet: "base64url", omitPadding: true });
  const seq = view.getUint32(take(4, "seq").byteOffset);
  const head = take(HASH_BYTES, "head").toBase64();
  const from = utf8(take(take(1, "sender")[0], "sender"));
  const origin = take(ORIGIN_BYTES, "origin").toHex();
  const times = take(16, "counter").byteOffset;
  const counter = Number(view.getBigUint64(times));
  const sentAt = view.getFloat64(times + 8);
  const id = take(ID_BYTES, "id").toHex();
  const header = bytes.slice(0, at);
  const count = view.getUint16(take(2, "members").byteOffset);
  const wraps: { name: string; key: Uint8Array<ArrayBuffer> }[] = [];
  for (let i = 0; i < count; i++) {
    const name = utf8(take(take(1, "member")[0], "member"));
    const keyLength = view.getUint16(take(2, "wrapped key").byteOffset);
    wraps.push({ name, key: take(keyLength, "wrapped key").slice() });
  }
  const iv = take(IV_BYTES, "iv").slice();
  const ctLength = view.getUint32(take(4, "ciphertext").byteOffset);
  const ciphertext = take(ctLength, "ciphertext").slice();
  if (bytes.length - at !== SIGNATURE_BYTES) {
    throw new PeerstreamError("BAD_MESSAGE", "Rejected a room message: malformed (signature)");
  }
  return {
    room,
    seq,
    head,
    from,
    origin,
    counter,
    sentAt,
    id,
    wraps,
    header,
    iv,
    ciphertext,
    signed: bytes.slice(0, at),
    signature: bytes.slice(at),
  };
}

function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new PeerstreamError("BAD_MESSAGE", "Rejected a room message: a name is not UTF-8", {
      cause: error,
    });
  }
}

function samePins(a: KeyPins, b: KeyPins): boolean {
  return a.enc === b.enc && a.sign === b.sign;
}
