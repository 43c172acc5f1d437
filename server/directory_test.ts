import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
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
