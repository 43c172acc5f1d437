/**
 * Scenario 5, messages: relayed messages per second with pipelined 1 KiB sealed bodies, and relay
 * latency at a fixed 5,000 msg/s, idle and while viewers stream; losses and duplicates must be 0.
 * @module
 */

import { generateIdentity, importPeerKeys, seal } from "../protocol/e2e.ts";
import { encodeMessage } from "../protocol/messages.ts";
import { type BenchIdentity, benchIdentity, connectMany, type LoadClient } from "./_client.ts";
import { ViewerFleet } from "./_fleet.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE } from "./_server.ts";
import { percentile, sleep, summarize } from "./_stats.ts";

/** Sends per second one client may make: sends plus receipts stay under the server's 2,000/s. */
export const CLIENT_SEND_CAP = 900;
/** Messages a throughput client keeps unconfirmed. */
export const WINDOW = 32;

/** What one relay run counted. */
export interface RelayRun {
  /** Messages sent. */
  sent: number;
  /** Distinct messages delivered to their recipient. */
  received: number;
  /** Deliveries of a message already delivered. */
  duplicates: number;
  /** Sent messages never delivered. */
  lost: number;
  /** `delivered` confirmations the senders got. */
  confirmed: number;
  /** Error codes the server sent, with counts. */
  errors: Record<string, number>;
  /** Deliveries per second over the sending window. */
  perSecond: number;
  /** send → deliver latencies, ms. */
  latencies: number[];
  /** Server CPU share over the window. */
  serverCpu: number;
}

/**
 * A 1 KiB text sealed once with `seal()`; every send reuses its bytes with the sender and sequence
 * number written over the first 8 bytes. The server relays bodies as opaque bytes and the load
 * clients answer `receipt ok:true` without `open()`, so the server's work is the same as for fresh
 * envelopes (the recipients would reject replays, which is why they do not open them).
 */
async function sealedBody(who: BenchIdentity): Promise<Uint8Array<ArrayBuffer>> {
  const recipient = await importPeerKeys(who);
  return await seal("x".repeat(1024), {
    from: "sender",
    to: "recipient",
    identity: who.identity,
    recipient,
  });
}

/**
 * Runs relay traffic among registered clients: each client sends to the next one.
 *
 * @param clients The clients.
 * @param options Body, duration, and either a total rate (open loop) or a window (closed loop).
 * @returns The counts.
 */
export async function relay(
  clients: LoadClient[],
  options: { body: Uint8Array; names: string[]; seconds: number; rate?: number },
): Promise<Omit<RelayRun, "serverCpu">> {
  const c = clients.length;
  const sentAt: Float64Array[] = clients.map(() => new Float64Array(1 << 16));
  const seen: Uint8Array[] = clients.map(() => new Uint8Array(1 << 16));
  const sent = new Array<number>(c).fill(0);
  const outstanding = new Array<number>(c).fill(0);
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let received = 0;
  let duplicates = 0;
  let confirmed = 0;
  let sending = true;
  let windowStart = 0;
  let windowEnd = 0;
  let inWindow = 0;
  const body = options.body.slice();
  const view = new DataView(body.buffer);
  // A cap per client and per second keeps sends plus receipts under the server's rate limit.
  const budget = new Array<number>(c).fill(0);
  let budgetSecond = -1;
  const sendOne = (i: number) => {
    const seq = sent[i]++;
    if (seq >= sentAt[i].length) {
      const grown = new Float64Array(sentAt[i].length * 2);
      grown.set(sentAt[i]);
      sentAt[i] = grown;
      const s = new Uint8Array(seen[i].length * 2);
      s.set(seen[i]);
      seen[i] = s;
    }
    view.setUint32(0, i);
    view.setUint32(4, seq);
    sentAt[i][seq] = performance.now();
    outstanding[i]++;
    clients[i].sendBytes(
      encodeMessage({ type: "send", id: seq + 1, to: options.names[(i + 1) % c], body }),
    );
  };
  const closedLoopFill = (i: number) => {
    const second = Math.floor(performance.now() / 1000);
    if (second !== budgetSecond) {
      budgetSecond = second;
      budget.fill(0);
    }
    while (sending && outstanding[i] < WINDOW && budget[i] < CLIENT_SEND_CAP) {
      budget[i]++;
      sendOne(i);
    }
  };
  clients.forEach((client, i) => {
    client.onMessage = (m, now) => {
      switch (m.type) {
        case "deliver": {
          const b = m.body;
          const dv = new DataView(b.buffer, b.byteOffset, 8);
          const from = dv.getUint32(0);
          const seq = dv.getUint32(4);
          client.send({ type: "receipt", rid: m.rid, ok: true });
          if (seen[from][seq] !== 0) {
            duplicates++;
            return;
          }
          seen[from][seq] = 1;
          received++;
          if (now >= windowStart && now <= windowEnd) inWindow++;
          latencies.push(now - sentAt[from][seq]);
          return;
        }
        case "delivered":
          confirmed++;
          outstanding[i]--;
          if (options.rate === undefined) closedLoopFill(i);
          return;
        case "error":
          errors[m.code] = (errors[m.code] ?? 0) + 1;
          outstanding[i]--;
          return;
      }
    };
  });
  windowStart = performance.now();
  windowEnd = windowStart + options.seconds * 1000;
  if (options.rate === undefined) {
    for (let i = 0; i < c; i++) closedLoopFill(i);
    // Refill every few ms too, in case a client's window drained while its budget was spent.
    while (performance.now() < windowEnd) {
      await sleep(20);
      for (let i = 0; i < c; i++) closedLoopFill(i);
    }
  } else {
    let total = 0;
    let next = 0;
    while (performance.now() < windowEnd) {
      const due = Math.floor(((performance.now() - windowStart) / 1000) * options.rate);
      for (; total < due; total++) {
        sendOne(next);
        next = (next + 1) % c;
      }
      await sleep(2);
    }
  }
  sending = false;
  const sentTotal = sent.reduce((a, b) => a + b, 0);
  const drainUntil = performance.now() + 10_000;
  while (confirmed + Object.values(errors).reduce((a, b) => a + b, 0) < sentTotal) {
    if (performance.now() > drainUntil) break;
    await sleep(20);
  }
  return {
    sent: sentTotal,
    received,
    duplicates,
    lost: sentTotal - received,
    confirmed,
    errors,
    perSecond: inWindow / options.seconds,
    latencies,
  };
}

