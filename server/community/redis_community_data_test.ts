/**
 * `RedisCommunity` and bad or stored data, on a real redis-server: malformed messages on its
 * channels dropped, corrupt values named and logged once with nothing half-written, the offline
 * queue's keys and byte counts, and queueing refused while Redis is away.
 * @module
 */

import { equal, rejects } from "node:assert/strict";
import {
  type Conn,
  eventually,
  join,
  leave,
  openRedisNode,
} from "../../tests/_community_harness.ts";
import { RedisCommunity } from "./redis_community.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { encodeNodeMessage } from "./cluster_wire.ts";
import { renameClusterName } from "./cluster_admin.ts";
import { nameKeys } from "../../protocol/names.ts";
import { closeAll, of, TIMING, withRedis } from "../../tests/_redis_community.ts";

Deno.test("RedisCommunity drops malformed messages on its channels and goes on", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    try {
      const alice = await join(a, "alice");
      await redis.command("PUBLISH", `${prefix}events`, '{"t":"join","seq":"x"}');
      await redis.command("PUBLISH", `${prefix}events`, "not json");
      await redis.command("PUBLISH", `${prefix}to:n0`, "\u0000\u0000\u0000\u0002{}");
      const wrongVersion = encodeNodeMessage({ t: "result", from: "n1", ref: "r", ok: true });
      wrongVersion[9] = "9".charCodeAt(0); // {"v":1,… → {"v":9,…
      await redis.command("PUBLISH", `${prefix}to:n0`, new TextDecoder().decode(wrongVersion));
      await eventually(
        () => a.log.filter((l) => l.includes("dropped a bad message")).length === 4,
        "four drops",
      );
      await join(b, "bob");
      await eventually(() => of(alice.conn, "joined").length === 1, "alice to see bob");
    } finally {
      await closeAll([a, b]);
    }
  });
});

Deno.test("RedisCommunity names corrupt values it parses from Redis, writes nothing half-way, and logs each once", async (t) => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    try {
      await t.step("a sequence key of the wrong type", async () => {
        await redis.command("DEL", `${prefix}seq`);
        await redis.command("HSET", `${prefix}seq`, "x", "1");
        await rejects(
          join(a, "carol"),
          (error: Error) =>
            error.message ===
              `Cannot join: Redis key "${prefix}seq" is a "hash", not a number; repair or delete it`,
        );
        // Nothing was written before the check: carol is not left online in Redis.
        equal(await redis.command("HEXISTS", `${prefix}online`, "carol"), "0");
        await redis.command("DEL", `${prefix}seq`);
        await join(a, "carol");
      });
      await t.step(
        "a presence entry that is not JSON, met while checking look-alikes",
        async () => {
          await redis.command("HSET", `${prefix}online`, "dave", "{oops");
          await redis.command("SADD", `${prefix}lk:dave`, "dave");
          await rejects(
            join(a, "DAVE", { key: 7 }),
            (error: Error) =>
              error.message ===
                `Cannot join: Redis key "${prefix}online" field "dave" holds "{oops", not a presence entry (JSON); repair or delete it`,
          );
        },
      );
      await t.step(
        "a sequence that is too long to be a number is logged once for many joins",
        async () => {
          await redis.command("SET", `${prefix}seq`, "9".repeat(30));
          for (const name of ["erin", "frank", "gina"]) {
            await rejects(join(a, name), /Redis key "f:seq" holds "9{30}", not a number/);
          }
          const logged = a.log.filter((line) => line.includes(`Redis key "${prefix}seq" holds`));
          equal(logged.length, 1, logged.join("\n"));
        },
      );
    } finally {
      await closeAll([a]);
    }
  });
});

Deno.test("RedisCommunity's offline queue leaves no keys once empty, counts the bytes in all, and goes with a released or renamed name", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    const keys = async (name: string) =>
      [
        await redis.command("EXISTS", `${prefix}q:${name}`),
        await redis.command("EXISTS", `${prefix}qm:${name}`),
        await redis.command("ZSCORE", `${prefix}qdue`, name) !== "",
        await redis.command("GET", `${prefix}qtotal`),
      ].join(" ");
    try {
      const alice = await join(a, "alice");
      for (const name of ["bob", "carol", "dave"]) {
        const peer = await join(b, name);
        await eventually(() => of(alice.conn, "joined").some((r) => r.name === name), name);
        leave(b, peer.conn);
        await eventually(() => of(alice.conn, "left").some((r) => r.name === name), name);
      }
      const send = (requestId: number, to: string, size: number) =>
        a.community.send(alice.conn, { requestId, to, body: new Uint8Array(size) });
      send(1, "bob", 100);
      send(2, "bob", 20);
      send(3, "carol", 7);
      await eventually(() => of(alice.conn, "queued").length === 3, "three queued");
      equal(await keys("bob"), "1 1 true 127");
      // bob confirms both: his queue's keys go, the bytes in all are carol's alone.
      const bob = await join(b, "bob");
      await eventually(() => of(bob.conn, "deliver").length === 2, "bob's queue");
      for (const d of of(bob.conn, "deliver")) {
        b.community.receipt(bob.conn, { rid: d.rid, ok: true });
      }
      await eventually(() => of(alice.conn, "notice").length === 2, "alice told");
      equal(await keys("bob"), "0 0 false 7");
      // Released, carol's queue goes with her binding: never for the name's next holder.
      equal(await a.community.release("carol"), true);
      equal(await keys("carol"), "0 0 false 0");
      // Renamed, dave's queue goes too: it was addressed to a name anyone may claim now.
      send(4, "dave", 5);
      await eventually(() => of(alice.conn, "queued").length === 4, "dave's queued");
      equal(await keys("dave"), "1 1 true 5");
      const renamed = { from: "dave", to: "david", lookalikes: nameKeys("david") };
      equal(await renameClusterName(redis.url, renamed, prefix), "OK");
      equal(await keys("dave"), "0 0 false 0");
      // alice's notices were sent to her at once: her own queue is empty again too.
      equal(await keys("alice"), "0 0 false 0");
    } finally {
      await closeAll([a, b]);
    }
  });
});

Deno.test("RedisCommunity refuses to queue while Redis is away, saying so, and queues once it is back", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    try {
      const alice = await join(a, "alice");
      const bob = await join(a, "bob");
      leave(a, bob.conn);
      // A clean stop: Redis writes its append-only file (a kill may lose bob's new binding).
      await redis.stop();
      await eventually(() => !(a.community as RedisCommunity<Conn>).up, "node a to notice");
      const send = () =>
        a.community.send(alice.conn, { requestId: 1, to: "bob", body: new Uint8Array(1) });
      await rejects(
        async () => await send(),
        (e: Error) =>
          e instanceof PeerstreamError && e.code === "UNAVAILABLE" &&
          e.message ===
            'Cannot queue for "bob": the cluster cannot be reached now; try again shortly',
      );
      await redis.restart();
      await eventually(() => (a.community as RedisCommunity<Conn>).up, "node a back up");
      send();
      await eventually(() => of(alice.conn, "queued").length === 1, "queued once Redis is back");
    } finally {
      await closeAll([a]);
    }
  });
});
