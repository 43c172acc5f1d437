/**
 * Watching together across cluster nodes (issue 21), with real Redis and real `serve --redis`
 * nodes: a room's timeline lives in Redis, so a control made through node A is answered there and
 * pushed by node B to its members with the same epoch and timeline; a member joining on another
 * node, or on a node started later, gets the state after `welcome`; controls raced from two nodes
 * each get their own epoch and every node tells the same last one; `time-is` from two nodes reads
 * one clock; with Redis gone a control is refused `UNAVAILABLE` and the node keeps serving; a
 * change whose notice the nodes missed is read once their links to Redis are back.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { RoomPlaybackMessage } from "../protocol/messages.ts";
import { startCluster, type TestCluster } from "./_cluster.ts";
import { type ServerProcess, startServer } from "./_helpers.ts";
import {
  Chain,
  change,
  control,
  create,
  error,
  invite,
  join,
  type Person,
  person,
  playback,
  pushed,
  pushedPlayback,
  quitAll,
  request,
  ROOM,
} from "./_room_people.ts";
import { until } from "./_util.ts";

/** A timeline as the members compare it: without `re`, and without `by`/`action` for a state. */
function timelineOf(message: RoomPlaybackMessage) {
  const { re: _re, by: _by, action: _action, ...timeline } = message;
  return timeline;
}

/** Starts node `i` of the cluster serving the built-in titles, once they are ready. */
async function startNode(cluster: TestCluster, i: number): Promise<ServerProcess> {
  const node = await startServer({
    args: ["--redis", cluster.redis.url, "--node", `n${i}`],
    env: cluster.env,
    waitReady: true,
  });
  cluster.nodes[i] = node;
  return node;
}

/** Two nodes; alice and dave join node A, bob and carol node B. */
async function fourOnTwoNodes(
  cluster: TestCluster,
  [alice, bob, carol, dave]: Person[],
): Promise<[ServerProcess, ServerProcess]> {
  const [a, b] = [await startNode(cluster, 0), await startNode(cluster, 1)];
  await join(a.port, alice);
  await join(b.port, bob);
  await join(b.port, carol);
  await join(a.port, dave);
  return [a, b];
}

/** A room of members spread over nodes: `owner` creates it, each other one is invited and accepts. */
async function room(owner: Person, members: Person[]): Promise<Chain> {
  const chain = new Chain();
  await create(chain, owner);
  for (const who of members) {
    await invite(chain, owner, who);
    await change(chain, who, await chain.sign(who, { op: "accept" }));
  }
  return chain;
}

Deno.test("watch together in a cluster: a control through node A is answered there and pushed by node B, a joiner on either node gets the state, and time-is reads one clock", async () => {
  const cluster = await startCluster({ nodes: 0 });
  const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
  const [alice, bob, carol, dave] = people;
  try {
    const [, b] = await fourOnTwoNodes(cluster, people);
    const chain = await room(alice, [bob, carol]);

    // alice, on A, starts a title: bob and carol, on B, hear the same timeline from B.
    const from = [bob, carol].map((who) => who.client!.messages.length);
    const started = playback(await control(alice, { action: "play", title: "testcard" }));
    deepEqual(
      [started.action, started.by, started.title, started.epoch, started.position, started.rate],
      ["play", "alice", "testcard", 1, 0, 1],
    );
    for (const [i, who] of [bob, carol].entries()) {
      deepEqual({ ...await pushedPlayback(who, 1, from[i]), re: started.re }, started);
    }
    // bob, on B, pauses: answered by B, pushed to alice by A, at the next epoch.
    const paused = playback(await control(bob, { action: "pause" }));
    deepEqual([paused.action, paused.by, paused.epoch, paused.rate], ["pause", "bob", 2, 0]);
    deepEqual({ ...await pushedPlayback(alice, 2), re: paused.re }, paused);
    const sought = playback(await control(alice, { action: "seek", position: 7 }));
    deepEqual([sought.epoch, sought.position, sought.rate], [3, 7, 0]);
    deepEqual({ ...await pushedPlayback(bob, 3), re: sought.re }, sought);

    // One clock: what A and then B answer lies within the local instants around the two asks
    // (loopback, one machine: a few ms either way).
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const fromA = await request(alice, { type: "time" });
      const t1 = Date.now();
      const fromB = await request(bob, { type: "time" });
      const t2 = Date.now();
      ok(fromA.type === "time-is" && fromB.type === "time-is");
      const gap = fromB.server - fromA.server;
      ok(gap >= -5 && gap <= t2 - t0 + 5, `B − A = ${gap} ms, asked within ${t2 - t0} ms`);
      ok(Math.abs(fromA.server - (t0 + t1) / 2) <= (t1 - t0) / 2 + 5, "A reads the local time");
    }

    // carol comes back on B: after welcome and `rooms`, B tells her the state alice made through A.
    await quitAll(carol);
    const again = await join(b.port, carol);
    const state = playback(
      await again.next((m) => m.type === "room-playback", { timeoutMs: 30_000 }),
    );
    deepEqual(state, { ...timelineOf(sought), action: "state" });
    // dave, on A, invited by bob through B, accepts after the changes: A tells him the state.
    await invite(chain, bob, dave);
    await change(chain, dave, await chain.sign(dave, { op: "accept" }));
    const told = playback(
      await dave.client!.next((m) => m.type === "room-playback", { timeoutMs: 30_000 }),
    );
    deepEqual(told, { ...timelineOf(sought), action: "state" });

    // A node started now reads the room's timeline from Redis: bob moves to it and is told.
    const c = await startNode(cluster, 2);
    await quitAll(bob);
    const onC = await join(c.port, bob);
    const fromC = playback(
      await onC.next((m) => m.type === "room-playback", { timeoutMs: 30_000 }),
    );
    deepEqual(fromC, { ...timelineOf(sought), action: "state" });
    // And a control through it reaches the members on A and B.
    const resumed = playback(await control(bob, { action: "resume" }));
    deepEqual([resumed.epoch, resumed.position, resumed.rate], [4, 7, 1]);
    for (const who of [alice, carol, dave]) await pushedPlayback(who, 4);

    // Host only, set through A: once node C told bob of it, C refuses his control; alice's
    // through A still goes, and C pushes it to him.
    const hostOnly = await chain.sign(alice, {
      op: "settings",
      settings: { invite: "members", control: "host" },
    });
    const mark = onC.messages.length;
    await change(chain, alice, hostOnly);
    await pushed(bob, hostOnly, mark);
    equal(error(await control(bob, { action: "pause" })).code, "NOT_ALLOWED");
    const byHost = playback(await control(alice, { action: "pause" }));
    equal(byHost.epoch, 5);
    await pushedPlayback(bob, 5);
  } finally {
    await quitAll(...people);
    await cluster.stop();
  }
});

