/**
 * `RedisCommunity` faults of nodes, on a real redis-server with short heartbeats: a crashed node's
 * peers announced gone within the TTL, a restarted node replacing its own stale presence, a second
 * live node of one name or of another cluster protocol refused, an unreachable Redis explained.
 * @module
 */

import { deepEqual, equal, match, rejects } from "node:assert/strict";
import {
  codeOf,
  type Conn,
  eventually,
  join,
  openRedisNode,
  settle,
} from "../../tests/_community_harness.ts";
import { RedisCommunity } from "./redis_community.ts";
import { RedisServer } from "../../tests/_redis.ts";
import { CLUSTER_PROTOCOL } from "./cluster_wire.ts";
import { closeAll, of, TIMING, withRedis } from "../../tests/_redis_community.ts";

Deno.test("RedisCommunity announces a crashed node's peers gone within the TTL and frees their names", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    try {
      const alice = await join(a, "alice", { key: 1 });
      const bob = await join(b, "bob");
      await eventually(() => of(alice.conn, "joined").length === 1, "alice to see bob");
      // A crash: no goodbye, the heartbeat just stops.
      await (b.community as RedisCommunity<Conn>).close({ graceful: false });
      // The bound the issue sets (10 s); here the TTL is 1 s, so it comes far sooner.
      await eventually(() => of(alice.conn, "left").length === 1, "bob's leave", 10_000);
      deepEqual(of(alice.conn, "left")[0], { k: "left", name: "bob", reason: "disconnected" });
      equal(of(alice.conn, "peer-state").length, 0);
      // bob's name is free for bob's key on another node; not for another key.
      equal(await codeOf(() => join(a, "bob", { key: 99 })), "NAME_TAKEN");
      await join(a, "bob");
      equal(bob.conn.inbox.length, 0);
    } finally {
      await closeAll([a]);
    }
  });
});

Deno.test("RedisCommunity: a restarted node replaces its own stale presence, no ghosts", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    let b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    try {
      const alice = await join(a, "alice");
      await join(b, "ghost");
      await eventually(() => of(alice.conn, "joined").length === 1, "alice to see ghost");
      await (b.community as RedisCommunity<Conn>).close({ graceful: false });
      // The same node name comes back at once (its old heartbeat has not lapsed yet).
      b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
      await eventually(() => of(alice.conn, "left").length === 1, "the ghost to go");
      await settle(3 * TIMING.ttlMs);
      deepEqual(of(alice.conn, "left").map((r) => r.name), ["ghost"]);
      equal(a.community.lookup("ghost")?.online, false);
      await join(b, "ghost");
      await eventually(() => of(alice.conn, "joined").length === 2, "ghost to come back");
    } finally {
      await closeAll([a, b]);
    }
  });
});

Deno.test("RedisCommunity refuses a second live node with the same name", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    try {
      await rejects(openRedisNode(redis, 0, { prefix, timing: TIMING }), (error: Error) => {
        match(error.message, /another live node is named "n0"; give each node its own --node/);
        return true;
      });
    } finally {
      await closeAll([a]);
    }
  });
});

Deno.test("RedisCommunity refuses to join live nodes of another cluster protocol", async () => {
  await withRedis(async (redis, prefix) => {
    await redis.command("SET", `${prefix}alive:old`, "x", "PX", "60000");
    await redis.command("HSET", `${prefix}nodes`, "old", JSON.stringify({ proto: 99, inst: "x" }));
    await rejects(openRedisNode(redis, 0, { prefix, timing: TIMING }), (error: Error) => {
      match(
        error.message,
        new RegExp(
          `^Cannot join the cluster at redis://127\\.0\\.0\\.1:\\d+: node "old" speaks cluster protocol 99 and this node speaks ${CLUSTER_PROTOCOL}; run the same peerstream version on every node$`,
        ),
      );
      return true;
    });
  });
});

Deno.test("RedisCommunity.open() says how to fix an unreachable Redis", async () => {
  const redis = await RedisServer.start();
  const url = redis.url;
  await redis.close();
  await rejects(
    RedisCommunity.open({
      url,
      node: "n0",
      events: {
        joined() {},
        left() {},
        peerState() {},
        deliver() {},
        outcome() {},
        kick() {},
        log() {},
      },
      timing: { ttlMs: 300, beatMs: 100 },
    }),
    (error: Error) => {
      match(
        error.message,
        /^Cannot join the cluster at redis:\/\/127\.0\.0\.1:\d+: .*; check that Redis is running$/,
      );
      return true;
    },
  );
});
