/**
 * `RedisCommunity` when Redis goes away, on a real redis-server with short heartbeats: local chat
 * kept and one resynchronisation, messages in flight failed, a result kept until its link is back,
 * a frozen Redis treated as unreachable, a missed presence event noticed, a silent node timed out.
 * @module
 */

import { deepEqual, equal, match } from "node:assert/strict";
import {
  barrier,
  codeOf,
  type Conn,
  eventually,
  join,
  leave,
  openRedisNode,
  settle,
  type TestNode,
} from "../../tests/_community_harness.ts";
import { RedisCommunity } from "./redis_community.ts";
import { RedisServer } from "../../tests/_redis.ts";
import { until } from "../../tests/_util.ts";
import { CLUSTER_PROTOCOL } from "./cluster_wire.ts";
import { closeAll, of, TIMING, withRedis } from "../../tests/_redis_community.ts";

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
