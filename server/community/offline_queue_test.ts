import { deepEqual, equal, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import type { PublicKeysText } from "../../protocol/e2e.ts";
import {
  OfflineQueue,
  QUEUE_DEFAULTS,
  type QueueRecord,
  type QueueStorage,
} from "./offline_queue.ts";

/** A storage in memory that records what a file would hold. */
function memoryStorage(): QueueStorage & { logs: Map<string, QueueRecord[]>; saves: number } {
  const logs = new Map<string, QueueRecord[]>();
  let keys = new Map<string, PublicKeysText>();
  const storage = {
    logs,
    saves: 0,
    load: () => new Map([...logs].map(([k, v]) => [k, [...v]])),
    append: (name: string, records: readonly QueueRecord[], _durable: boolean) => {
      logs.set(name, [...logs.get(name) ?? [], ...records]);
    },
    remove: (name: string) => void logs.delete(name),
    loadKeys: () => new Map(keys),
    saveKeys: (name: string, k: PublicKeysText) => {
      storage.saves++;
      keys = new Map([...keys, [name, k]]);
    },
  };
  return storage;
}

const body = (n: number) => new Uint8Array(n);
const isFull = (fragment: string) => (e: Error) =>
  e instanceof PeerstreamError && e.code === "QUEUE_FULL" && e.message.includes(fragment);

Deno.test("OfflineQueue.add() refuses QUEUE_FULL exactly past each bound (messages, bytes, all)", () => {
  const cases: [string, Partial<typeof QUEUE_DEFAULTS>, number[], string][] = [
    ["messages: 0 allowed", { maxMessages: 0 }, [1], '"bob": 0 messages wait for them'],
    ["messages: at the limit, then one more", { maxMessages: 2 }, [1, 1, 1], "2 messages"],
    ["bytes: exactly at the limit, then 1 more", { maxBytes: 10 }, [4, 6, 1], "10 bytes"],
    ["one body over the bytes", { maxBytes: 10 }, [11], "10 bytes"],
    ["all queues", { maxTotalBytes: 5 }, [5, 1], "the server's queues are full"],
  ];
  for (const [what, limits, sizes, fragment] of cases) {
    const q = new OfflineQueue(memoryStorage(), limits);
    const last = sizes.at(-1)!;
    for (const size of sizes.slice(0, -1)) q.add("bob", { from: "a", re: 1, body: body(size) }, 0);
    throws(() => q.add("bob", { from: "a", re: 1, body: body(last) }, 0), isFull(fragment), what);
  }
  const q = new OfflineQueue(memoryStorage(), { maxMessages: 1 });
  q.add("bob", { from: "a", re: 1, body: body(1) }, 0);
  throws(
    () => q.add("bob", { from: "a", re: 1, body: body(1) }, 0),
    (e: Error) =>
      e.message === 'Cannot queue for "bob": 1 messages wait for them; try when "bob" is online',
  );
});

Deno.test("OfflineQueue keeps order, numbers from 1, and frees a place on remove()", () => {
  const storage = memoryStorage();
  const q = new OfflineQueue(storage, { maxMessages: 2 });
  equal(q.add("bob", { from: "a", re: 7, body: body(1) }, 10), 1);
  equal(q.add("bob", { from: "c", re: 8, body: body(2) }, 11), 2);
  deepEqual(q.entries("bob").map((e) => e.qseq), [1, 2]);
  equal(q.remove("bob", 1)?.kind, "message");
  equal(q.remove("bob", 1), undefined, "a second receipt finds nothing");
  equal(q.add("bob", { from: "a", re: 9, body: body(1) }, 12), 3);
  deepEqual(q.entries("bob").map((e) => e.qseq), [2, 3]);
  equal(q.remove("bob", 2)?.kind, "message");
  equal(q.remove("bob", 3)?.kind, "message");
  equal(storage.logs.has("bob"), false, "an empty queue's log is deleted");
  equal(q.size, 0);
});

Deno.test("OfflineQueue loads what its storage kept: entries, removals, numbering", () => {
  const storage = memoryStorage();
  const q = new OfflineQueue(storage);
  q.add("bob", { from: "a", re: 1, body: body(3) }, 0);
  q.add("bob", { from: "a", re: 2, body: body(4) }, 0);
  q.remove("bob", 1);
  q.notify("a", { kind: "delivered", to: "bob", ofQseq: 1, re: 1 }, 5);
  const again = new OfflineQueue(storage);
  deepEqual(again.entries("bob").map((e) => e.qseq), [2]);
  deepEqual(again.entries("a"), [
    { kind: "delivered", to: "bob", ofQseq: 1, re: 1, qseq: 1, at: 5 },
  ]);
  equal(again.add("bob", { from: "a", re: 3, body: body(1) }, 0), 3, "numbers never repeat");
});

Deno.test("OfflineQueue.drop() deletes a released name's queue and frees its bytes", () => {
  const storage = memoryStorage();
  const q = new OfflineQueue(storage, { maxTotalBytes: 4 });
  q.add("bob", { from: "a", re: 1, body: body(4) }, 0);
  q.drop("bob");
  deepEqual(q.entries("bob"), []);
  equal(storage.logs.has("bob"), false);
  equal(q.add("carol", { from: "a", re: 1, body: body(4) }, 0), 1);
});

Deno.test("OfflineQueue.expire() deletes messages older than the bound, not at it", () => {
  const q = new OfflineQueue(memoryStorage(), { maxAgeMs: 100 });
  q.add("bob", { from: "a", re: 1, body: body(1) }, 0);
  q.add("bob", { from: "a", re: 2, body: body(1) }, 50);
  deepEqual(q.expire(100), []);
  deepEqual(q.expire(101).map((e) => [e.to, e.message.qseq]), [["bob", 1]]);
  deepEqual(q.entries("bob").map((e) => e.qseq), [2]);
});

Deno.test("OfflineQueue.notify() keeps at most 1,000 notices per sender, dropping the oldest", () => {
  const q = new OfflineQueue(memoryStorage());
  for (let i = 1; i <= 1001; i++) {
    q.notify("a", { kind: "delivered", to: "b", ofQseq: i, re: 0 }, 0);
  }
  const notices = q.entries("a");
  equal(notices.length, 1000);
  equal(notices[0].qseq, 2);
});

Deno.test("OfflineQueue.keysOf() answers only for the key the name is bound to, and saves on change", () => {
  const storage = memoryStorage();
  const q = new OfflineQueue(storage);
  q.rememberKeys("bob", { encKey: "E", signKey: "S" });
  q.rememberKeys("bob", { encKey: "E", signKey: "S" });
  equal(storage.saves, 1);
  deepEqual(new OfflineQueue(storage).keysOf("bob", "S"), { encKey: "E", signKey: "S" });
  equal(q.keysOf("bob", "other"), undefined);
  equal(q.keysOf("bob", undefined), undefined, "released");
});
