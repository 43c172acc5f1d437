/**
 * The handshake's checks: which messages may come before `welcome`, and whether a `hello` proves
 * the keys it claims for the name it asks. Pure (WebCrypto only); the server applies the
 * deadline, the refusal count and the per-address rate.
 * @module
 */

import { importPeerKeys, type PublicKeysText, verifyChallenge } from "../../protocol/e2e.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { type HelloMessage, type MessageType, PROTOCOL_VERSION } from "../../protocol/messages.ts";
import { normalizeName } from "../../protocol/names.ts";
import { escapeControls } from "../../protocol/text.ts";

/** A `hello` whose proof checked out. */
export interface VerifiedHello {
  /** The normalized name. */
  name: string;
  /** The public keys as sent. */
  keys: PublicKeysText;
  /** SHA-256 of both keys, hex. */
  fingerprint: string;
  /** The keys live in memory only: hold the name only while connected. */
  ephemeral: boolean;
}

/**
 * Whether a message may arrive before `welcome`: only `hello` and `quit`. Anything else is
 * answered `NOT_REGISTERED` and closes the connection, so that nothing keeps an unauthenticated
 * connection busy.
 *
 * @param type The message type.
 * @returns True for `hello` and `quit`.
 */
export function allowedBeforeWelcome(type: MessageType): boolean {
  return type === "hello" || type === "quit";
}

/** Options for {@linkcode verifyHello}. */
export interface VerifyHelloOptions {
  /**
   * The signing key a name is bound to, if any: a name bound before the name rules tightened
   * stays usable by its own key even where the rules now refuse it.
   */
  boundTo?: (name: string) => string | undefined;
}

/** No valid name is longer (32 characters, each at most 8 UTF-16 units before NFC). */
const MAX_RAW_NAME_UNITS = 256;

/**
 * Checks a `hello`: the protocol version, the name, the keys and the proof (a signature of the
 * challenge, the name and both keys by the signing key).
 *
 * @param message The hello.
 * @param challenge The challenge sent in `server-hello`.
 * @param options Where to look up existing bindings.
 * @returns The verified name and keys.
 * @throws {PeerstreamError} `VERSION_MISMATCH` (the connection should close), `NAME_INVALID` or
 * `KEY_INVALID`.
 */
export async function verifyHello(
  message: HelloMessage,
  challenge: Uint8Array,
  options: VerifyHelloOptions = {},
): Promise<VerifiedHello> {
  if (message.version !== PROTOCOL_VERSION) {
    throw new PeerstreamError(
      "VERSION_MISMATCH",
      `Cannot register: client speaks protocol ${message.version}, server speaks ${PROTOCOL_VERSION}; use a matching peerstream`,
    );
  }
  const name = checkName(message, options);
  const keys = { encKey: message.encKey, signKey: message.signKey };
  const imported = await importPeerKeys(keys);
  let proof: Uint8Array;
  try {
    proof = Uint8Array.fromBase64(message.proof);
  } catch {
    proof = new Uint8Array();
  }
  if (!(await verifyChallenge(imported.sign, challenge, { name, keys, proof }))) {
    throw new PeerstreamError(
      "KEY_INVALID",
      "Cannot register: the proof does not match the keys and name sent; use an unmodified client",
    );
  }
  return { name, keys, fingerprint: imported.fingerprint, ephemeral: message.ephemeral === true };
}

/** The normalized name, or the name as bound to this key before the rules tightened. */
function checkName(message: HelloMessage, options: VerifyHelloOptions): string {
  try {
    return normalizeName(message.name);
  } catch (error) {
    const legacy = message.name.length <= MAX_RAW_NAME_UNITS
      ? message.name.normalize("NFC")
      : undefined;
    // The proof, checked next, shows the client holds that key.
    if (legacy !== undefined && options.boundTo?.(legacy) === message.signKey) return legacy;
    // The rule's message repeats the name: it goes to a log and a terminal, so escape it.
    throw new PeerstreamError("NAME_INVALID", escapeControls((error as Error).message));
  }
}
