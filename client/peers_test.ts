import { deepEqual, equal } from "node:assert/strict";
import { PeerList } from "./peers.ts";

Deno.test("PeerList.names() is empty before any welcome", () => {
  const peers = new PeerList();
  deepEqual(peers.names(), []);
  equal(peers.has("alice"), false);
});

Deno.test("PeerList.reset() lists the others sorted, never the client itself", () => {
  const peers = new PeerList();
  peers.reset("me", ["carol", "me", "alice", "bob"]);
  deepEqual(peers.names(), ["alice", "bob", "carol"]);
  equal(peers.has("me"), false);
  equal(peers.has("bob"), true);
});

Deno.test("PeerList.reset() starts over, forgetting earlier peers", () => {
  const peers = new PeerList();
  peers.reset("me", ["alice", "bob"]);
  peers.joined("carol");
  peers.reset("me2", ["dave", "me"]);
  deepEqual(peers.names(), ["dave", "me"]);
  equal(peers.has("alice"), false);
  equal(peers.has("carol"), false);
  peers.reset("me", []);
  deepEqual(peers.names(), []);
});

Deno.test("PeerList.joined() returns true for a new peer and false for a duplicate or itself", () => {
  const peers = new PeerList();
  peers.reset("me", ["alice"]);
  equal(peers.joined("bob"), true);
  equal(peers.joined("bob"), false);
  equal(peers.joined("alice"), false);
  equal(peers.joined("me"), false);
  deepEqual(peers.names(), ["alice", "bob"]);
});

Deno.test("PeerList.left() returns true once for a listed peer, false otherwise", () => {
  const peers = new PeerList();
  peers.reset("me", ["alice", "bob"]);
  equal(peers.left("alice"), true);
  equal(peers.left("alice"), false);
  equal(peers.left("nobody"), false);
  equal(peers.left("me"), false);
  equal(peers.has("alice"), false);
  deepEqual(peers.names(), ["bob"]);
  // A peer who left may join again.
  equal(peers.joined("alice"), true);
  deepEqual(peers.names(), ["alice", "bob"]);
});

Deno.test("PeerList.names() sorts whatever the arrival order, and returns a copy", () => {
  const peers = new PeerList();
  peers.reset("me", []);
  for (const name of ["zoe", "Émile", "bob", "alice", "Bob"]) peers.joined(name);
  const names = peers.names();
  deepEqual(names, ["alice", "bob", "Bob", "Émile", "zoe"]);
  names.push("intruder");
  equal(peers.has("intruder"), false);
  equal(peers.names().length, 5);
});
