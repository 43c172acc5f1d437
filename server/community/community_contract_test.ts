/**
 * The community contract, names and presence: every test runs against the in-memory community
 * and against three Redis nodes sharing one real redis-server (`tests/_community_contract.ts`);
 * the behaviour a client sees must be the same. Delivery is `community_delivery_contract_test.ts`.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import {
  barrier,
  codeOf,
  type Conn,
  eventually,
  join,
  keysOf,
  leave,
  nodesOf,
  settle,
} from "../../tests/_community_harness.ts";
import {
  contract,
  joinedNames,
  leftNames,
  stopSharedRedis,
} from "../../tests/_community_contract.ts";

contract("announces a join once to everyone else and lists peers in the welcome", async (h) => {
  const alice = await join(h.node(0), "alice");
  const bob = await join(h.node(1), "bob");
  await eventually(() => joinedNames(alice.conn).includes("bob"), "alice to see bob");
  deepEqual(bob.welcome.peers, ["alice"]);
  deepEqual(bob.welcome.unreachable, []);
  const carol = await join(h.node(2), "carol");
  deepEqual(carol.welcome.peers.sort(), ["alice", "bob"]);
  await eventually(() => joinedNames(bob.conn).includes("carol"), "bob to see carol");
  await eventually(() => joinedNames(alice.conn).includes("carol"), "alice to see carol");
  await barrier(nodesOf(h), [alice.conn, bob.conn, carol.conn]);
  deepEqual(joinedNames(alice.conn), ["bob", "carol"]);
  deepEqual(joinedNames(bob.conn), ["carol"]);
  deepEqual(joinedNames(carol.conn), []);
  leave(h.node(1), bob.conn);
  await eventually(() => leftNames(alice.conn).includes("bob"), "alice to see bob leave");
  await eventually(() => leftNames(carol.conn).includes("bob"), "carol to see bob leave");
  await barrier(nodesOf(h), [alice.conn, carol.conn]);
  deepEqual(leftNames(alice.conn), ["bob"]);
  deepEqual(leftNames(carol.conn), ["bob"]);
});

contract("tells each of many racing joiners of every other exactly once", async (h) => {
  const names = Array.from({ length: 24 }, (_, i) => `racer${i}`);
  const joined = await Promise.all(names.map((name, i) => join(h.node(i % 3), name)));
  await eventually(
    () => joined.every((j) => j.welcome.peers.length + joinedNames(j.conn).length >= 23),
    "everyone to know everyone",
  );
  await barrier(nodesOf(h), joined.map((j) => j.conn));
  for (const [i, j] of joined.entries()) {
    const told = [...j.welcome.peers, ...joinedNames(j.conn)].sort();
    deepEqual(told, names.filter((_, k) => k !== i).sort(), names[i]);
  }
});

contract("refuses a name online on any node, and a name bound to another key", async (h) => {
  const alice = await join(h.node(0), "alice", { key: 1 });
  equal(await codeOf(() => join(h.node(1), "alice", { key: 1 })), "NAME_TAKEN");
  equal(await codeOf(() => join(h.node(0), "alice", { key: 2 })), "NAME_TAKEN");
  leave(h.node(0), alice.conn);
  await settle();
  equal(await codeOf(() => join(h.node(2), "alice", { key: 2 })), "NAME_TAKEN");
  const again = await join(h.node(2), "alice", { key: 1 });
  equal(again.welcome.newBinding, false);
});

contract("gives one name to exactly one of 20 keys racing for it across nodes", async (h) => {
  const attempts = Array.from({ length: 20 }, (_, i) => join(h.node(i % 3), "prize", { key: i }));
  const results = await Promise.allSettled(attempts);
  const won = results.filter((r) => r.status === "fulfilled");
  equal(won.length, 1);
  for (const r of results) {
    if (r.status === "rejected") equal((r.reason as { code: string }).code, "NAME_TAKEN");
  }
});

contract("frees a released name for another key", async (h) => {
  const alice = await join(h.node(0), "alice", { key: 1 });
  leave(h.node(0), alice.conn);
  await settle();
  equal(await h.node(1).community.release("alice"), true);
  equal(await h.node(1).community.release("alice"), false);
  const taken = await join(h.node(2), "alice", { key: 2 });
  equal(taken.welcome.newBinding, true);
});

contract("bounds the names one key may bind, across nodes", async (h) => {
  await join(h.node(0), "one", { key: 7 });
  await join(h.node(1), "two", { key: 7 });
  equal(await codeOf(() => join(h.node(2), "three", { key: 7 })), "NAME_LIMIT");
  // An ephemeral name binds nothing, so it is not counted.
  await join(h.node(2), "four", { key: 7, ephemeral: true });
}, { limits: { maxNamesPerKey: 2 } });

contract("holds an ephemeral name only while connected", async (h) => {
  const temp = await join(h.node(0), "temp", { key: 1, ephemeral: true });
  equal(temp.welcome.newBinding, false);
  equal(await codeOf(() => join(h.node(1), "temp", { key: 2 })), "NAME_TAKEN");
  leave(h.node(0), temp.conn);
  await settle();
  await join(h.node(1), "temp", { key: 2 });
});

contract("refuses an ephemeral key a name bound to a persistent one", async (h) => {
  const alice = await join(h.node(0), "alice", { key: 1 });
  leave(h.node(0), alice.conn);
  await settle();
  equal(await codeOf(() => join(h.node(1), "alice", { key: 9, ephemeral: true })), "NAME_TAKEN");
});

contract("refuses a look-alike of a name bound to another key", async (h) => {
  await join(h.node(0), "alice", { key: 1 });
  equal(await codeOf(() => join(h.node(1), "aIice", { key: 2 })), "NAME_CONFUSABLE");
  equal(await codeOf(() => join(h.node(2), "ALICE", { key: 2 })), "NAME_CONFUSABLE");
  // The same key may hold look-alikes of its own names.
  await join(h.node(2), "Alice", { key: 1 });
});

contract(
  "bounds the names bound in all; asks the node's budget only for a new binding",
  async (h) => {
    let asked = 0;
    const budget = (ok: boolean) => () => {
      asked++;
      return ok;
    };
    const first = await join(h.node(0), "first", { key: 1, canBind: budget(true) });
    equal(asked, 1);
    leave(h.node(0), first.conn);
    await settle();
    // Already bound to this key: no new binding, the budget is not asked.
    await join(h.node(1), "first", { key: 1, canBind: budget(false) });
    equal(asked, 1);
    equal(
      await codeOf(() => join(h.node(2), "second", { key: 2, canBind: budget(false) })),
      "NAME_LIMIT",
    );
    await join(h.node(2), "second", { key: 2, canBind: budget(true) });
    equal(await codeOf(() => join(h.node(0), "third", { key: 3 })), "NAME_LIMIT");
    // An ephemeral name binds nothing.
    await join(h.node(0), "third", { key: 3, ephemeral: true });
  },
  { limits: { maxNames: 2 } },
);

contract("refuses a look-alike of a name online with another key, ephemeral or not", async (h) => {
  const temp = await join(h.node(0), "zoe", { key: 1, ephemeral: true });
  equal(await codeOf(() => join(h.node(1), "ZOE", { key: 2 })), "NAME_CONFUSABLE");
  leave(h.node(0), temp.conn);
  await settle();
  await join(h.node(1), "ZOE", { key: 2 });
});

contract("tells a peer's keys from any node, and after it left", async (h) => {
  const alice = await join(h.node(0), "alice", { key: 4 });
  const bob = await join(h.node(1), "bob");
  await eventually(() => h.node(1).community.lookup("alice") !== undefined, "node 1 to know alice");
  deepEqual(h.node(1).community.lookup("alice"), { keys: keysOf(4), online: true });
  equal(h.node(2).community.lookup("nobody"), undefined);
  leave(h.node(0), alice.conn);
  await eventually(() => leftNames(bob.conn).includes("alice"), "bob to see alice leave");
  deepEqual(h.node(1).community.lookup("alice"), { keys: keysOf(4), online: false });
});

contract("takes a connection that closes during its join offline again", async (h) => {
  const node = h.node(1);
  const conn: Conn = { id: -1, node: 1, registered: false, inbox: [] };
  const pending = node.community.join({
    name: "flaky",
    lookalikes: ["flaky"],
    keys: keysOf("flaky"),
    conn,
    ephemeral: false,
  });
  node.community.leave(conn, "disconnected");
  await pending.catch(() => {});
  await settle();
  // The binding stays with its key, but nobody holds the name online.
  await join(h.node(2), "flaky");
});

Deno.test("community contract: stop the shared redis-server", async () => {
  await stopSharedRedis();
  ok(true);
});
