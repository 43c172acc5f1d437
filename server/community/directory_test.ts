import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { Directory } from "./directory.ts";

/** Made-up public keys; the directory compares `signKey` as text and never parses it. */
function keys(id: string): { encKey: string; signKey: string } {
  return { encKey: `enc-${id}`, signKey: `sign-${id}` };
}

/** Asserts a `NAME_TAKEN` error with a message fragment. */
function assertNameTaken(fn: () => unknown, fragment: string): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof PeerstreamError, `expected PeerstreamError, got ${error}`);
    equal(error.code, "NAME_TAKEN");
    ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    return true;
  });
}

Deno.test("Directory.register() returns the peers already online and a new binding", () => {
  const dir = new Directory<string>();
  deepEqual(dir.register("alice", { keys: keys("a"), conn: "A" }), {
    others: [],
    newBinding: true,
  });
  deepEqual(dir.register("bob", { keys: keys("b"), conn: "B" }), {
    others: ["alice"],
    newBinding: true,
  });
  equal(dir.size, 2);
  equal(dir.get("bob")?.conn, "B");
  deepEqual([...dir.bindings], [["alice", "sign-a"], ["bob", "sign-b"]]);
});

Deno.test("Directory.register() throws NAME_TAKEN when the name is online, even for the same key", () => {
  const dir = new Directory<string>();
  dir.register("alice", { keys: keys("a"), conn: "A1" });
  assertNameTaken(() => dir.register("alice", { keys: keys("a"), conn: "A2" }), "in use");
  assertNameTaken(() => dir.register("alice", { keys: keys("x"), conn: "X" }), '"alice"');
  equal(dir.get("alice")?.conn, "A1");
  equal(dir.size, 1);
});

Deno.test("Directory.register() throws NAME_TAKEN when another key owns the name of a peer who left", () => {
  const dir = new Directory<string>();
  dir.register("alice", { keys: keys("a"), conn: "A" });
  dir.unregister("alice");
  assertNameTaken(
    () => dir.register("alice", { keys: keys("mallory"), conn: "M" }),
    "belongs to another key",
  );
  equal(dir.size, 0);
  equal(dir.lookup("alice")?.keys.signKey, "sign-a");
});

Deno.test("Directory.register() accepts the owning key again after a leave, with no new binding", () => {
  const dir = new Directory<string>();
  dir.register("alice", { keys: keys("a"), conn: "A1" });
  dir.unregister("alice");
  deepEqual(dir.register("alice", { keys: keys("a"), conn: "A2" }), {
    others: [],
    newBinding: false,
  });
  deepEqual(dir.lookup("alice"), { keys: keys("a"), online: true });
});

Deno.test("Directory.register() enforces bindings passed in from a previous run", () => {
  const bindings = new Map([["alice", "sign-a"]]);
  const dir = new Directory<string>({ bindings });
  assertNameTaken(() => dir.register("alice", { keys: keys("x"), conn: "X" }), "operator");
  deepEqual(dir.register("alice", { keys: keys("a"), conn: "A" }), {
    others: [],
    newBinding: false,
  });
  deepEqual(dir.register("bob", { keys: keys("b"), conn: "B" }), {
    others: ["alice"],
    newBinding: true,
  });
  // The directory keeps the caller's map up to date, so that it can be persisted.
  equal(bindings.get("bob"), "sign-b");
});

Deno.test("Directory.release() frees a binding so that another key may take the name", () => {
  const dir = new Directory<string>();
  dir.register("alice", { keys: keys("a"), conn: "A" });
  dir.unregister("alice");
  equal(dir.release("alice"), true);
  equal(dir.release("alice"), false);
  equal(dir.release("nobody"), false);
  equal(dir.lookup("alice"), undefined);
  deepEqual(dir.register("alice", { keys: keys("x"), conn: "X" }), {
    others: [],
    newBinding: true,
  });
  equal(dir.bindings.get("alice"), "sign-x");
});

Deno.test("Directory.unregister() returns the connections still online, and [] for an unknown name", () => {
  const dir = new Directory<string>();
  dir.register("alice", { keys: keys("a"), conn: "A" });
  dir.register("bob", { keys: keys("b"), conn: "B" });
  dir.register("carol", { keys: keys("c"), conn: "C" });
  deepEqual(dir.unregister("bob").sort(), ["A", "C"]);
  deepEqual(dir.unregister("bob"), []);
  deepEqual(dir.unregister("nobody"), []);
  equal(dir.size, 2);
  equal(dir.get("bob"), undefined);
});