Deno.test("watch together in a cluster: controls raced from two nodes each take their own epoch, and every node tells the same last timeline", async () => {
  const cluster = await startCluster({ nodes: 0 });
  const people = await Promise.all(["alice", "bob", "carol", "dave"].map(person));
  const [alice, bob, carol, dave] = people;
  try {
    await fourOnTwoNodes(cluster, people);
    await room(alice, [bob, carol, dave]);
    playback(await control(alice, { action: "play", title: "testcard" }));
    const rounds = 8;
    const answers: RoomPlaybackMessage[] = [];
    for (let i = 0; i < rounds; i++) {
      const both = await Promise.all([
        control(alice, { action: "seek", position: i / 2 }),
        control(bob, { action: i % 2 === 0 ? "pause" : "resume" }),
      ]);
      answers.push(...both.map(playback));
    }
    // No change lost, none stored twice: every control took its own epoch after the play's.
    const epochs = answers.map((x) => x.epoch).sort((x, y) => x - y);
    deepEqual(epochs, Array.from({ length: 2 * rounds }, (_, i) => i + 2));
    const last = answers.find((x) => x.epoch === 2 * rounds + 1)!;
    // Every member, on either node, ends on that timeline: the one who made it by its answer,
    // the others by the push of that epoch, which both nodes send.
    for (const who of people) {
      const heard = who.name === last.by ? last : await pushedPlayback(who, 2 * rounds + 1);
      deepEqual(timelineOf(heard), timelineOf(last));
    }
    // Nobody was told an older epoch after it: a node keeps the newest it heard.
    for (const who of [carol, dave]) {
      const told = who.client!.messages.flatMap((m) =>
        m.type === "room-playback" && m.re === undefined ? [m.epoch] : []
      );
      deepEqual(told, [...told].sort((x, y) => x - y), `${who.name}: ${told}`);
      equal(new Set(told).size, told.length);
    }
  } finally {
    await quitAll(...people);
    await cluster.stop();
  }
});

Deno.test("watch together in a cluster: with Redis gone a control is refused UNAVAILABLE, the node keeps serving, and once Redis is back the room goes on from its epoch", async () => {
  const cluster = await startCluster({ nodes: 0 });
  const people = await Promise.all(["alice", "bob"].map(person));
  const [alice, bob] = people;
  try {
    const [a, b] = [await startNode(cluster, 0), await startNode(cluster, 1)];
    await join(a.port, alice);
    await join(b.port, bob);
    await room(alice, [bob]);
    playback(await control(alice, { action: "play", title: "testcard" }));
    await pushedPlayback(bob, 1);

    await cluster.redis.stop();
    const refused = error(await control(alice, { action: "pause" }));
    equal(refused.code, "UNAVAILABLE");
    ok(
      /^Cannot change the playback of "club": the cluster's Redis did not answer; try again$/
        .test(refused.message),
      refused.message,
    );
    // The node did not crash: it still answers, on the clock it measured.
    equal((await request(alice, { type: "time" })).type, "time-is");
    equal((await request(bob, { type: "time" })).type, "time-is");

    await cluster.redis.restart();
    // Once each node's link is back, a control goes through, at the epoch after the play's.
    let paused: RoomPlaybackMessage | undefined;
    await until(async () => {
      const answer = await control(alice, { action: "pause" });
      if (answer.type === "error") {
        equal(answer.code, "UNAVAILABLE", answer.message);
        return false;
      }
      paused = playback(answer);
      return true;
    }, { ms: 30_000, what: "a control through node A once Redis is back", everyMs: 200 });
    deepEqual([paused!.epoch, paused!.rate], [2, 0]);
    deepEqual({ ...await pushedPlayback(bob, 2), re: paused!.re }, paused);

    // A change whose notice the nodes missed (written to Redis with none, as if published while
    // their subscribers were away) is read when their links come back, and told to everyone.
    const missed = { ...timelineOf(paused!), epoch: 3, position: 4 };
    const line = { ...missed, duration: 12, action: "seek", by: "alice" };
    await cluster.redis.command("SET", `peerstream:timeline:${ROOM}`, JSON.stringify(line));
    await cluster.redis.command("CLIENT", "KILL", "TYPE", "pubsub");
    for (const who of [alice, bob]) deepEqual(timelineOf(await pushedPlayback(who, 3)), missed);
    for (const node of [a, b]) {
      equal(
        node.err.lines.filter((l) => /error|uncaught/i.test(l)).length,
        0,
        node.err.lines.join("\n"),
      );
    }
  } finally {
    await quitAll(...people);
    await cluster.stop();
  }
});
