// Faults only a cluster has: crashed and restarted nodes, Redis going away and coming back, node
// names, versions, and garbage on the channels. Real redis-server on loopback, short heartbeats.

import { deepEqual, equal, match, rejects } from "node:assert/strict";
import {
  barrier,
  codeOf,
  type Conn,
  eventually,
  join,
  leave,
  openRedisNode,
  type Received,
  settle,
  type TestNode,
} from "../../tests/_community_harness.ts";
import { RedisCommunity } from "./redis_community.ts";
import { RedisServer } from "../../tests/_redis.ts";
import { PeerstreamError } from "../../protocol/errors.ts";
import { until } from "../../tests/_util.ts";
import { CLUSTER_PROTOCOL, encodeNodeMessage } from "./cluster_wire.ts";
import { renameClusterName } from "./cluster_admin.ts";
import { nameKeys } from "../../protocol/names.ts";

const TIMING = { ttlMs: 1000, beatMs: 150, commandTimeoutMs: 500 };

async function withRedis(body: (redis: RedisServer, prefix: string) => Promise<void>) {
  const redis = await RedisServer.start();
  try {
    await body(redis, "f:");
  } finally {
    await redis.close();
  }
}

const of = <K extends Received["k"]>(conn: Conn, k: K) =>
  conn.inbox.filter((r): r is Extract<Received, { k: K }> => r.k === k);

/**
 * A node that is alive and listening but runs no community: a bare subscriber on its channel,
 * with its heartbeat and registration written by hand.
 *
 * @returns The subscriber's connection; close it at the end.
 */
async function liveBareNode(redis: RedisServer, prefix: string, node: string): Promise<Deno.Conn> {
  const listener = await Deno.connect({ hostname: "127.0.0.1", port: redis.port });
  const channel = `${prefix}to:${node}`;
  await listener.write(
    new TextEncoder().encode(`*2\r\n$9\r\nSUBSCRIBE\r\n$${channel.length}\r\n${channel}\r\n`),
  );
  await listener.read(new Uint8Array(256));
  await redis.command("SET", `${prefix}alive:${node}`, "x", "PX", "60000");
  await redis.command(
    "HSET",
    `${prefix}nodes`,
    node,
    JSON.stringify({ proto: CLUSTER_PROTOCOL, inst: "x" }),
  );
  return listener;
}

async function closeAll(nodes: TestNode[]) {
  for (const n of nodes) await n.community.close();
}

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

Deno.test("RedisCommunity keeps local chat through a Redis outage and resynchronises once", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    try {
      const alice = await join(a, "alice");
      const amy = await join(a, "amy");
      const bob = await join(b, "bob");
      await eventually(() => of(alice.conn, "joined").length === 2, "alice to see amy and bob");
      await redis.stop();
      await eventually(() => of(alice.conn, "peer-state").length === 1, "bob shown unreachable");
      deepEqual(of(alice.conn, "peer-state")[0], {
        k: "peer-state",
        names: ["bob"],
        state: "unreachable",
      });
      equal(of(alice.conn, "left").length, 0);
      // New joins wait for Redis; messages across nodes fail to their sender; local chat goes on.
      equal(await codeOf(() => join(a, "late")), "UNAVAILABLE");
      const send = (to: string, id: number) => () =>
        a.community.send(alice.conn, { requestId: id, to, body: new Uint8Array([id]) });
      equal(await codeOf(send("bob", 1)), "PEER_UNREACHABLE");
      equal(await codeOf(send("amy", 2)), "none");
      equal(of(amy.conn, "deliver").length, 1);
      // amy leaves during the outage: announced here at once, elsewhere after the resync.
      leave(a, amy.conn);
      await redis.restart();
      await eventually(() => of(alice.conn, "peer-state").length === 2, "bob reachable again");
      deepEqual(of(alice.conn, "peer-state")[1], {
        k: "peer-state",
        names: ["bob"],
        state: "reachable",
      });
      await eventually(
        () => of(bob.conn, "left").some((r) => r.name === "amy"),
        "bob to see amy left",
      );
      equal(await codeOf(send("bob", 3)), "none");
      await eventually(() => of(bob.conn, "deliver").length === 1, "bob to get the message");
      await settle(3 * TIMING.ttlMs);
      // Nobody was announced twice, nobody left who stayed.
      deepEqual(of(alice.conn, "joined").map((r) => r.name), ["amy", "bob"]);
      deepEqual(of(alice.conn, "left").map((r) => r.name), ["amy"]);
      deepEqual(of(bob.conn, "joined").map((r) => r.name), []);
      deepEqual(of(bob.conn, "left").map((r) => r.name), ["amy"]);
      equal(of(bob.conn, "deliver").length, 1);
      await join(a, "late");
    } finally {
      await closeAll([a, b]);
    }
  });
});

