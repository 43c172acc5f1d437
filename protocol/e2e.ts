/**
 * End-to-end encryption of peer messages with the built-in WebCrypto.
 *
 * Each identity has an RSA-OAEP-2048/SHA-256 key pair (to receive) and an Ed25519 key pair (to
 * sign). A message is sealed with a fresh AES-256-GCM key, that key is wrapped with the
 * recipient's RSA-OAEP key (RSA alone would cap a message at 190 bytes), and the whole envelope is
 * signed by the sender. The server relays the envelope as opaque bytes.
 *
 * Envelope layout (all integers big-endian):
 *
 * ```
 * u8 version (1) | u8 fromLen | from | u8 toLen | to | 16 id | f64 sentAt (ms)
 * | u16 wrappedKeyLen | wrappedKey | 12 iv | u32 ctLen | ciphertext | 64 Ed25519 signature
 * ```
 *
 * The header (version to sentAt) is the AES-GCM additional data, and the signature covers every
 * byte before it.
 * @module
 */

import { u16, u32 } from "./_bytes.ts";
import { PeerstreamError } from "./errors.ts";
import { MAX_TEXT_BYTES } from "./messages.ts";
import type { ReplayGuard } from "./replay.ts";

export {
  ReplayGuard,
  type ReplayGuardOptions,
  type ReplayState,
  type ReplayStorage,
} from "./replay.ts";

const ENVELOPE_VERSION = 1;
const ID_BYTES = 16;
const IV_BYTES = 12;
const SIGNATURE_BYTES = 64;
const AUTH_CONTEXT = new TextEncoder().encode("peerstream-auth-v2\0");

/** RSA-OAEP parameters for key generation. */
const RSA_PARAMS: RsaHashedKeyGenParams = {
  name: "RSA-OAEP",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
};

/** A user's own key pairs. */
export interface Identity {
  /** RSA-OAEP key pair: others wrap message keys with its public half. */
  enc: CryptoKeyPair;
  /** Ed25519 key pair: signs messages and the login challenge. */
  sign: CryptoKeyPair;
}

/** Public keys as they travel: SPKI, base64. */
export interface PublicKeysText {
  /** RSA-OAEP public key. */
  encKey: string;
  /** Ed25519 public key. */
  signKey: string;
}

/** A peer's imported public keys. */
export interface PeerKeys {
  /** RSA-OAEP public key, to wrap message keys. */
  enc: CryptoKey;
  /** Ed25519 public key, to verify signatures. */
  sign: CryptoKey;
  /** SHA-256 of both SPKI keys, hex; see {@linkcode formatFingerprint}. */
  fingerprint: string;
}

/** A message that was opened and verified. */
export interface OpenedMessage {
  /** The verified sender. */
  from: string;
  /** The text. */
  text: string;
  /** The message id, hex. */
  id: string;
  /** When the sender sealed it, ms since the epoch. */
  sentAt: number;
}

/**
 * Generates a new identity. Keys are extractable so that they can be saved.
 *
 * @returns The RSA-OAEP and Ed25519 key pairs.
 */
export async function generateIdentity(): Promise<Identity> {
  const [enc, sign] = await Promise.all([
    crypto.subtle.generateKey(RSA_PARAMS, true, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]),
    crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as Promise<
      CryptoKeyPair
    >,
  ]);
  return { enc, sign };
}

/**
 * Exports an identity's public keys for the wire.
 *
 * @param identity The identity.
 * @returns Both public keys, SPKI, base64.
 */
export async function exportPublicKeys(identity: Identity): Promise<PublicKeysText> {
  const [enc, sign] = await Promise.all([
    crypto.subtle.exportKey("spki", identity.enc.publicKey),
    crypto.subtle.exportKey("spki", identity.sign.publicKey),
  ]);
  return { encKey: new Uint8Array(enc).toBase64(), signKey: new Uint8Array(sign).toBase64() };
}

/**
 * Imports a peer's public keys and computes their fingerprint.
 *
 * @param keys The keys as they came from the server.
 * @returns The usable keys.
 * @throws {PeerstreamError} `KEY_INVALID` when a key cannot be imported.
 */
