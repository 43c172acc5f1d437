/**
 * The message load of scenario 5 (and the cluster and nats scenarios) in the bench's own thread:
 * the per-client send cap and window, a sealed 1 KiB body, one relay run among connected load
 * clients (counted, with latencies), and viewers that stream meanwhile.
 * @module
 */

import { importPeerKeys, seal } from "../protocol/e2e.ts";
import { encodeMessage } from "../protocol/messages.ts";
import { DEFAULT_RELAY_BUDGETS, DELIVER_OVERHEAD_BYTES } from "../server/community/relay.ts";
import { type BenchIdentity, type LoadClient } from "./_client.ts";
import { ViewerFleet } from "./_fleet.ts";
import { lostMessages, type RelayCounts } from "./_relay_wire.ts";
import { type BenchContext, names } from "./_scenario.ts";
import { BENCH_TITLE } from "./_server.ts";
import { sleep } from "./_stats.ts";

/** Sends per second one client may make: sends plus receipts stay under the server's 2,000/s. */
export const CLIENT_SEND_CAP = 900;
/**
 * Messages a throughput client keeps unconfirmed: well under the relay's budget for one sender
 * and one recipient ({@linkcode checkWindow}).
 */
export const WINDOW = 32;

/** What one relay run in the bench's own thread counted. */
export interface RelayRun extends RelayCounts {
  /** send → deliver latencies, ms. */
  latencies: number[];
}

/**
 * Checks that a window of bodies fits the relay's default budgets for one sender and one
 * recipient (256 messages or 1 MiB unconfirmed, counting each `deliver` frame's overhead): a
 * closed-loop client past them would be refused with `INBOX_FULL` instead of measuring the relay.
 *
 * @param window Unconfirmed messages per client.
 * @param bodyBytes The sealed body's size.
 * @throws {RangeError} When the window does not fit.
 */
export function checkWindow(window: number, bodyBytes: number): void {
  const budget = DEFAULT_RELAY_BUDGETS;
  const bytes = window * (bodyBytes + DELIVER_OVERHEAD_BYTES);
  if (window > budget.pairMessages || bytes > budget.pairBytes) {
    throw new RangeError(
      `The message load's window (${window} × ${bodyBytes} B) exceeds the relay's budget for one sender and one recipient (${budget.pairMessages} messages, ${budget.pairBytes} B); lower WINDOW in bench/messages.ts`,
    );
  }
}

/**
 * A 1 KiB text sealed once with `seal()`; every send reuses its bytes with the sender and sequence
 * number written over the first 8 bytes. The server relays bodies as opaque bytes and the load
 * clients answer `receipt ok:true` without `open()`, so the server's work is the same as for fresh
 * envelopes (the recipients would reject replays, which is why they do not open them).
 *
 * @param who The identity that seals (and receives) it.
 * @returns The sealed body (1,420 bytes).
 */
export async function sealedBody(who: BenchIdentity): Promise<Uint8Array<ArrayBuffer>> {
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
): Promise<RelayRun> {
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
    lost: lostMessages({ sent: sentTotal, received, errors }),
    confirmed,
    errors,
    perSecond: inWindow / options.seconds,
    latencies,
  };
}

/**
 * Starts `n` viewers streaming the bench title (in a worker thread) and waits past their start-up
 * burst; `stop` ends them and reports media bytes after a stream-end as a failure.
 *
 * @param ctx The bench context.
 * @param options The server's port, the count, a name prefix and where failures go.
 * @returns How to stop them.
 */
export async function streamViewers(
  ctx: BenchContext,
  options: { port: number; n: number; prefix: string; failures: string[] },
): Promise<{ stop(): Promise<void> }> {
  const fleet = await ViewerFleet.connect(options.port, {
    names: names(ctx, options.prefix, options.n),
    workers: ctx.workers > 0 ? ctx.workers : 1,
  });
  try {
    await fleet.play(BENCH_TITLE, { quality: 480, spreadMs: 2000 });
    // Past the start-up burst: measure during steady streaming.
    await sleep(ctx.quick ? 2500 : 8000);
  } catch (error) {
    fleet.terminate();
    throw error;
  }
  return {
    async stop() {
      const { bytesAfterEnd } = await fleet.finish();
      if (bytesAfterEnd > 0) {
        options.failures.push(`${bytesAfterEnd} media bytes after stream-end`);
      }
    },
  };
}
