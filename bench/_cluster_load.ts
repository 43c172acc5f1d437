/**
 * The cluster scenario's load: nodes started over one Redis, relay rings run concurrently and added
 * up, a join storm spread over the nodes, and the sealed body and client clean-up they use.
 * @module
 */

import { importPeerKeys, seal } from "../protocol/e2e.ts";
import { RedisServer } from "../tests/_redis.ts";
import { type BenchIdentity, LoadClient } from "./_client.ts";
import { relay } from "./_message_load.ts";
import { type BenchContext } from "./_scenario.ts";
import { type BenchServer, startBenchServer } from "./_server.ts";
import { percentile, sleep } from "./_stats.ts";
import { STORM_BATCH } from "./join_storm.ts";

/** A sealed 1 KiB body from `who` to themself. */
export async function sealedBody(who: BenchIdentity): Promise<Uint8Array<ArrayBuffer>> {
  return await seal("x".repeat(1024), {
    from: "sender",
    to: "recipient",
    identity: who.identity,
    recipient: await importPeerKeys(who),
  });
}

/** Three nodes over one Redis, the bench title prepared. */
export async function startNodes(
  ctx: BenchContext,
  redis: RedisServer,
  count: number,
): Promise<BenchServer[]> {
  const nodes: BenchServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startBenchServer({
          cache: ctx.cache,
          videos: ctx.videos,
          args: ["--redis", redis.url, "--node", `bench${i}`],
        }),
      );
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  return nodes;
}

/** Relay figures for one layout. */
export interface RelayFigures {
  perSecond: number;
  p50: number;
  p99: number;
  sent: number;
  lost: number;
  duplicates: number;
}

/**
 * Runs relay loads concurrently (one ring per group) and adds them up.
 *
 * @param groups Clients and their names; each client sends to the next in its group.
 * @param options Body, seconds and the total rate (closed loop when absent).
 * @returns The totals.
 */
export async function relayGroups(
  groups: { clients: LoadClient[]; names: string[] }[],
  options: { body: Uint8Array; seconds: number; rate?: number },
): Promise<RelayFigures> {
  const runs = await Promise.all(groups.map((g) =>
    relay(g.clients, {
      body: options.body,
      names: g.names,
      seconds: options.seconds,
      rate: options.rate === undefined ? undefined : options.rate / groups.length,
    })
  ));
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    perSecond: runs.reduce((n, r) => n + r.perSecond, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    sent: runs.reduce((n, r) => n + r.sent, 0),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    duplicates: runs.reduce((n, r) => n + r.duplicates, 0),
  };
}

/**
 * A join storm spread over several nodes: the time until every client was told of every other.
 *
 * @param ports The nodes.
 * @param list The names.
 * @param who The shared identity.
 * @param timeoutMs The longest wait.
 * @returns Milliseconds until the last client knew everyone (NaN if not within the deadline), and
 * how many clients were told of someone twice.
 */
export async function spreadStorm(
  ports: readonly number[],
  list: readonly string[],
  who: BenchIdentity,
  timeoutMs: number,
): Promise<{ allMs: number; complete: number; twice: number; clients: LoadClient[] }> {
  const n = list.length;
  const known = new Array<number>(n).fill(0);
  let complete = 0;
  let lastAt = 0;
  const clients: LoadClient[] = [];
  const registrations: Promise<void>[] = [];
  const t0 = performance.now();
  for (let at = 0; at < n; at += STORM_BATCH) {
    const batch = await Promise.all(
      list.slice(at, at + STORM_BATCH).map((_, j) =>
        LoadClient.connect(ports[(at + j) % ports.length])
      ),
    );
    batch.forEach((client, j) => {
      const i = at + j;
      clients.push(client);
      const count = (add: number, now: number) => {
        known[i] += add;
        if (known[i] === n - 1) {
          complete++;
          lastAt = Math.max(lastAt, now - t0);
        }
      };
      client.onMessage = (m, now) => {
        if (m.type === "joined") count(1, now);
      };
      registrations.push(
        client.register(list[i], who).then((w) => count(w.peers.length, performance.now())),
      );
    });
  }
  await Promise.all(registrations);
  const deadline = t0 + timeoutMs;
  while (complete < n && performance.now() < deadline) await sleep(10);
  return {
    allMs: complete === n ? lastAt : NaN,
    complete,
    twice: known.filter((k) => k > n - 1).length,
    clients,
  };
}

/** Closes every load client and waits for each to end. */
export async function closeAll(clients: LoadClient[]): Promise<void> {
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => c.done));
}
