import { deepEqual, equal } from "node:assert/strict";
import { type KnownPeer, KnownPeers, type KnownPeersStorage } from "./known_peers.ts";

type Table = Record<string, KnownPeer>;

/** An in-memory storage that records every save as a plain object (own properties only). */
function memoryStorage(initial: Table = {}): KnownPeersStorage & { saves: Table[] } {
  let stored = new Map(Object.entries(structuredClone(initial)));
  const saves: Table[] = [];
  return {
    saves,
    load: () => structuredClone(stored),
    save(table) {
      stored = structuredClone(new Map(table));
      saves.push(Object.fromEntries(stored));
    },
  };
}

Deno.test("KnownPeers.check() returns new, then known for the same fingerprint", () => {
  const known = new KnownPeers();
  equal(known.fingerprint("bob"), undefined);
  equal(known.check("bob", "f1"), "new");
  equal(known.check("bob", "f1"), "known");
  equal(known.check("bob", "f1"), "known");
  equal(known.fingerprint("bob"), "f1");
  equal(known.check("carol", "f1"), "new");
});

Deno.test("KnownPeers.markVerified() makes check() return verified", () => {
  const known = new KnownPeers();
  known.check("bob", "f1");
  equal(known.markVerified("bob"), true);
  equal(known.check("bob", "f1"), "verified");
  equal(known.markVerified("bob"), true);
});

Deno.test("KnownPeers.markVerified() returns false for an unknown name", () => {
  const storage = memoryStorage();
  const known = new KnownPeers(storage);
  equal(known.markVerified("nobody"), false);
  equal(storage.saves.length, 0);
  equal(known.check("nobody", "f1"), "new");
});

Deno.test("KnownPeers.check() returns changed for a different key and keeps the old one", () => {
  const known = new KnownPeers();
  known.check("bob", "f1");
  known.markVerified("bob");
  equal(known.check("bob", "f2"), "changed");
  equal(known.check("bob", "f2"), "changed");
  equal(known.fingerprint("bob"), "f1");
  // The old key is still trusted as before.
  equal(known.check("bob", "f1"), "verified");
});

Deno.test("KnownPeers.acceptChanged() trusts the last changed key as known, not verified", () => {
  const known = new KnownPeers();
  known.check("bob", "f1");
  known.markVerified("bob");
  equal(known.check("bob", "f2"), "changed");
  equal(known.check("bob", "f3"), "changed");
  equal(known.acceptChanged("bob"), true);
  equal(known.fingerprint("bob"), "f3");
  equal(known.check("bob", "f3"), "known");
  equal(known.check("bob", "f2"), "changed");
});

Deno.test("KnownPeers.acceptChanged() returns false when no changed key is pending", () => {
  const known = new KnownPeers();
  equal(known.acceptChanged("bob"), false);
  known.check("bob", "f1");
  equal(known.acceptChanged("bob"), false);
  known.check("bob", "f2");
  equal(known.acceptChanged("bob"), true);
  equal(known.acceptChanged("bob"), false);
});

Deno.test("KnownPeers saves every change and a new instance loads it back", () => {
  const storage = memoryStorage();
  const first = new KnownPeers(storage);
  first.check("bob", "f1"); // save 1
  first.check("bob", "f1"); // no change
  first.check("carol", "c1"); // save 2
  first.markVerified("carol"); // save 3
  first.check("bob", "f2"); // changed: nothing saved until accepted
  equal(storage.saves.length, 3);
  first.acceptChanged("bob"); // save 4
  equal(storage.saves.length, 4);
  deepEqual(storage.saves[3], {
    bob: { fingerprint: "f2", verified: false },
    carol: { fingerprint: "c1", verified: true },
  });

  const second = new KnownPeers(storage);
  equal(second.check("bob", "f2"), "known");
  equal(second.check("carol", "c1"), "verified");
  equal(second.check("carol", "c2"), "changed");
  equal(second.check("dave", "d1"), "new");
});

Deno.test("KnownPeers loads a table given by its storage", () => {
  const storage = memoryStorage({ bob: { fingerprint: "f1", verified: true } });
  const known = new KnownPeers(storage);
  equal(known.check("bob", "f1"), "verified");
  equal(known.fingerprint("bob"), "f1");
  equal(storage.saves.length, 0);
});

Deno.test("KnownPeers.markVerified() refuses a fingerprint other than the remembered one", () => {
  const storage = memoryStorage();
  const known = new KnownPeers(storage);
  known.check("bob", "f1");
  // The server now hands out f2 and the user compared f2: the old key must not become verified.
  equal(known.check("bob", "f2"), "changed");
  equal(known.markVerified("bob", "f2"), false);
  equal(known.check("bob", "f1"), "known");
  equal(storage.saves.length, 1);
  equal(known.markVerified("bob", "f1"), true);
  equal(known.check("bob", "f1"), "verified");
  // After accepting the new key, it can be verified in turn.
  known.check("bob", "f2");
  equal(known.acceptChanged("bob"), true);
  equal(known.markVerified("bob", "f2"), true);
  equal(known.check("bob", "f2"), "verified");
});

Deno.test("KnownPeers treats names of Object.prototype members as any other name", async (t) => {
  for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"]) {
    await t.step(name, () => {
      const storage = memoryStorage();
      const known = new KnownPeers(storage);
      equal(known.fingerprint(name), undefined);
      equal(known.markVerified(name), false);
      equal(known.acceptChanged(name), false);
      equal(known.check(name, "f1"), "new");
      equal(known.check(name, "f1"), "known");
      equal(known.fingerprint(name), "f1");
      deepEqual(storage.saves, [{ [name]: { fingerprint: "f1", verified: false } }]);
      // A new instance reads it back as known, not changed.
      equal(new KnownPeers(storage).check(name, "f1"), "known");
      equal(new KnownPeers(storage).check(name, "f2"), "changed");
    });
  }
});

Deno.test("KnownPeers.lookalike() names a known peer that a new name looks like", () => {
  const storage = memoryStorage({ alice: { fingerprint: "a1", verified: true } });
  const known = new KnownPeers(storage);
  for (const name of ["aIice", "Alice", "ALICE", "a1ice"]) {
    equal(known.lookalike(name), "alice", name);
  }
  equal(known.lookalike("alice"), undefined, "a name is not its own look-alike");
  equal(known.lookalike("bob"), undefined);
  equal(known.check("b0b", "b1"), "new");
  equal(known.lookalike("bob"), "b0b", "peers learnt now count too");
  equal(known.lookalike("x".repeat(300)), undefined, "no name is that long");
});
