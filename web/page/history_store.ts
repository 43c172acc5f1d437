/**
 * The conversation this browser had, kept across refreshes and encrypted at rest: each entry is
 * sealed with AES-GCM-256 under a key made with WebCrypto as non-extractable and kept (as the
 * `CryptoKey` object itself) in IndexedDB beside the records, so neither the records nor the key
 * can be read out as bytes; what is stored is the IV and the ciphertext. The newest
 * {@linkcode MAX_HISTORY} entries of each name are kept.
 * @module
 */

import { generateHistoryKey, type HistoryEntry, openEntry, sealEntry } from "./history_entry.ts";

export type { HistoryEntry };

/** The most entries kept per name; older ones are deleted. */
export const MAX_HISTORY = 500;

/** The object stores this module uses in the page's database. */
export const HISTORY_STORES = { records: "history", keys: "history-keys" } as const;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

/**
 * Creates the stores in a database upgrade.
 *
 * @param db The database being upgraded.
 */
export function createHistoryStores(db: IDBDatabase): void {
  if (!db.objectStoreNames.contains(HISTORY_STORES.records)) {
    const records = db.createObjectStore(HISTORY_STORES.records, { autoIncrement: true });
    records.createIndex("name", "name");
  }
  if (!db.objectStoreNames.contains(HISTORY_STORES.keys)) {
    db.createObjectStore(HISTORY_STORES.keys);
  }
}

/** One name's history in the page's database. */
export class HistoryStore {
  readonly #db: IDBDatabase;
  readonly #name: string;
  readonly #key: CryptoKey;
  /** Writes in order, so that the stored order is the order of the conversation. */
  #writes: Promise<void> = Promise.resolve();

  private constructor(db: IDBDatabase, name: string, key: CryptoKey) {
    this.#db = db;
    this.#name = name;
    this.#key = key;
  }

  /**
   * Opens a name's history, making its key on first use.
   *
   * @param db The page's database, with {@linkcode createHistoryStores} applied.
   * @param name Whose conversation.
   * @returns The store.
   */
  static async open(db: IDBDatabase, name: string): Promise<HistoryStore> {
    const keys = HISTORY_STORES.keys;
    const stored: unknown = await request(db.transaction(keys).objectStore(keys).get(name));
    if (stored instanceof CryptoKey) return new HistoryStore(db, name, stored);
    const key = await generateHistoryKey();
    await request(db.transaction(keys, "readwrite").objectStore(keys).put(key, name));
    return new HistoryStore(db, name, key);
  }

  /**
   * The kept entries, oldest first; entries beyond {@linkcode MAX_HISTORY} are deleted.
   *
   * @returns The entries that open.
   */
  async load(): Promise<HistoryEntry[]> {
    const index = this.#db.transaction(HISTORY_STORES.records).objectStore(HISTORY_STORES.records)
      .index("name");
    const [keys, records] = await Promise.all([
      request(index.getAllKeys(this.#name)),
      request(index.getAll(this.#name)),
    ]);
    const excess = keys.length - MAX_HISTORY;
    if (excess > 0) {
      const write = this.#db.transaction(HISTORY_STORES.records, "readwrite");
      for (const key of keys.slice(0, excess)) {
        write.objectStore(HISTORY_STORES.records).delete(key);
      }
    }
    const entries = await Promise.all(
      records.slice(Math.max(0, excess)).map((record) => openEntry(this.#key, record)),
    );
    return entries.filter((entry) => entry !== undefined);
  }

  /**
   * Adds an entry (sealed first, written in order in the background).
   *
   * @param entry The entry.
   * @returns When it is written.
   */
  add(entry: HistoryEntry): Promise<void> {
    this.#writes = this.#writes.then(async () => {
      const sealed = await sealEntry(this.#key, this.#name, entry);
      const store = this.#db.transaction(HISTORY_STORES.records, "readwrite").objectStore(
        HISTORY_STORES.records,
      );
      await request(store.add(sealed));
    }).catch(() => {
      // The database was deleted or closed (Forget this browser): nothing left to keep.
    });
    return this.#writes;
  }
}
