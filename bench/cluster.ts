/**
 * Scenario "cluster" (issue 10): three `serve --redis` nodes and one `redis-server` on this one
 * machine, so the figures show the overhead of cluster mode, not capacity. Relayed msgs/s and
 * send→deliver latency for messages within a node and across nodes; a join storm spread over the
 * nodes; the viewers row with `--redis` set; and what Redis spends per message and per join
 * (commands, bytes, CPU from `INFO`), from which how many nodes and users one Redis carries.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { RedisServer } from "../tests/_redis.ts";
import { type BenchIdentity, benchIdentity, connectMany, LoadClient } from "./_client.ts";
import { type BenchContext, type Metric, names, type ScenarioResult } from "./_scenario.ts";
import { type BenchServer } from "./_server.ts";
import { sleep } from "./_stats.ts";
import { runFleet } from "./viewers.ts";
import {
  closeAll,
  type RelayFigures,
  relayGroups,
  sealedBody,
  spreadStorm,
  startNodes,
} from "./_cluster_load.ts";
import { idleRate, redisCounters, redisWork } from "./_redis_work.ts";

/** What the scenario's parts share. */
interface Run {
  ctx: BenchContext;
  redis: RedisServer;
  who: BenchIdentity;
  body: Uint8Array;
  /** Adds a value to a row. */
  add: (key: string, value: number) => void;
  failures: string[];
  notes: string[];
}

/** Sizes of the full and quick runs. */
function sizes(quick: boolean) {
  return quick
    ? { perNode: 6, seconds: 2, rate: 600, stormN: 150, viewersN: 50, queueN: 200 }
    : { perNode: 30, seconds: 10, rate: 3000, stormN: 1000, viewersN: 2000, queueN: 1000 };
}

/**
 * Runs the cluster scenario.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function clusterScenario(ctx: BenchContext): Promise<ScenarioResult> {
  if (!ctx.peers) {
    // Redis and three nodes take about 20 s even at the tiny size: plain --quick stays a minute.
    return {
      id: "cluster",
      title: "13. Cluster: 3 nodes and Redis on one machine (skipped in quick mode)",
      metrics: [],
      failures: [],
      notes: [
        'Skipped: plain --quick runs no multi-process scenario, so that it stays about a minute; "deno task bench --quick --only cluster" runs its tiny version, the full run the real one (tests/cluster_test.ts covers the behaviour on every run)',
      ],
    };
  }
  const who = await benchIdentity(await generateIdentity());
  const n = sizes(ctx.quick);
  const m: Record<string, number[]> = {};
  const run: Run = {
    ctx,
    redis: await RedisServer.start(),
    who,
    body: await sealedBody(who),
    add: (key, value) => (m[key] ??= []).push(value),
    failures: [],
    notes: [],
  };
  try {
    for (let rep = 0; rep < ctx.reps; rep++) {
      ctx.log(`cluster: 3 nodes, ${3 * n.perNode} clients, rep ${rep + 1}/${ctx.reps}`);
      const nodes = await startNodes(ctx, run.redis, 3);
      try {
        const idle = await idleRate(run.redis);
        run.add("redis-us-node-s", idle.commandUsec / 3);
        await relayRows(run, nodes, { ...n, rep, idle });
        ctx.log(`cluster: join storm of ${n.stormN} over 3 nodes`);
        await stormRows(run, nodes, { ...n, rep, idle });
        ctx.log(`cluster: ${n.queueN} messages queued on one node, drained on another`);
        await queueRows(run, nodes, { ...n, rep });
      } finally {
        for (const node of nodes) {
          const code = await node.stop();
          if (code !== 0) run.failures.push(`a node exited with code ${code}`);
        }
      }
    }
    ctx.log(`cluster: ${n.viewersN} viewers on one node with --redis`);
    const fleet = await runFleet(
      { ...ctx, serverArgs: ["--redis", run.redis.url, "--node", "viewers"] },
      { n: n.viewersN, watchSeconds: ctx.quick ? 6 : 30, warmupSeconds: ctx.quick ? 3 : 8 },
    );
    run.add("viewers-rt", fleet.realTimeShare * 100);
    run.add("viewers-cpu", fleet.cpuPerViewerMinute);
    if (fleet.bytesAfterEnd > 0) {
      run.failures.push(`${fleet.bytesAfterEnd} media bytes after stream-end`);
    }
  } finally {
    await run.redis.close();
  }
  return {
    id: "cluster",
    title: "13. Cluster: 3 nodes and Redis on one machine",
    metrics: metrics(m, n),
    failures: run.failures,
    notes: [...run.notes, ...capacityNotes(m)],
  };
}

type Idle = Awaited<ReturnType<typeof idleRate>>;

/** Throughput and latency within a node and across nodes, and Redis's cost per message. */
async function relayRows(
  run: Run,
  nodes: BenchServer[],
  n: { perNode: number; seconds: number; rate: number; rep: number; idle: Idle },
) {
  const { body, seconds, rate } = { body: run.body, ...n };
  const groups = await Promise.all(nodes.map(async (node, i) => {
    const list = names(run.ctx, `c${n.rep}n${i}-`, n.perNode);
    const { clients } = await connectMany(node.port, { names: list, who: run.who });
    return { clients, names: list };
  }));
  // Across nodes: as many rings of as many clients, each alternating between two nodes (the
  // first half of node i's clients with the second half of node i+1's), so every hop crosses and
  // the load clients run the same way in both layouts.
  const half = Math.floor(n.perNode / 2);
  const across = groups.map((g, i) => {
    const next = groups[(i + 1) % groups.length];
    const ring = { clients: [] as LoadClient[], names: [] as string[] };
    for (let k = 0; k < half; k++) {
      ring.clients.push(g.clients[k], next.clients[half + k]);
      ring.names.push(g.names[k], next.names[half + k]);
    }
    return ring;
  });
  const check = (label: string, r: RelayFigures) => {
    if (r.lost > 0) run.failures.push(`${label}: ${r.lost} of ${r.sent} messages lost`);
    if (r.duplicates > 0) run.failures.push(`${label}: ${r.duplicates} duplicated deliveries`);
    return r;
  };
  run.add("same-tput", check("same node", await relayGroups(groups, { body, seconds })).perSecond);
  let cross!: RelayFigures;
  const work = await redisWork(run.redis, n.idle, async () => {
    cross = check("across nodes", await relayGroups(across, { body, seconds }));
  });
  run.add("cross-tput", cross.perSecond);
  run.add("redis-cmd-msg", work.commands / cross.sent);
  run.add("redis-bytes-msg", work.bytes / cross.sent);
  run.add("redis-cmdus-msg", work.commandUsec / cross.sent);
  run.add("redis-us-msg", (work.cpuSeconds * 1e6) / cross.sent);
  const same = check("same node at rate", await relayGroups(groups, { body, seconds, rate }));
  run.add("same-p50", same.p50);
  run.add("same-p99", same.p99);
  const far = check("across nodes at rate", await relayGroups(across, { body, seconds, rate }));
  run.add("cross-p50", far.p50);
  run.add("cross-p99", far.p99);
  await closeAll(groups.flatMap((g) => g.clients));
  await sleep(1000);
}

