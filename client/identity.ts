/**
 * A user's identity on disk: one JSON file of JWK key pairs per name, mode 0600, in the config
 * folder; and the known-peers table beside it.
 * @module
 */

import { readJsonObjectSync, writeFileAtomic, writeFileAtomicSync } from "../cli/state_file.ts";

import { generateIdentity, type Identity } from "../protocol/e2e.ts";
import type { KnownPeersStorage } from "./known_peers.ts";

interface StoredIdentity {
  version: 1;
  enc: { publicKey: JsonWebKey; privateKey: JsonWebKey };
  sign: { publicKey: JsonWebKey; privateKey: JsonWebKey };
}

function fileSafe(name: string): string {
  // Names are letters, digits and "_.-": encode anything else, and never allow "..".
  return encodeURIComponent(name).replaceAll(".", "%2E");
}

/**
 * Loads the identity saved for a name, or creates and saves one.
 *
 * @param name The user's name.
 * @param options The config folder; `ephemeral` keeps keys in memory only.
 * @returns The identity and whether it was just created.
 */
export async function loadOrCreateIdentity(
  name: string,
  options: { dir: string; ephemeral?: boolean },
): Promise<{ identity: Identity; created: boolean }> {
  if (options.ephemeral) return { identity: await generateIdentity(), created: true };
  const path = `${options.dir}/identities/${fileSafe(name)}.json`;
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (text !== undefined) {
    let stored: StoredIdentity;
    try {
      stored = JSON.parse(text) as StoredIdentity;
    } catch (error) {
      throw new SyntaxError(
        `Cannot read identity "${path}": it is not valid JSON; restore it from a backup, or delete it to create new keys`,
        { cause: error },
      );
    }
    const rsa = { name: "RSA-OAEP", hash: "SHA-256" };
    const [encPub, encPriv, signPub, signPriv] = await Promise.all([
      crypto.subtle.importKey("jwk", stored.enc.publicKey, rsa, true, ["encrypt", "wrapKey"]),
      crypto.subtle.importKey("jwk", stored.enc.privateKey, rsa, true, ["decrypt", "unwrapKey"]),
      crypto.subtle.importKey("jwk", stored.sign.publicKey, { name: "Ed25519" }, true, ["verify"]),
      crypto.subtle.importKey("jwk", stored.sign.privateKey, { name: "Ed25519" }, true, ["sign"]),
    ]);
    return {
      identity: {
        enc: { publicKey: encPub, privateKey: encPriv },
        sign: { publicKey: signPub, privateKey: signPriv },
      },
      created: false,
    };
  }
  const identity = await generateIdentity();
  const [encPub, encPriv, signPub, signPriv] = await Promise.all([
    crypto.subtle.exportKey("jwk", identity.enc.publicKey),
    crypto.subtle.exportKey("jwk", identity.enc.privateKey),
    crypto.subtle.exportKey("jwk", identity.sign.publicKey),
    crypto.subtle.exportKey("jwk", identity.sign.privateKey),
  ]);
  const stored: StoredIdentity = {
    version: 1,
    enc: { publicKey: encPub, privateKey: encPriv },
    sign: { publicKey: signPub, privateKey: signPriv },
  };
  await writeFileAtomic(path, JSON.stringify(stored));
  return { identity, created: true };
}

/**
 * The known-peers file of one local identity.
 *
 * @param name The user's name.
 * @param dir The config folder.
 * @returns Storage for {@linkcode KnownPeers}.
 */
export function knownPeersFile(name: string, dir: string): KnownPeersStorage {
  const path = `${dir}/known_peers/${fileSafe(name)}.json`;
  return {
    load() {
      // KnownPeers indexes the table by name, so anything but an object is refused here.
      return (readJsonObjectSync(path) ?? {}) as ReturnType<KnownPeersStorage["load"]>;
    },
    save(table) {
      writeFileAtomicSync(path, JSON.stringify(table, null, 1));
    },
  };
}