/**
 * alice on node a has sent bob on node b one message, which bob has received (not confirmed yet).
 * Runs `body`, then closes both nodes.
 */
async function withMessageInFlight(
  redis: RedisServer,
  prefix: string,
  requestId: number,
  body: (nodes: { a: TestNode; b: TestNode; alice: Conn; bob: Conn }) => Promise<void>,
) {
  const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
  const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
  try {
    const alice = (await join(a, "alice")).conn;
    const bob = (await join(b, "bob")).conn;
    await eventually(() => of(alice, "joined").length === 1, "alice to see bob");
    a.community.send(alice, { requestId, to: "bob", body: new Uint8Array([requestId]) });
    await eventually(() => of(bob, "deliver").length === 1, "bob to get it");
    await body({ a, b, alice, bob });
  } finally {
    await closeAll([a, b]);
  }
}

Deno.test("RedisCommunity fails messages in flight when Redis goes away", async () => {
  await withRedis((redis, prefix) =>
    withMessageInFlight(redis, prefix, 7, async ({ a, b, alice, bob }) => {
      await redis.stop("SIGKILL");
      await eventually(() => of(alice, "outcome").length >= 1, "alice to hear it failed");
      const [failed] = of(alice, "outcome");
      equal(failed.requestId, 7);
      equal(failed.outcome.ok ? "ok" : failed.outcome.code, "PEER_UNREACHABLE");
      // The late receipt cannot travel; nothing crashes and nothing is reported twice.
      b.community.receipt(bob, { rid: of(bob, "deliver")[0].rid, ok: true });
      await redis.restart();
      await eventually(() => (a.community as RedisCommunity<Conn>).up, "node a back up");
      await eventually(() => (b.community as RedisCommunity<Conn>).up, "node b back up");
      // What b would still send (the late receipt, kept) goes out at a beat, before its marker.
      await beats(redis, `${prefix}alive:n1`, 2);
      await barrier([a, b], [alice]);
      equal(of(alice, "outcome").length, 1);
    })
  );
});

/**
 * Waits for `count` heartbeats of a node, seen in Redis as its `alive:` key renewed (its time to
 * live going back up). A node retries kept results at the start of each beat, on the same link
 * and so before the renewal: after two renewals, whatever it kept has been published.
 */
async function beats(redis: RedisServer, key: string, count: number): Promise<void> {
  let seen = 0;
  let last = Number(await redis.command("PTTL", key));
  await until(async () => {
    const now = Number(await redis.command("PTTL", key));
    if (now > last) seen++;
    last = now;
    return seen >= count;
  }, { ms: 10_000, what: `${count} heartbeats renewing ${key}` });
}

/** Kills one of a node's Redis connections, found by its name in `CLIENT LIST`. */
async function killClient(redis: RedisServer, name: string): Promise<void> {
  const line = (await redis.command("CLIENT", "LIST")).split("\n")
    .find((l) => l.includes(` name=${name} `));
  const id = line === undefined ? undefined : /\bid=(\d+)/.exec(line)?.[1];
  if (id === undefined) throw new Error(`No Redis client named ${name}`);
  await redis.command("CLIENT", "KILL", "ID", id);
}

Deno.test("RedisCommunity keeps a result it cannot publish yet and sends it once its link is back", async () => {
  await withRedis((redis, prefix) =>
    withMessageInFlight(redis, prefix, 8, async ({ a, b, alice, bob }) => {
      // Only bob's node loses its command connection: as after Redis comes back, when a node's
      // subscriber reconnects (and hears deliveries) before its command connection does.
      await killClient(redis, "peerstream:n1:commands");
      b.community.receipt(bob, { rid: of(bob, "deliver")[0].rid, ok: true });
      await eventually(() => of(alice, "outcome").length >= 1, "alice to hear it", 10_000);
      const [done] = of(alice, "outcome");
      equal(done.requestId, 8);
      equal(done.outcome.ok, true);
      // A copy b still kept would go out at its next beat, before its marker.
      await beats(redis, `${prefix}alive:n1`, 2);
      await barrier([a, b], [alice]);
      equal(of(alice, "outcome").length, 1);
    })
  );
});

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