/** The join storm over the nodes, and Redis's cost per join. */
async function stormRows(
  run: Run,
  nodes: BenchServer[],
  n: { stormN: number; rep: number; idle: Idle },
) {
  let storm!: Awaited<ReturnType<typeof spreadStorm>>;
  const joins = await redisWork(run.redis, n.idle, async () => {
    storm = await spreadStorm(
      nodes.map((node) => node.port),
      names(run.ctx, `cs${n.rep}-`, n.stormN),
      run.who,
      run.ctx.quick ? 20_000 : 60_000,
    );
  });
  run.add("storm", storm.allMs);
  if (storm.complete < n.stormN) {
    run.notes.push(`rep ${n.rep + 1}: ${storm.complete} of ${n.stormN} knew everyone`);
  }
  if (storm.twice > 0) run.failures.push(`${storm.twice} clients were told of a peer twice`);
  run.add("redis-cmd-join", joins.commands / n.stormN);
  run.add("redis-bytes-join", joins.bytes / n.stormN);
  run.add("redis-cmdus-join", joins.commandUsec / n.stormN);
  run.add("redis-us-join", (joins.cpuSeconds * 1e6) / n.stormN);
  run.add("redis-bytes-user", joins.memoryGrowth / n.stormN);
  await closeAll(storm.clients);
}

function metrics(
  m: Record<string, number[]>,
  n: { perNode: number; rate: number; stormN: number; viewersN: number; queueN: number },
): Metric[] {
  const c = 3 * n.perNode;
  const row = (key: string, name: string, unit: string, target?: string): Metric => ({
    name,
    unit,
    values: m[key] ?? [],
    ...(target === undefined ? {} : { target }),
  });
  return [
    row("same-tput", `relayed msgs/s, ${c} clients, within a node`, "msg/s"),
    row("cross-tput", `relayed msgs/s, ${c} clients, across nodes`, "msg/s"),
    row("same-p50", `latency p50 at ${n.rate}/s, within a node`, "ms"),
    row("same-p99", `latency p99 at ${n.rate}/s, within a node`, "ms"),
    row("cross-p50", `latency p50 at ${n.rate}/s, across nodes`, "ms"),
    row("cross-p99", `latency p99 at ${n.rate}/s, across nodes`, "ms"),
    row("storm", `${n.stormN} clients over 3 nodes: all told of all`, "ms", "≤ 5000 (N=1000)"),
    row("viewers-rt", `${n.viewersN} viewers, one node with --redis: real time`, "%", "100"),
    row("viewers-cpu", `${n.viewersN} viewers with --redis: CPU per viewer-minute`, "s"),
    row("redis-cmd-msg", "Redis commands (round trips) per message across nodes", "cmd"),
    row("redis-bytes-msg", "Redis bytes in+out per message across nodes", "B"),
    row("redis-cmdus-msg", "Redis command time per message across nodes", "µs"),
    row("redis-us-msg", "Redis process CPU per message across nodes", "µs"),
    row("redis-cmd-join", "Redis commands (round trips) per join (3 nodes)", "cmd"),
    row("redis-bytes-join", "Redis bytes in+out per join (3 nodes)", "B"),
    row("redis-cmdus-join", "Redis command time per join (3 nodes)", "µs"),
    row("redis-us-join", "Redis process CPU per join (3 nodes)", "µs"),
    row("redis-us-node-s", "Redis command time per node per second (heartbeat)", "µs"),
    row("redis-bytes-user", "Redis memory per user online (presence + binding)", "B"),
    row(
      "queue-drain",
      `${n.queueN} queued messages drained on join, across nodes: to the last`,
      "ms",
      "≤ 1000 (N=1000)",
    ),
    row("queue-bytes-msg", "Redis memory per queued message (1 KiB of text, sealed)", "B"),
  ];
}

