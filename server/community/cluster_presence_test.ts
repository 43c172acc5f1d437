import { deepEqual, equal } from "node:assert/strict";
import { PresenceReplica } from "./cluster_presence.ts";
import type { PresenceEntry } from "./cluster_wire.ts";

const e = (name: string, node: string): PresenceEntry => ({
  name,
  node,
  encKey: `e-${name}`,
  signKey: `s-${name}`,
});
const strip = (list: unknown[]) =>
  list.map((a) => {
    const { keys: _keys, ...rest } = a as Record<string, unknown>;
    return rest;
  });

Deno.test("PresenceReplica.apply() announces remote joins and leaves, skips its own node", () => {
  const r = new PresenceReplica("me");
  deepEqual(r.apply({ t: "join", seq: 1, entry: e("bob", "n1") }), [{
    kind: "joined",
    name: "bob",
  }]);
  deepEqual(r.apply({ t: "join", seq: 2, entry: e("mine", "me") }), []);
  deepEqual(strip(r.apply({ t: "leave", seq: 3, node: "n1", name: "bob", reason: "quit" })), [
    { kind: "left", name: "bob", reason: "quit" },
  ]);
  equal(r.gap, false);
});

Deno.test("PresenceReplica.apply() skips stale events and flags a gap", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("bob", "n1") });
  deepEqual(r.apply({ t: "join", seq: 1, entry: e("bob", "n1") }), []);
  equal(r.gap, false);
  deepEqual(r.apply({ t: "join", seq: 5, entry: e("eve", "n2") }), [{
    kind: "joined",
    name: "eve",
  }]);
  equal(r.gap, true);
});

Deno.test("PresenceReplica ignores a leave from a node that no longer holds the name", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("bob", "n2") });
  deepEqual(r.apply({ t: "leave", seq: 2, node: "n1", name: "bob", reason: "quit" }), []);
  equal(r.get("bob")?.node, "n2");
});

Deno.test("PresenceReplica: gone takes a node's peers offline; gone of itself asks to resync", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("a", "n1") });
  r.apply({ t: "join", seq: 2, entry: e("b", "n1") });
  r.apply({ t: "join", seq: 3, entry: e("c", "n2") });
  deepEqual(strip(r.apply({ t: "gone", seq: 4, node: "n1", names: ["a", "b"] })), [
    { kind: "left", name: "a", reason: "disconnected" },
    { kind: "left", name: "b", reason: "disconnected" },
  ]);
  equal(r.reaped, false);
  r.apply({ t: "gone", seq: 5, node: "me", names: [] });
  equal(r.reaped, true);
});

Deno.test("PresenceReplica: sync of a node replaces its peers, announcing only changes", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("a", "n1") });
  r.apply({ t: "join", seq: 2, entry: e("b", "n1") });
  deepEqual(
    strip(r.apply({ t: "sync", seq: 3, node: "n1", entries: [e("b", "n1"), e("c", "n1")] })),
    [
      { kind: "left", name: "a", reason: "disconnected" },
      { kind: "joined", name: "c" },
    ],
  );
});

Deno.test("PresenceReplica: an outage marks peers unreachable, the snapshot brings them back once", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("a", "n1") });
  r.apply({ t: "join", seq: 2, entry: e("b", "n2") });
  r.apply({ t: "join", seq: 3, entry: e("c", "n3") });
  deepEqual(r.lost(), [{ kind: "peer-state", names: ["a", "b", "c"], state: "unreachable" }]);
  deepEqual(r.lost(), []);
  deepEqual(r.names(), { reachable: [], unreachable: ["a", "b", "c"] });
  r.hold();
  // Held while the snapshot is taken: seq 9 is covered by it, seq 11 is not.
  deepEqual(r.apply({ t: "join", seq: 9, entry: e("d", "n1") }), []);
  deepEqual(r.apply({ t: "join", seq: 11, entry: e("f", "n1") }), []);
  const out = r.snapshot({
    seq: 10,
    // a is back on n1 (alive); b's node n2 is alive and lost b meanwhile; n3 has not come back.
    entries: [e("a", "n1"), e("d", "n1"), e("mine", "me")],
    liveNodes: ["n1", "n2", "me"],
  });
  deepEqual(strip(out), [
    { kind: "peer-state", names: ["a"], state: "reachable" },
    { kind: "joined", name: "d" },
    { kind: "left", name: "b", reason: "disconnected" },
    { kind: "joined", name: "f" },
  ]);
  deepEqual(r.names(), { reachable: ["a", "d", "f"], unreachable: ["c"] });
  equal(r.get("mine"), undefined);
  // n3 comes back within the grace period: c is reachable again, not joined twice.
  deepEqual(r.apply({ t: "sync", seq: 12, node: "n3", entries: [e("c", "n3")] }), [
    { kind: "peer-state", names: ["c"], state: "reachable" },
  ]);
  deepEqual(r.expire(), []);
});

Deno.test("PresenceReplica.expire() gives up on peers whose node did not come back", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("c", "n3") });
  r.lost();
  r.hold();
  deepEqual(r.snapshot({ seq: 1, entries: [], liveNodes: [] }), []);
  deepEqual(strip(r.expire()), [{ kind: "left", name: "c", reason: "disconnected" }]);
  equal(r.size, 0);
});

Deno.test("PresenceReplica.forget() drops a name that moved to this node without announcing it", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("bob", "n1") });
  r.forget("bob");
  deepEqual(r.apply({ t: "leave", seq: 2, node: "n1", name: "bob", reason: "quit" }), []);
});

Deno.test("PresenceReplica.snapshot() keeps peers of a node not listening yet unreachable", () => {
  const r = new PresenceReplica("me");
  r.apply({ t: "join", seq: 1, entry: e("bob", "n1") });
  r.lost();
  r.hold();
  // After a Redis restart bob is listed again (from the append-only file), but n1 has not
  // reconnected: bob stays unreachable, and becomes reachable with n1's own sync.
  deepEqual(r.snapshot({ seq: 5, entries: [e("bob", "n1")], liveNodes: ["me"] }), []);
  deepEqual(r.names(), { reachable: [], unreachable: ["bob"] });
  deepEqual(r.apply({ t: "sync", seq: 6, node: "n1", entries: [e("bob", "n1")] }), [
    { kind: "peer-state", names: ["bob"], state: "reachable" },
  ]);
});