Deno.test("Directory.othersThan() returns every online connection except the named one", () => {
  const dir = new Directory<string>();
  deepEqual(dir.othersThan("alice"), []);
  dir.register("alice", { keys: keys("a"), conn: "A" });
  deepEqual(dir.othersThan("alice"), []);
  dir.register("bob", { keys: keys("b"), conn: "B" });
  dir.register("carol", { keys: keys("c"), conn: "C" });
  deepEqual(dir.othersThan("alice").sort(), ["B", "C"]);
  deepEqual(dir.othersThan("nobody").sort(), ["A", "B", "C"]);
  dir.unregister("carol");
  deepEqual(dir.othersThan("alice"), ["B"]);
});

Deno.test("Directory.lookup() returns keys of online and recently-left peers, undefined otherwise", () => {
  const dir = new Directory<string>();
  equal(dir.lookup("alice"), undefined);
  dir.register("alice", { keys: keys("a"), conn: "A" });
  deepEqual(dir.lookup("alice"), { keys: keys("a"), online: true });
  dir.unregister("alice");
  deepEqual(dir.lookup("alice"), { keys: keys("a"), online: false });
  equal(dir.lookup("bob"), undefined);
});

/** Asserts a `NAME_LIMIT` error with a message fragment. */
function assertNameLimit(fn: () => unknown, fragment: string): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof PeerstreamError, `expected PeerstreamError, got ${error}`);
    equal(error.code, "NAME_LIMIT");
    ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    return true;
  });
}

Deno.test("Directory.register() binds at most maxNamesPerKey names to one key; old names keep working", () => {
  const dir = new Directory<string>({ maxNamesPerKey: 2 });
  dir.register("a1", { keys: keys("a"), conn: "A1" });
  dir.register("a2", { keys: keys("a"), conn: "A2" });
  assertNameLimit(() => dir.register("a3", { keys: keys("a"), conn: "A3" }), "2 names");
  dir.register("b1", { keys: keys("b"), conn: "B1" });
  dir.unregister("a1");
  deepEqual(dir.register("a1", { keys: keys("a"), conn: "A1" }).newBinding, false);
  // Bindings from an earlier run may exceed the limit: they still work, and no more are made.
  const old = new Directory<string>({
    maxNamesPerKey: 1,
    bindings: new Map([["x1", "sign-x"], ["x2", "sign-x"]]),
  });
  old.register("x2", { keys: keys("x"), conn: "X2" });
  assertNameLimit(() => old.register("x3", { keys: keys("x"), conn: "X3" }), "1 names");
  // A release frees a slot.
  dir.unregister("a2");
  equal(dir.release("a2"), true);
  dir.register("a3", { keys: keys("a"), conn: "A3" });
});

Deno.test("Directory.register() refuses new names with NAME_LIMIT past maxNames or when canBind says no", () => {
  const dir = new Directory<string>({ maxNames: 2 });
  dir.register("a", { keys: keys("a"), conn: "A" });
  dir.register("b", { keys: keys("b"), conn: "B" });
  assertNameLimit(() => dir.register("c", { keys: keys("c"), conn: "C" }), "holds 2 names");
  let asked = 0;
  const no = () => (asked++, false);
  const fresh = new Directory<string>();
  assertNameLimit(
    () => fresh.register("c", { keys: keys("c"), conn: "C", canBind: no }),
    "your address",
  );
  equal(asked, 1);
  fresh.register("c", { keys: keys("c"), conn: "C" });
  fresh.unregister("c");
  // An existing binding needs no new one: canBind is not asked.
  fresh.register("c", { keys: keys("c"), conn: "C", canBind: no });
  equal(asked, 1);
});

