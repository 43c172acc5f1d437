/**
 * A user's identity on disk: one JSON file of JWK key pairs per name, mode 0600, in the config
 * folder; and the known-peers table beside it.
 * @module
 */

import { readJsonObjectSync, writeFileAtomic, writeFileAtomicSync } from "../cli/state_file.ts";

import { generateIdentity, type Identity } from "../protocol/e2e.ts";
import type { KnownPeer, KnownPeersStorage } from "./known_peers.ts";
import type { ReplayState, ReplayStorage } from "../protocol/replay.ts";
import type { RoomMemory, RoomStorage } from "./session/rooms.ts";

interface StoredIdentity {
  version: 1;
  enc: { publicKey: JsonWebKey; privateKey: JsonWebKey };
  sign: { publicKey: JsonWebKey; privateKey: JsonWebKey };
}

function fileSafe(name: string): string {
  // Names are letters, digits and "_.-": encode anything else, and never allow "..".
  return encodeURIComponent(name).replaceAll(".", "%2E");
}

/** An identity loaded or made for a name, and how to keep it. */
export interface LoadedIdentity {
  /** The key pairs. */
  identity: Identity;
  /** Whether the keys were made now (nothing was saved for the name). */
  created: boolean;
  /** Saves new keys (mode 0600); nothing for keys that were loaded, or ephemeral ones. */
  save(): Promise<void>;
}

/**
 * Loads the identity saved for a name, or makes one without saving it yet: the client saves it
 * once the server accepted the name, so that a refused name (taken, invalid) leaves no file.
 *
 * @param name The user's name.
 * @param options The config folder; `ephemeral` keeps keys in memory only.
 * @returns The identity, and `save` to keep new keys.
 * @throws {SyntaxError} When the saved file is not valid JSON.
 */
export async function loadIdentity(
  name: string,
  options: { dir: string; ephemeral?: boolean },
): Promise<LoadedIdentity> {
  const none = () => Promise.resolve();
  if (options.ephemeral) return { identity: await generateIdentity(), created: true, save: none };
  const path = `${options.dir}/identities/${fileSafe(name)}.json`;
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (text !== undefined) {
    return { identity: await _parseIdentity(path, text), created: false, save: none };
  }
  const identity = await generateIdentity();
  return { identity, created: true, save: () => _saveIdentity(path, identity) };
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
  const loaded = await loadIdentity(name, options);
  await loaded.save();
  return { identity: loaded.identity, created: loaded.created };
}

async function _parseIdentity(path: string, text: string): Promise<Identity> {
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
    enc: { publicKey: encPub, privateKey: encPriv },
    sign: { publicKey: signPub, privateKey: signPriv },
  };
}

async function _saveIdentity(path: string, identity: Identity): Promise<void> {
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
      const table = new Map<string, KnownPeer>();
      // Own properties only (Object.entries): "constructor" is a name here, not Object's.
      for (const [name, entry] of Object.entries(readJsonObjectSync(path) ?? {})) {
        const { fingerprint, verified } = (entry ?? {}) as Partial<KnownPeer>;
        if (typeof fingerprint !== "string" || typeof verified !== "boolean") {
          throw new SyntaxError(
            `Cannot read "${path}": the entry of ${
              JSON.stringify(name)
            } is not a fingerprint and a verified mark; fix or delete it`,
          );
        }
        table.set(name, { fingerprint, verified });
      }
      return table;
    },
    save(table) {
      // Object.fromEntries defines own properties, "__proto__" included.
      writeFileAtomicSync(path, JSON.stringify(Object.fromEntries(table), null, 1));
    },
  };
}

/**
 * The replay guard's state of one local identity, so that a message replayed after a restart is
 * still refused: `seen/NAME.json` in the config folder, written atomically with mode 0600.
 *
 * @param name The user's name.
 * @param dir The config folder.
 * @returns Storage for {@linkcode ReplayGuard}.
 */
export function replayFile(name: string, dir: string): ReplayStorage {
  const path = `${dir}/seen/${fileSafe(name)}.json`;
  return {
    load() {
      const value = readJsonObjectSync(path);
      if (value === undefined) return undefined;
      const { floor, seen } = value as Partial<ReplayState>;
      const entry = (e: unknown) =>
        Array.isArray(e) && e.length === 3 && typeof e[0] === "string" &&
        typeof e[1] === "number" && typeof e[2] === "number";
      if (
        (typeof floor !== "number" && floor !== null) || !Array.isArray(seen) || !seen.every(entry)
      ) {
        throw new SyntaxError(
          `Cannot read "${path}": expected the ids of messages seen; fix or delete it (replays of the last 15 days would then be shown again)`,
        );
      }
      return { floor: floor ?? null, seen };
    },
    save(state) {
      writeFileAtomicSync(path, JSON.stringify(state));
    },
  };
}

/**
 * What the client remembers of its rooms (the furthest entry seen of each, so that a rollback is
 * caught after a restart, and its message counters): `rooms/NAME.json` in the config folder,
 * written atomically.
 *
 * @param name The user's name.
 * @param dir The config folder.
 * @returns Storage for the client's rooms.
 */
export function roomsFile(name: string, dir: string): RoomStorage {
  const path = `${dir}/rooms/${fileSafe(name)}.json`;
  return {
    load() {
      const value = readJsonObjectSync(path);
      if (value === undefined) return undefined;
      const { origin, rooms } = value as Partial<RoomMemory>;
      const entry = (e: unknown) => {
        const r = e as Record<string, unknown> | null;
        return typeof r === "object" && r !== null && Number.isInteger(r.seq) &&
          typeof r.head === "string" && Number.isInteger(r.counter);
      };
      if (
        typeof origin !== "string" || !/^[0-9a-f]{16}$/.test(origin) ||
        typeof rooms !== "object" || rooms === null || !Object.values(rooms).every(entry)
      ) {
        throw new SyntaxError(
          `Cannot read "${path}": expected the rooms seen; fix or delete it (a rollback of your rooms would then go unnoticed once)`,
        );
      }
      return { origin, rooms };
    },
    save(memory) {
      writeFileAtomicSync(path, JSON.stringify(memory));
    },
  };
}
