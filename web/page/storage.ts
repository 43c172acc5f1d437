/**
 * The page's storage in IndexedDB: each name's key pairs, made with WebCrypto with the private
 * keys non-extractable (IndexedDB keeps the `CryptoKey` objects themselves; no script, not even
 * this page, can read the private bytes), and each name's known-peers table behind the same
 * {@linkcode KnownPeersStorage} interface the terminal's file uses, and what each name remembers
 * of its rooms.
 * @module
 */

import type { Identity } from "../../protocol/e2e.ts";
import type { KnownPeer, KnownPeersStorage } from "../../client/known_peers.ts";
import type { ReplayState, ReplayStorage } from "../../protocol/replay.ts";
import type { RoomStorage } from "../../client/session.ts";
import { createHistoryStores, HistoryStore } from "./history_store.ts";
import { parseRoomMemory } from "./room_memory.ts";

const DB_NAME = "peerstream";
const IDENTITIES = "identities";
const KNOWN_PEERS = "known-peers";
const SEEN = "seen-messages";
const ROOMS = "room-memory";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

/** The page's IndexedDB database. */
export class PageStore {
  readonly #db: IDBDatabase;

  private constructor(db: IDBDatabase) {
    this.#db = db;
  }

  /**
   * Opens (and on first use creates) the database.
   *
   * @returns The store.
   * @throws {Error} When IndexedDB is unavailable (e.g. a private window that forbids it).
   */
  static async open(): Promise<PageStore> {
    const req = indexedDB.open(DB_NAME, 4);
    req.onupgradeneeded = () => {
      const names = req.result.objectStoreNames;
      if (!names.contains(IDENTITIES)) req.result.createObjectStore(IDENTITIES);
      if (!names.contains(KNOWN_PEERS)) req.result.createObjectStore(KNOWN_PEERS);
      if (!names.contains(SEEN)) req.result.createObjectStore(SEEN);
      if (!names.contains(ROOMS)) req.result.createObjectStore(ROOMS);
      createHistoryStores(req.result);
    };
    const db = await request(req);
    // Another tab deletes the database (Forget this browser): let it, rather than block it.
    db.onversionchange = () => db.close();
    return new PageStore(db);
  }

  /**
   * Deletes everything this page keeps in IndexedDB, for every name: identities (the keys),
   * known peers, seen message ids, and the history with its key. Closes this connection first;
   * other tabs close theirs when asked (`versionchange`).
   *
   * @returns When the database is gone.
   */
  async forget(): Promise<void> {
    this.#db.close();
    await request(indexedDB.deleteDatabase(DB_NAME));
  }

  /**
   * One name's conversation, encrypted at rest.
   *
   * @param name The person's name.
   * @returns The history store.
   */
  history(name: string): Promise<HistoryStore> {
    return HistoryStore.open(this.#db, name);
  }

  /**
   * The identity saved for a name, or a new one made and saved.
   *
   * @param name The person's name.
   * @returns The key pairs and whether they were just made.
   */
  async identity(name: string): Promise<{ identity: Identity; created: boolean }> {
    const tx = this.#db.transaction(IDENTITIES, "readonly");
    const stored: unknown = await request(tx.objectStore(IDENTITIES).get(name));
    if (isIdentity(stored)) return { identity: stored, created: false };
    const identity = await generatePageIdentity();
    const write = this.#db.transaction(IDENTITIES, "readwrite");
    await request(write.objectStore(IDENTITIES).put(identity, name));
    return { identity, created: true };
  }

  /**
   * The replay guard's state of one name, loaded now and saved on each change (an IndexedDB put
   * is atomic), so that a message replayed after a reload is still refused.
   *
   * @param name The person's name.
   * @returns Storage for `ReplayGuard`.
   */
  async replay(name: string): Promise<ReplayStorage> {
    const tx = this.#db.transaction(SEEN, "readonly");
    const state = parseReplayState(await request(tx.objectStore(SEEN).get(name)));
    return {
      load: () => state,
      save: (next) => {
        try {
          this.#db.transaction(SEEN, "readwrite").objectStore(SEEN).put(
            structuredClone(next),
            name,
          );
        } catch {
          // The database is closed: this browser was just forgotten.
        }
      },
    };
  }

