/**
 * Scenario 6, join storm: N clients connect and register at once; the time until every client
 * has been told of every other (welcome peers plus `joined` announcements = N − 1).
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { benchIdentity, LoadClient } from "./_client.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { formatNumber } from "./_report.ts";
import { sleep, summarize } from "./_stats.ts";

/** Connections opened at once: below the listen backlog of 511. */
export const STORM_BATCH = 400;

/**
 * Runs scenario 6.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function joinStormScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const who = await benchIdentity(await generateIdentity());
  const n = ctx.quick ? 100 : 1000;
  const timeoutMs = ctx.quick ? 20_000 : 60_000;
  const all: number[] = [];
  const median: number[] = [];
  const cpu: number[] = [];
  const clientCpu: number[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`join storm: ${n} clients, rep ${rep + 1}/${ctx.reps}`);
    await withServer(ctx, async (server) => {
      const list = names(ctx, `j${rep}-`, n);
      const known = new Array<number>(n).fill(0);
      const doneAt = new Array<number>(n).fill(NaN);
      let complete = 0;
      const clients: LoadClient[] = [];
      const registrations: Promise<void>[] = [];
      const [s0, c0] = await Promise.all([readProc(server.pid), readProc(Deno.pid)]);
      const t0 = performance.now();
      for (let at = 0; at < n; at += STORM_BATCH) {
        const batch = await Promise.all(
          list.slice(at, at + STORM_BATCH).map(() => LoadClient.connect(server.port)),
        );
        batch.forEach((client, j) => {
          const i = at + j;
          clients.push(client);
          const count = (add: number, now: number) => {
            known[i] += add;
            if (known[i] === n - 1 && Number.isNaN(doneAt[i])) {
              doneAt[i] = now - t0;
              complete++;
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
      const [s1, c1] = await Promise.all([readProc(server.pid), readProc(Deno.pid)]);
      const lastAt = Math.max(...doneAt.filter(Number.isFinite));
      if (complete < n) {
        notes.push(
          `rep ${rep + 1}: only ${complete} of ${n} clients knew everyone after ${
            timeoutMs / 1000
          } s`,
        );
        all.push(NaN);
      } else {
        all.push(lastAt);
      }
      median.push(summarize(doneAt).median);
      cpu.push(s1.cpuSeconds - s0.cpuSeconds);
      clientCpu.push(c1.cpuSeconds - c0.cpuSeconds);
      const overCount = known.filter((k) => k > n - 1).length;
      if (overCount > 0) failures.push(`${overCount} clients were told of a peer twice`);
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.done));
    });
  }
  const metrics: Metric[] = [
    {
      name: `${n} clients: all told of all others`,
      unit: "ms",
      values: all,
      target: "≤ 5000 (N=1000)",
      goal: {
        stat: "median",
        atMost: 5000,
        ...(n < 1000 ? { notTested: `quick mode storms ${n} clients, not 1,000` } : {}),
        why: `server CPU ${formatNumber(summarize(cpu).median)} s for the storm, load client ${
          formatNumber(summarize(clientCpu).median)
        } s`,
      },
    },
    { name: `${n} clients: median client complete`, unit: "ms", values: median },
    { name: `${n} clients: server CPU for the storm`, unit: "s", values: cpu },
    { name: `${n} clients: load client CPU`, unit: "s", values: clientCpu },
  ];
  notes.push(
    `Connections open ${STORM_BATCH} at a time (listen backlog 511); each registers as soon as it is greeted. N(N−1) announcements in all, decoded by the load clients in the bench's main thread`,
  );
  return { id: "join", title: "6. Join storm", metrics, failures, notes };
}
