/**
 * What the server checks of a room entry before {@linkcode Rooms} applies it (issue 20): that it
 * parses as a canonical signed entry, that its author is the person who sent it, that it is signed
 * by the author's key as registered on this server, and that the keys it pins (the creator's own,
 * an invitee's) are those the server knows for them. Clients check everything again against the
 * keys they know; the server checks what it can, so that it stores nothing a client would refuse.
 * Pure WebCrypto.
 * @module
 */

import type { PublicKeysText } from "../../protocol/e2e.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { keyPins, readEntry, verifyEntry } from "../../protocol/room_chain.ts";
import { quoted } from "../../protocol/text.ts";
import type { CheckedEntry } from "./rooms.ts";

/** Options for {@linkcode checkRoomEntry}. */
export interface RoomEntryCheckOptions {
  /** The registered name of the connection that sent it: an entry comes from its author. */
  sender: string;
  /** A name's public keys as registered here (online, left, or bound), or undefined. */
  keysOf: (name: string) => PublicKeysText | undefined;
}

/**
 * Checks a signed room entry against what the server knows.
 *
 * @param text The signed entry, base64 as on the wire.
 * @param options Who sent it, and the registered keys.
 * @returns The entry, hashed, with the fingerprint of the key that signed it.
 * @throws {PeerstreamError} `CHAIN_INVALID` (malformed, a bad signature, keys pinned that are not
 * the person's), `NOT_ALLOWED` (an entry by someone else), `UNKNOWN_PEER` (an invitee the server
 * does not know).
 */
export async function checkRoomEntry(
  text: string,
  options: RoomEntryCheckOptions,
): Promise<CheckedEntry> {
  const hashed = await readEntry(text);
  const { entry } = hashed;
  if (entry.author !== options.sender) {
    throw new PeerstreamError(
      "NOT_ALLOWED",
      `Cannot ${entry.op} in room ${entry.room}: the entry is by ${
        quoted(entry.author)
      }, and you are ${quoted(options.sender)}; send only entries you signed`,
    );
  }
  const keys = options.keysOf(entry.author);
  if (keys === undefined) {
    throw new PeerstreamError("UNKNOWN_PEER", `Cannot ${entry.op}: your keys are not known here`);
  }
  const signKey = await importSignKey(keys.signKey);
  if (!await verifyEntry(hashed, signKey)) {
    throw new PeerstreamError(
      "CHAIN_INVALID",
      `Cannot ${entry.op} in room ${entry.room}: entry ${entry.seq} is not signed by the key ${
        quoted(entry.author)
      } registered; sign it with your own key`,
    );
  }
  const pins = await keyPins(keys);
  if (entry.op === "create" && !samePins(entry.keys, pins)) {
    throw new PeerstreamError(
      "CHAIN_INVALID",
      `Cannot create room ${entry.room}: the entry pins keys that are not yours; pin your own keys`,
    );
  }
  if (entry.op === "invite") await checkInvitee(entry.subject, entry.keys, options);
  return { hashed, signedBy: pins.sign, signKey: keys.signKey };
}

async function checkInvitee(
  subject: string,
  pinned: { enc: string; sign: string } | null,
  options: RoomEntryCheckOptions,
) {
  const keys = options.keysOf(subject);
  if (keys === undefined) {
    throw new PeerstreamError(
      "UNKNOWN_PEER",
      `Cannot invite ${quoted(subject)}: no such peer; run WHO to see who is online`,
    );
  }
  if (!samePins(pinned, await keyPins(keys))) {
    // The invitee could never accept: an accept must be signed by the key the invite pins.
    throw new PeerstreamError(
      "CHAIN_INVALID",
      `Cannot invite ${
        quoted(subject)
      }: the entry pins keys that are not theirs as this server knows them; run VERIFY ${subject} and invite again`,
    );
  }
}

function samePins(
  a: { enc: string; sign: string } | null,
  b: { enc: string; sign: string },
): boolean {
  return a !== null && a.enc === b.enc && a.sign === b.sign;
}

async function importSignKey(signKey: string): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey(
      "spki",
      Uint8Array.fromBase64(signKey),
      { name: "Ed25519" },
      false,
      ["verify"],
    );
  } catch (error) {
    throw new PeerstreamError(
      "KEY_INVALID",
      "Cannot check the entry: the author's key is invalid",
      {
        cause: error,
      },
    );
  }
}