Deno.test("RedisCommunity treats a frozen Redis as unreachable and comes back when it thaws", async () => {
  await withRedis(async (redis, prefix) => {
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    const pid = Number((await redis.info("server")).get("process_id"));
    let frozen = false;
    try {
      const alice = await join(a, "alice");
      await join(b, "bob");
      await eventually(() => of(alice.conn, "joined").length === 1, "alice to see bob");
      // SIGSTOP: the sockets stay open, nothing answers; only the command deadlines notice.
      Deno.kill(pid, "SIGSTOP");
      frozen = true;
      await eventually(() => of(alice.conn, "peer-state").length === 1, "bob unreachable");
      equal(await codeOf(() => join(a, "late")), "UNAVAILABLE");
      Deno.kill(pid, "SIGCONT");
      frozen = false;
      await eventually(() => of(alice.conn, "peer-state").length === 2, "bob reachable again");
      deepEqual(of(alice.conn, "peer-state").map((r) => r.state), ["unreachable", "reachable"]);
      equal(of(alice.conn, "left").length, 0);
      await join(a, "late");
    } finally {
      if (frozen) Deno.kill(pid, "SIGCONT");
      await closeAll([a, b]);
    }
  });
});

Deno.test("RedisCommunity resynchronises when it notices a missed presence event", async () => {
  await withRedis(async (redis, prefix) => {
    // Sneaky's node is alive and listening but runs no community: were sneaky node b's, b's own
    // resynchronisation (it sees the same gap) would rightly drop it, before or after a's.
    const listener = await liveBareNode(redis, prefix, "quiet");
    const a = await openRedisNode(redis, 0, { prefix, timing: TIMING });
    const b = await openRedisNode(redis, 1, { prefix, timing: TIMING });
    try {
      const alice = await join(a, "alice");
      // A presence change that node a never hears of (written behind the nodes' backs)...
      const entry = { name: "sneaky", node: "quiet", encKey: "E", signKey: "S", eph: 0 };
      await redis.command("HSET", `${prefix}online`, "sneaky", JSON.stringify(entry));
      await redis.command("SADD", `${prefix}members:quiet`, "sneaky");
      await redis.command("INCR", `${prefix}seq`);
      // ...then a join whose number shows the gap: a's snapshot brings sneaky in, once.
      await join(b, "bob");
      await eventually(() => of(alice.conn, "joined").length === 2, "alice to see bob and sneaky");
      deepEqual(of(alice.conn, "joined").map((r) => r.name).sort(), ["bob", "sneaky"]);
      await barrier([a, b], [alice.conn]);
      equal(of(alice.conn, "joined").length, 2);
    } finally {
      listener.close();
      await closeAll([a, b]);
    }
  });
});

Deno.test("RedisCommunity fails a message whose node never answers, on its own clock", async () => {
  await withRedis(async (redis, prefix) => {
    // A node that is alive and listening, but never answers: a bare subscriber on its channel.
    const listener = await liveBareNode(redis, prefix, "mute");
    const entry = { name: "silent", node: "mute", encKey: "E", signKey: "S", eph: 0 };
    await redis.command("HSET", `${prefix}online`, "silent", JSON.stringify(entry));
    let clock = 0;
    const a = await openRedisNode(redis, 0, {
      prefix,
      timing: { ...TIMING, remoteTimeoutMs: 30_000 },
      now: () => clock,
    });
    try {
      const alice = await join(a, "alice");
      await eventually(() => a.community.lookup("silent")?.online === true, "a to know silent");
      a.community.send(alice.conn, { requestId: 9, to: "silent", body: new Uint8Array([1]) });
      await settle(300);
      a.community.tick();
      equal(of(alice.conn, "outcome").length, 0);
      clock += 30_001;
      a.community.tick();
      const [failed] = of(alice.conn, "outcome");
      equal(failed.requestId, 9);
      equal(failed.outcome.ok ? "ok" : failed.outcome.code, "PEER_UNREACHABLE");
      if (!failed.outcome.ok) match(failed.outcome.message, /not confirmed within 30 s/);
    } finally {
      listener.close();
      await closeAll([a]);
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