  /**
   * What one name remembers of its rooms (the furthest entry checked of each, the message
   * counters), loaded now and saved on each change (an IndexedDB put is atomic), so that a room
   * rolled back while this page was closed is caught after a refresh.
   *
   * @param name The person's name.
   * @returns Storage for the session's `RoomBook`.
   */
  async rooms(name: string): Promise<RoomStorage> {
    const tx = this.#db.transaction(ROOMS, "readonly");
    let memory = parseRoomMemory(await request(tx.objectStore(ROOMS).get(name)));
    return {
      // The latest saved, not the one read at load: each reconnect's session loads it again, and
      // a rollback while the page was reconnecting must be caught as after a refresh.
      load: () => memory,
      save: (next) => {
        memory = structuredClone(next);
        try {
          this.#db.transaction(ROOMS, "readwrite").objectStore(ROOMS).put(
            structuredClone(next),
            name,
          );
        } catch {
          // The database is closed: this browser was just forgotten.
        }
      },
    };
  }

  /**
   * The known-peers table of one name, loaded now and saved in the background on each change.
   *
   * @param name The person's name.
   * @returns Storage for `KnownPeers`.
   */
  async knownPeers(name: string): Promise<KnownPeersStorage> {
    const tx = this.#db.transaction(KNOWN_PEERS, "readonly");
    const stored: unknown = await request(tx.objectStore(KNOWN_PEERS).get(name));
    const table = parseKnownTable(stored);
    return {
      load: () => table,
      save: (next) => {
        // A Map, as KnownPeers keeps it: names such as "__proto__" stay plain entries.
        try {
          const write = this.#db.transaction(KNOWN_PEERS, "readwrite");
          write.objectStore(KNOWN_PEERS).put(new Map(next), name);
        } catch {
          // The database is closed: this browser was just forgotten.
        }
      },
    };
  }
}

/**
 * Makes key pairs with the same algorithms as `protocol/e2e.ts`'s `generateIdentity`, but with
 * non-extractable private keys (public keys are always extractable, for the `hello`).
 *
 * @returns The identity.
 */
export async function generatePageIdentity(): Promise<Identity> {
  const [enc, sign] = await Promise.all([
    crypto.subtle.generateKey(
      {
        name: "RSA-OAEP",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      false,
      ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    ),
    crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]) as Promise<
      CryptoKeyPair
    >,
  ]);
  return { enc, sign };
}

function isKeyPair(value: unknown): value is CryptoKeyPair {
  if (typeof value !== "object" || value === null) return false;
  const pair = value as Record<string, unknown>;
  return pair.publicKey instanceof CryptoKey && pair.privateKey instanceof CryptoKey;
}

function isIdentity(value: unknown): value is Identity {
  if (typeof value !== "object" || value === null) return false;
  const identity = value as Record<string, unknown>;
  return isKeyPair(identity.enc) && isKeyPair(identity.sign);
}

function parseKnownTable(value: unknown): Map<string, KnownPeer> {
  const table = new Map<string, KnownPeer>();
  if (!(value instanceof Map)) return table;
  for (const [name, entry] of value) {
    if (typeof name !== "string" || typeof entry !== "object" || entry === null) continue;
    const { fingerprint, verified } = entry as Record<string, unknown>;
    if (typeof fingerprint === "string" && typeof verified === "boolean") {
      table.set(name, { fingerprint, verified });
    }
  }
  return table;
}

function parseReplayState(value: unknown): ReplayState | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { floor, seen } = value as Record<string, unknown>;
  const entry = (e: unknown): e is [string, number, number] =>
    Array.isArray(e) && e.length === 3 && typeof e[0] === "string" &&
    typeof e[1] === "number" && typeof e[2] === "number";
  if ((typeof floor !== "number" && floor !== null) || !Array.isArray(seen)) return undefined;
  return { floor, seen: seen.filter(entry) };
}