export async function importPeerKeys(keys: PublicKeysText): Promise<PeerKeys> {
  try {
    const encBytes = Uint8Array.fromBase64(keys.encKey);
    const signBytes = Uint8Array.fromBase64(keys.signKey);
    const [enc, sign, digest] = await Promise.all([
      crypto.subtle.importKey("spki", encBytes, { name: "RSA-OAEP", hash: "SHA-256" }, true, [
        "encrypt",
        "wrapKey",
      ]),
      crypto.subtle.importKey("spki", signBytes, { name: "Ed25519" }, true, ["verify"]),
      crypto.subtle.digest("SHA-256", concat([encBytes, signBytes])),
    ]);
    const algorithm = enc.algorithm as RsaHashedKeyAlgorithm;
    if (algorithm.modulusLength < 2048) {
      throw new RangeError(`RSA key of ${algorithm.modulusLength} bits is shorter than 2048`);
    }
    return { enc, sign, fingerprint: new Uint8Array(digest).toHex() };
  } catch (error) {
    throw new PeerstreamError(
      "KEY_INVALID",
      `Cannot import public keys: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/**
 * Formats a fingerprint for people: groups of four hex digits.
 *
 * @param fingerprint Hex digits.
 * @param groups How many groups to show; all by default.
 * @returns For example `3f2a 91c0 7b44 ...`.
 */
export function formatFingerprint(fingerprint: string, groups = Infinity): string {
  const parts = fingerprint.match(/.{1,4}/g) ?? [];
  return parts.slice(0, groups).join(" ");
}

/**
 * The bytes a login proof signs: the context, the challenge, the name and both public keys, each
 * variable part length-prefixed, so that the proof binds the encryption key too (nobody can
 * register a name with someone else's encryption key).
 */
function proofData(challenge: Uint8Array, options: { name: string; keys: PublicKeysText }) {
  const parts = [
    new TextEncoder().encode(options.name),
    Uint8Array.fromBase64(options.keys.encKey),
    Uint8Array.fromBase64(options.keys.signKey),
  ];
  const out: Uint8Array[] = [AUTH_CONTEXT, challenge];
  for (const part of parts) {
    if (part.length > 0xffff) {
      throw new RangeError("Cannot sign the login proof: a part is too long");
    }
    const length = new Uint8Array(2);
    new DataView(length.buffer).setUint16(0, part.length);
    out.push(length, part);
  }
  return concat(out);
}

/**
 * Signs the server's login challenge, proving possession of the identity's signing key and
 * binding the name and both public keys.
 *
 * @param identity The identity.
 * @param challenge The challenge bytes from `server-hello`.
 * @param name The name being registered (bound into the proof).
 * @returns The signature.
 */
export async function signChallenge(
  identity: Identity,
  challenge: Uint8Array,
  name: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const keys = await exportPublicKeys(identity);
  const data = proofData(challenge, { name, keys });
  return new Uint8Array(await crypto.subtle.sign("Ed25519", identity.sign.privateKey, data));
}

/**
 * Checks a login proof made by {@linkcode signChallenge}.
 *
 * @param signKey The Ed25519 public key claimed by the client.
 * @param challenge The challenge that was sent.
 * @param options The name, both public keys as sent in `hello`, and the signature.
 * @returns Whether the proof is valid.
 */
export async function verifyChallenge(
  signKey: CryptoKey,
  challenge: Uint8Array,
  options: { name: string; keys: PublicKeysText; proof: Uint8Array },
): Promise<boolean> {
  try {
    const data = proofData(challenge, options);
    return await crypto.subtle.verify("Ed25519", signKey, toBuffer(options.proof), data);
  } catch {
    return false;
  }
}

/** Options for {@linkcode seal}. */
export interface SealOptions {
  /** The sender's name. */
  from: string;
  /** The recipient's name. */
  to: string;
  /** The sender's identity. */
  identity: Identity;
  /** The recipient's public keys. */
  recipient: PeerKeys;
  /** When the message is sealed, ms since the epoch. @default {Date.now()} */
  sentAt?: number;
}

/**
 * Encrypts and signs a text for one recipient.
 *
 * @param text The text, at most {@linkcode MAX_TEXT_BYTES} of UTF-8.
 * @param options Sender, recipient and keys.
 * @returns The envelope to send as the body of a `send` message.
 * @throws {PeerstreamError} `MESSAGE_TOO_LARGE` when the text is too long.
 */
export async function seal(text: string, options: SealOptions): Promise<Uint8Array<ArrayBuffer>> {
  const plain = new TextEncoder().encode(text);
  if (plain.length > MAX_TEXT_BYTES) {
    throw new PeerstreamError(
      "MESSAGE_TOO_LARGE",
      `Cannot send message: ${plain.length} bytes exceeds the ${MAX_TEXT_BYTES}-byte limit; split it`,
    );
  }
  const header = encodeHeader({
    from: options.from,
    to: options.to,
    id: crypto.getRandomValues(new Uint8Array(ID_BYTES)),
    sentAt: options.sentAt ?? Date.now(),
  });
  const aesKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
    "encrypt",
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const [wrapped, ciphertext] = await Promise.all([
    crypto.subtle.wrapKey("raw", aesKey, options.recipient.enc, { name: "RSA-OAEP" }),
    crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: header }, aesKey, plain),
  ]);
  const unsigned = concat([
    header,
    u16(wrapped.byteLength),
    new Uint8Array(wrapped),
    iv,
    u32(ciphertext.byteLength),
    new Uint8Array(ciphertext),
  ]);
  const signature = await crypto.subtle.sign("Ed25519", options.identity.sign.privateKey, unsigned);
  return concat([unsigned, new Uint8Array(signature)]);
}

/** Options for {@linkcode open}. */
export interface OpenOptions {
  /** The name the server says sent it. */
  from: string;
  /** The recipient's own name. */
  me: string;
  /** The recipient's identity. */
  identity: Identity;
  /** The sender's public keys, from the directory. */
  sender: PeerKeys;
  /** Rejects replays; share one per recipient. */
  replay: ReplayGuard;
  /** The current time, ms since the epoch. @default {Date.now()} */
  now?: number;
}

/**
 * Verifies, checks for replay and decrypts an envelope.
 *
 * @param envelope The body of a `deliver` message.
 * @param options The claimed sender and the keys.
 * @returns The verified message.
 * @throws {PeerstreamError} `BAD_SIGNATURE` when the signature does not match the sender's key or
 * the envelope names another sender or recipient, `REPLAYED` for a message seen before or too old,
 * `DECRYPT_FAILED` when it cannot be decrypted, `BAD_MESSAGE` when it is malformed.
 */
export async function open(envelope: Uint8Array, options: OpenOptions): Promise<OpenedMessage> {
  const parsed = parseEnvelope(envelope);
  const valid = await crypto.subtle.verify(
    "Ed25519",
    options.sender.sign,
    toBuffer(parsed.signature),
    toBuffer(parsed.signed),
  );
  if (!valid) {
    throw new PeerstreamError(
      "BAD_SIGNATURE",
      `Rejected a message claiming to be from "${options.from}": the signature does not match their key`,
    );
  }
  if (parsed.from !== options.from || parsed.to !== options.me) {
    throw new PeerstreamError(
      "BAD_SIGNATURE",
      `Rejected a message from "${options.from}": it was signed as from "${parsed.from}" to "${parsed.to}"`,
    );
  }
  const id = parsed.id.toHex();
  options.replay.check(id, parsed.sentAt, options.now ?? Date.now());
  let plain: ArrayBuffer;
  try {
    const aesKey = await crypto.subtle.unwrapKey(
      "raw",
      toBuffer(parsed.wrappedKey),
      options.identity.enc.privateKey,
      { name: "RSA-OAEP" },
      { name: "AES-GCM" },
      false,
      ["decrypt"],
    );
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: toBuffer(parsed.iv), additionalData: toBuffer(parsed.header) },
      aesKey,
      toBuffer(parsed.ciphertext),
    );
  } catch (error) {
    throw new PeerstreamError(
      "DECRYPT_FAILED",
      `Rejected a message from "${options.from}": it cannot be decrypted with your key`,
      { cause: error },
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch (error) {
    throw new PeerstreamError("BAD_MESSAGE", "Rejected a message: its text is not UTF-8", {
      cause: error,
    });
  }
  return { from: parsed.from, text, id, sentAt: parsed.sentAt };
}

interface Header {
  from: string;
  to: string;
  id: Uint8Array;
  sentAt: number;
}

function encodeHeader(header: Header): Uint8Array<ArrayBuffer> {
  const from = new TextEncoder().encode(header.from);
  const to = new TextEncoder().encode(header.to);
  if (from.length > 255 || to.length > 255) throw new RangeError("Name longer than 255 bytes");
  const time = new Uint8Array(8);
  new DataView(time.buffer).setFloat64(0, header.sentAt);
  return concat([
    new Uint8Array([ENVELOPE_VERSION, from.length]),
    from,
    new Uint8Array([to.length]),
    to,
    header.id,
    time,
  ]);
}

interface ParsedEnvelope extends Header {
  header: Uint8Array;
  wrappedKey: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  signed: Uint8Array;
  signature: Uint8Array;
}

function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  const malformed = (what: string) =>
    new PeerstreamError("BAD_MESSAGE", `Rejected a message: malformed envelope (${what})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw malformed(what);
  };
  need(2, "header");
  if (bytes[0] !== ENVELOPE_VERSION) throw malformed(`version ${bytes[0]}`);
  const fromLen = bytes[1];
  at = 2;
  need(fromLen + 1, "sender");
  const decoder = new TextDecoder();
  const from = decoder.decode(bytes.subarray(at, at + fromLen));
  at += fromLen;
  const toLen = bytes[at++];
  need(toLen + ID_BYTES + 8, "recipient");
  const to = decoder.decode(bytes.subarray(at, at + toLen));
  at += toLen;
  const id = bytes.subarray(at, at + ID_BYTES);
  at += ID_BYTES;
  const sentAt = view.getFloat64(at);
  at += 8;
  const header = bytes.subarray(0, at);
  need(2, "key length");
  const keyLen = view.getUint16(at);
  at += 2;
  need(keyLen + IV_BYTES + 4, "key");
  const wrappedKey = bytes.subarray(at, at + keyLen);
  at += keyLen;
  const iv = bytes.subarray(at, at + IV_BYTES);
  at += IV_BYTES;
  const ctLen = view.getUint32(at);
  at += 4;
  need(ctLen, "ciphertext");
  const ciphertext = bytes.subarray(at, at + ctLen);
  at += ctLen;
  if (bytes.length - at !== SIGNATURE_BYTES) throw malformed("signature");
  return {
    from,
    to,
    id,
    sentAt,
    header,
    wrappedKey,
    iv,
    ciphertext,
    signed: bytes.subarray(0, at),
    signature: bytes.subarray(at),
  };
}

/** Concatenates byte arrays into a fresh buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : bytes.slice();
}