/**
 * Runs scenario 5.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function messagesScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const who = await benchIdentity(await generateIdentity());
  const body = await sealedBody(who);
  const clientsN = ctx.quick ? 20 : 100;
  const seconds = ctx.quick ? 2 : 10;
  const viewersN = ctx.quick ? 50 : 500;
  const rate = 5000;
  const failures: string[] = [];
  const notes: string[] = [];
  const throughput: number[] = [];
  const serverCpu: number[] = [];
  const latency: Record<"idle" | "viewers", { p50: number[]; p99: number[] }> = {
    idle: { p50: [], p99: [] },
    viewers: { p50: [], p99: [] },
  };
  const check = (label: string, run: Omit<RelayRun, "serverCpu">) => {
    if (run.lost > 0) failures.push(`${label}: ${run.lost} of ${run.sent} messages lost`);
    if (run.duplicates > 0) failures.push(`${label}: ${run.duplicates} duplicated deliveries`);
    if (Object.keys(run.errors).length > 0) {
      notes.push(`${label}: server errors ${JSON.stringify(run.errors)}`);
    }
  };
  for (let rep = 0; rep < ctx.reps; rep++) {
    await withServer(ctx, async (server) => {
      const list = names(ctx, `m${rep}-`, clientsN);
      const { clients } = await connectMany(server.port, { names: list, who });
      ctx.log(`messages: ${clientsN} clients pipelining for ${seconds} s, rep ${rep + 1}`);
      const c0 = await readProc(server.pid);
      const run = await relay(clients, { body, names: list, seconds });
      const c1 = await readProc(server.pid);
      check("throughput", run);
      throughput.push(run.perSecond);
      serverCpu.push(((c1.cpuSeconds - c0.cpuSeconds) / ((c1.at - c0.at) / 1000)) * 100);
      ctx.log(`messages: ${rate}/s for ${seconds} s, idle`);
      const idle = await relay(clients, { body, names: list, seconds, rate });
      check("latency idle", idle);
      const sorted = idle.latencies.sort((a, b) => a - b);
      latency.idle.p50.push(percentile(sorted, 50));
      latency.idle.p99.push(percentile(sorted, 99));
      ctx.log(`messages: ${rate}/s for ${seconds} s while ${viewersN} viewers stream`);
      const fleet = await ViewerFleet.connect(server.port, {
        names: names(ctx, `mv${rep}-`, viewersN),
        workers: ctx.workers > 0 ? ctx.workers : 1,
      });
      try {
        await fleet.play(BENCH_TITLE, { quality: 480, spreadMs: 2000 });
        // Past the start-up burst: measure during steady streaming.
        await sleep(ctx.quick ? 2500 : 8000);
        const busy = await relay(clients, { body, names: list, seconds, rate });
        check("latency with viewers", busy);
        const s = busy.latencies.sort((a, b) => a - b);
        latency.viewers.p50.push(percentile(s, 50));
        latency.viewers.p99.push(percentile(s, 99));
      } finally {
        const { bytesAfterEnd } = await fleet.finish();
        if (bytesAfterEnd > 0) failures.push(`${bytesAfterEnd} media bytes after stream-end`);
      }
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.done));
    });
  }
  if (summarize(throughput).median >= 0.95 * clientsN * CLIENT_SEND_CAP) {
    notes.push(
      `Throughput reached the load clients' cap (${clientsN} × ${CLIENT_SEND_CAP}/s), not the server's limit`,
    );
  }
  const metrics: Metric[] = [
    {
      name: `relayed msgs/s, ${clientsN} clients pipelined`,
      unit: "msg/s",
      values: throughput,
      target: "≥ 50,000",
    },
    { name: "server CPU while relaying", unit: "% core", values: serverCpu },
    { name: `latency p50 at ${rate}/s, idle`, unit: "ms", values: latency.idle.p50 },
    { name: `latency p99 at ${rate}/s, idle`, unit: "ms", values: latency.idle.p99 },
    {
      name: `latency p50 at ${rate}/s, ${viewersN} viewers`,
      unit: "ms",
      values: latency.viewers.p50,
    },
    {
      name: `latency p99 at ${rate}/s, ${viewersN} viewers`,
      unit: "ms",
      values: latency.viewers.p99,
      target: "≤ 5 (500 viewers)",
    },
  ];
  notes.push(
    `Bodies are one 1 KiB text sealed once (${body.length} B) with a sender/sequence stamp; recipients answer receipt ok:true without open() (the server cannot tell). Each client sends to the next, at most ${WINDOW} unconfirmed and ${CLIENT_SEND_CAP}/s (sends + receipts stay under the 2,000 msg/s per-connection limit). Latency is send → deliver at the recipient, same clock; viewers run in a worker thread`,
  );
  return { id: "messages", title: "5. Messages", metrics, failures, notes };
}
