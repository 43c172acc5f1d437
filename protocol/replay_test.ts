import { deepEqual, equal, throws } from "node:assert/strict";
import { type ErrorCode, PeerstreamError } from "./errors.ts";
import { ReplayGuard, type ReplayState, type ReplayStorage } from "./replay.ts";

/** A predicate for `throws`: a PeerstreamError with `code` and `fragment`. */
function peerstreamError(code: ErrorCode, fragment = "") {
  return (error: unknown): boolean => {
    if (!(error instanceof PeerstreamError)) {
      throw new Error(`expected a PeerstreamError, got ${String(error)}`, { cause: error });
    }
    equal(error.code, code, error.message);
    if (!error.message.includes(fragment)) {
      throw new Error(`expected "${fragment}" in "${error.message}"`);
    }
    return true;
  };
}

Deno.test("ReplayGuard.check() throws REPLAYED when sentAt is outside the window or not a number", async (t) => {
  const table: { name: string; sentAt: number }[] = [
    { name: "window + 1 ms ago", sentAt: 10_000 - 1_001 },
    { name: "window + 1 ms ahead", sentAt: 10_000 + 1_001 },
    { name: "NaN", sentAt: NaN },
    { name: "Infinity", sentAt: Infinity },
    { name: "-Infinity", sentAt: -Infinity },
    { name: "1e300", sentAt: 1e300 },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      const guard = new ReplayGuard({ windowMs: 1_000 });
      throws(() => guard.check("a", row.sentAt, 10_000), peerstreamError("REPLAYED", "window"));
      equal(guard.size, 0);
    });
  }
});

Deno.test("ReplayGuard.check() evicts ids older than the window", () => {
  const guard = new ReplayGuard({ windowMs: 1_000 });
  guard.check("a", 0, 0);
  guard.check("b", 500, 500);
  equal(guard.size, 2);
  // At 1000 "a" is exactly at the window edge: kept.
  guard.check("c", 1_000, 1_000);
  equal(guard.size, 3);
  // At 1001 "a" is 1 ms past the window: evicted.
  guard.check("d", 1_001, 1_001);
  equal(guard.size, 3);
  guard.check("e", 5_000, 5_000);
  equal(guard.size, 1);
  // "a" was evicted, and it stays rejected because its time is now outside the window.
  throws(() => guard.check("a", 0, 5_000), peerstreamError("REPLAYED", "window"));
  throws(() => guard.check("e", 5_000, 5_001), peerstreamError("REPLAYED", "already received"));
});

/** A replay storage in memory that records every save. */
function memoryReplayStorage(): ReplayStorage & { saves: ReplayState[] } {
  const saves: ReplayState[] = [];
  return {
    saves,
    load: () => structuredClone(saves.at(-1)),
    save: (state) => void saves.push(structuredClone(state)),
  };
}

Deno.test("ReplayGuard.check() keeps at most maxIds ids and refuses anything not newer than the ids it forgot", () => {
  const guard = new ReplayGuard({ windowMs: 10_000, maxIds: 3 });
  guard.check("a", 100, 1_000);
  guard.check("b", 200, 1_000);
  guard.check("c", 300, 1_000);
  equal(guard.size, 3);
  guard.check("d", 400, 1_000);
  equal(guard.size, 3, "the oldest id is forgotten");
  // "a" is forgotten, but its time is not newer than what was forgotten: still refused.
  throws(() => guard.check("a", 100, 1_000), peerstreamError("REPLAYED", "forgot"));
  throws(() => guard.check("x", 100, 1_000), peerstreamError("REPLAYED", "forgot"));
  throws(() => guard.check("b", 200, 1_000), peerstreamError("REPLAYED", "already received"));
  guard.check("y", 101, 1_000);
  equal(guard.size, 3);
});

Deno.test("ReplayGuard with a storage saves before check() returns and refuses replays after a restart", () => {
  const storage = memoryReplayStorage();
  const first = new ReplayGuard({ windowMs: 1_000, storage });
  first.check("a", 0, 0);
  equal(storage.saves.length, 1);
  first.check("b", 500, 500);
  equal(storage.saves.length, 2);
  throws(() => first.check("b", 500, 500), peerstreamError("REPLAYED", "already received"));
  equal(storage.saves.length, 2, "a refusal changes nothing");
  // The client restarts: the same ids are still refused.
  const second = new ReplayGuard({ windowMs: 1_000, storage });
  equal(second.size, 2);
  throws(() => second.check("a", 0, 600), peerstreamError("REPLAYED", "already received"));
  throws(() => second.check("b", 500, 600), peerstreamError("REPLAYED", "already received"));
  second.check("c", 600, 600);
  // What aged out of the window is not carried over.
  const third = new ReplayGuard({ windowMs: 1_000, storage });
  third.check("d", 1_550, 1_550);
  equal(third.size, 2);
  deepEqual(storage.saves.at(-1)!.seen.map(([id]) => id), ["c", "d"]);
});

Deno.test("ReplayGuard keeps its floor across a restart", () => {
  const storage = memoryReplayStorage();
  const first = new ReplayGuard({ windowMs: 10_000, maxIds: 1, storage });
  first.check("a", 100, 1_000);
  first.check("b", 200, 1_000);
  equal(storage.saves.at(-1)!.floor, 100);
  const second = new ReplayGuard({ windowMs: 10_000, maxIds: 1, storage });
  throws(() => second.check("a", 100, 1_000), peerstreamError("REPLAYED", "forgot"));
});