/**
 * Issue 20's offline queue in a cluster: a sender on node 0 queues `queueN` sealed messages for a
 * bound peer who is offline; the peer joins node 1 and confirms each as it comes. Rows: the time
 * from its hello to the last message, and Redis's memory per queued message.
 */
async function queueRows(run: Run, nodes: BenchServer[], n: { queueN: number; rep: number }) {
  const [from, to] = names(run.ctx, `cq${n.rep}-`, 2);
  const them = await benchIdentity(await generateIdentity());
  const seen = { queued: 0, refused: 0, notices: 0, left: false };
  const sender = await LoadClient.connect(nodes[0].port);
  sender.onMessage = (m) => {
    if (m.type === "queued") seen.queued++;
    else if (m.type === "error") seen.refused++;
    else if (m.type === "delivered" && m.qseq !== undefined) seen.notices++;
    else if (m.type === "left" && m.name === to) seen.left = true;
  };
  await sender.register(from, run.who);
  const first = await LoadClient.connect(nodes[1].port);
  await first.register(to, them);
  first.send({ type: "quit" });
  const waitFor = async (ok: () => boolean, what: string) => {
    const end = performance.now() + 60_000;
    while (!ok()) {
      if (performance.now() > end) throw new Error(`cluster queue: no ${what} within 60 s`);
      await sleep(5);
    }
  };
  await waitFor(() => seen.left, "leave");
  const before = await redisCounters(run.redis);
  for (let i = 0; i < n.queueN; i++) {
    sender.send({ type: "send", id: sender.nextId++, to, body: run.body });
  }
  await waitFor(() => seen.queued + seen.refused === n.queueN, "queued answers");
  if (seen.refused > 0) run.failures.push(`${seen.refused} of ${n.queueN} queued sends refused`);
  run.add("queue-bytes-msg", ((await redisCounters(run.redis)).memory - before.memory) / n.queueN);
  const back = await LoadClient.connect(nodes[1].port);
  let got = 0;
  let last = 0;
  back.onMessage = (m, now) => {
    if (m.type !== "deliver") return;
    if (++got === n.queueN) last = now;
    back.send({ type: "receipt", rid: m.rid, ok: true });
  };
  const start = performance.now();
  await back.register(to, them);
  await waitFor(() => got >= n.queueN && seen.notices >= n.queueN, "deliveries and notices");
  run.add("queue-drain", last - start);
  if (got > n.queueN) run.failures.push(`${got - n.queueN} queued messages delivered twice`);
  for (const client of [sender, first, back]) client.close();
}

/** What the measured costs say one Redis (one core) carries. */
function capacityNotes(m: Record<string, number[]>): string[] {
  const med = (key: string) => {
    const v = (m[key] ?? []).filter(Number.isFinite).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v[Math.floor(v.length / 2)];
  };
  const perMsg = med("redis-us-msg");
  // A storm's process CPU is too small to see over the idle rate in a quick run: take the
  // larger of it and the command time.
  const perJoin = Math.max(med("redis-us-join"), med("redis-cmdus-join"));
  const perNode = med("redis-us-node-s");
  const perUser = med("redis-bytes-user");
  if (![perMsg, perJoin, perNode, perUser].every((x) => Number.isFinite(x) && x > 0)) return [];
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  return [
    `One Redis core at 50 % busy carries about ${fmt(0.5e6 / perMsg)} cross-node messages/s, ` +
    `${fmt(0.5e6 / perJoin)} joins/s (with 3 nodes; the join event fans out to every node), and ` +
    `the heartbeats of ${
      fmt(0.05e6 / perNode)
    } nodes in 5 % of a core; presence and bindings take ` +
    `about ${fmt(perUser)} B per user, so 1 GiB holds ${fmt(2 ** 30 / perUser)} users. Messages ` +
    `within a node cost Redis nothing.`,
  ];
}