Deno.test("Directory.register() with ephemeral holds the name only while online and never persists it", () => {
  const bindings = new Map<string, string>();
  const dir = new Directory<string>({ bindings, maxNamesPerKey: 1 });
  deepEqual(dir.register("eve", { keys: keys("e1"), conn: "E1", ephemeral: true }), {
    others: [],
    newBinding: false,
  });
  equal(bindings.size, 0, "nothing to persist");
  assertNameTaken(() => dir.register("eve", { keys: keys("x"), conn: "X" }), "in use");
  dir.unregister("eve");
  // Freed: another key may take it, for good this time.
  deepEqual(dir.register("eve", { keys: keys("e2"), conn: "E2" }).newBinding, true);
  equal(bindings.get("eve"), "sign-e2");
  dir.unregister("eve");
  // A name bound to a persistent key cannot be taken by an ephemeral one; its own key may use it
  // ephemerally and the binding stays.
  assertNameTaken(
    () => dir.register("eve", { keys: keys("e3"), conn: "E3", ephemeral: true }),
    "another key",
  );
  dir.register("eve", { keys: keys("e2"), conn: "E2", ephemeral: true });
  dir.unregister("eve");
  equal(bindings.get("eve"), "sign-e2");
  // Ephemeral names do not count toward a key's names.
  dir.register("tmp1", { keys: keys("k"), conn: "K1", ephemeral: true });
  dir.register("tmp2", { keys: keys("k"), conn: "K2", ephemeral: true });
  dir.register("kept", { keys: keys("k"), conn: "K3" });
});

/** Asserts a `NAME_CONFUSABLE` error naming the look-alike. */
function assertConfusable(fn: () => unknown, lookalike: string): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof PeerstreamError, `expected PeerstreamError, got ${error}`);
    equal(error.code, "NAME_CONFUSABLE", error.message);
    ok(error.message.includes(`"${lookalike}"`), error.message);
    return true;
  });
}

Deno.test("Directory.register() refuses a name that looks like a name of another key with NAME_CONFUSABLE", async (t) => {
  for (const name of ["Alice", "ALICE", "aIice", "a1ice", "alIce"]) {
    await t.step(name, () => {
      const dir = new Directory<string>();
      dir.register("alice", { keys: keys("a"), conn: "A" });
      dir.unregister("alice");
      assertConfusable(() => dir.register(name, { keys: keys("m"), conn: "M" }), "alice");
      assertConfusable(
        () => dir.register(name, { keys: keys("m"), conn: "M", ephemeral: true }),
        "alice",
      );
      // The same key may hold look-alikes of its own names.
      dir.register(name, { keys: keys("a"), conn: "A2" });
    });
  }
  await t.step("an ephemeral name online counts while it is online", () => {
    const dir = new Directory<string>();
    dir.register("eve", { keys: keys("e"), conn: "E", ephemeral: true });
    assertConfusable(() => dir.register("EVE", { keys: keys("m"), conn: "M" }), "eve");
    dir.unregister("eve");
    dir.register("EVE", { keys: keys("m"), conn: "M" });
  });
  await t.step("a release frees the look-alikes too", () => {
    const dir = new Directory<string>();
    dir.register("bob", { keys: keys("b"), conn: "B" });
    dir.unregister("bob");
    dir.release("bob");
    dir.register("BOB", { keys: keys("m"), conn: "M" });
  });
});

Deno.test("Directory keeps bindings that collide from an earlier run working for their own keys", () => {
  const bindings = new Map([["alice", "sign-a"], ["Alice", "sign-m"]]);
  const dir = new Directory<string>({ bindings });
  dir.register("alice", { keys: keys("a"), conn: "A" });
  dir.register("Alice", { keys: keys("m"), conn: "M" });
  assertConfusable(() => dir.register("ALICE", { keys: keys("x"), conn: "X" }), "alice");
  equal(dir.bindings.size, 2);
});

Deno.test("Directory.bind() adds a binding made by the operator: its key owns the name and its look-alikes", () => {
  const dir = new Directory<string>({ maxNamesPerKey: 2 });
  equal(dir.bind("alice2", keys("a").signKey), true);
  equal(dir.bind("alice2", keys("x").signKey), false);
  equal(dir.bindings.get("alice2"), keys("a").signKey);
  assertNameTaken(() => dir.register("alice2", { keys: keys("x"), conn: "X" }), "another key");
  assertConfusable(() => dir.register("aIice2", { keys: keys("x"), conn: "X" }), "alice2");
  dir.register("alice2", { keys: keys("a"), conn: "A" });
  // It counts towards the key's names: one more binding fits, a third does not.
  dir.register("ann", { keys: keys("a"), conn: "A2" });
  throws(() => dir.register("amy", { keys: keys("a"), conn: "A3" }), /already holds 2 names/);
});
