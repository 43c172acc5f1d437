/**
 * Scenario 15, metrics: what a Prometheus scrape of `serve --metrics` costs with N viewers
 * watching (issue 16, item 6: under a millisecond of server time with thousands of viewers, or
 * prom-client goes). The server times each scrape itself (`peerstream_scrape_seconds`, read from
 * the next scrape); the bench also times the HTTP round trip and checks the viewers gauge.
 * @module
 */

import parsePrometheus from "parse-prometheus-text-format";
import { fleetWorkers, ViewerFleet } from "./_fleet.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE, type BenchServer, settle } from "./_server.ts";
import { sleep, summarize } from "./_stats.ts";
import { SPREAD_MS } from "./_watch.ts";
import { ServerMetrics } from "../server/ops/metrics.ts";
import { type Door, type ServerSnapshot, ServerStats } from "../server/ops/server_stats.ts";

/** The viewers of the target (issue 16). */
export const METRICS_VIEWERS = 2000;
/** Scrapes per repetition. */
const SCRAPES = 30;
/** Time between scrapes, ms: far more often than Prometheus would (15 s), still spaced out. */
const SCRAPE_GAP_MS = 200;

/** One scrape as the bench sees it. */
interface Scraped {
  /** Round trip, ms. */
  roundTripMs: number;
  /** Size of the text, bytes. */
  bytes: number;
  /** The previous scrape's time inside the server, ms. */
  previousServerMs: number;
  /** Streams the viewers gauge counts, all renditions. */
  viewers: number;
}

async function scrapeOnce(port: number): Promise<Scraped> {
  const t0 = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  const roundTripMs = performance.now() - t0;
  if (response.status !== 200) throw new Error(`Scrape answered ${response.status}: ${text}`);
  const families = parsePrometheus(text) as {
    name: string;
    metrics: { value?: string }[];
  }[];
  const sum = (name: string) =>
    (families.find((f) => f.name === name)?.metrics ?? []).reduce(
      (total, m) => total + Number(m.value ?? 0),
      0,
    );
  return {
    roundTripMs,
    bytes: new TextEncoder().encode(text).length,
    previousServerMs: sum("peerstream_scrape_seconds") * 1000,
    viewers: sum("peerstream_viewers"),
  };
}

/**
 * The scrape alone, in this process: `ServerMetrics` over a source shaped like a server with `n`
 * viewers (its snapshot walks `n` connection records, as `PeerstreamServer.snapshot()` does), so
 * that no other work of a live server interleaves with the timing.
 *
 * @param n The viewers.
 * @param scrapes How many scrapes to time.
 * @returns Each scrape's time, ms.
 */
export async function scrapeInProcess(n: number, scrapes: number): Promise<number[]> {
  const doors: Door[] = ["tcp", "tls", "websocket"];
  const clients = Array.from({ length: n }, (_, i) => ({
    door: doors[i % 3],
    registered: true,
    bytesWritten: i * 1000,
    height: [240, 480, 720][i % 3],
  }));
  const stats = new ServerStats();
  for (let i = 0; i < 10_000; i++) stats.segment((i % 100) / 1000);
  const source = {
    stats,
    readiness: () => ({ ready: true }),
    snapshot(): ServerSnapshot {
      // The same pass as the server's: counts per door and per height, no string per record.
      const counts = { tcp: 0, tls: 0, websocket: 0, http: 0 };
      const heights = new Map<number, number>();
      let bytesSent = 0;
      for (const c of clients) {
        if (c.registered) counts[c.door]++;
        bytesSent += c.bytesWritten;
        heights.set(c.height, (heights.get(c.height) ?? 0) + 1);
      }
      const connections: ServerSnapshot["connections"] = new Map();
      for (const door of doors) connections.set(`${door} registered`, counts[door]);
      const viewers = new Map([...heights].map(([height, v]) => [`${height}p`, v]));
      return { connections, registered: n, viewers, bytesSent };
    },
  };
  const metrics = new ServerMetrics(source, { cluster: false });
  const out: number[] = [];
  for (let i = 0; i < scrapes + 20; i++) {
    const t0 = performance.now();
    await metrics.scrape();
    // The first 20 warm the JIT up, as a long-running server's scrapes are warm.
    if (i >= 20) out.push(performance.now() - t0);
  }
  return out;
}

/**
 * The machine's noise floor for such timings: a fixed loop of about the scrape's median, timed
 * `count` times the same way. On a shared machine the tail of both is the scheduler's.
 *
 * @param count How many timings.
 * @param ms About how long one loop should take, ms.
 * @returns Each loop's time, ms.
 */
export function busyFloor(count: number, ms: number): number[] {
  let spins = 1000;
  let sink = 0;
  const loop = () => {
    for (let i = 0; i < spins; i++) sink = (sink * 31 + i) % 1_000_003;
  };
  // Calibrate the loop to about `ms`.
  for (let t = 0; t < 20; t++) {
    const t0 = performance.now();
    loop();
    const took = performance.now() - t0;
    spins = Math.max(1000, Math.round(spins * ms / Math.max(took, 0.001)));
  }
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    loop();
    out.push(performance.now() - t0);
  }
  if (sink < 0) out.push(sink); // Keeps the loop from being optimised away.
  return out;
}

function metricsPort(server: BenchServer): number {
  const line = server.log.find((l) => /Metrics at http:\/\/127\.0\.0\.1:\d+\//.test(l));
  if (line === undefined) throw new Error("The server did not say where its metrics are");
  return Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
}

/**
 * Runs scenario 15.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function metricsScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.viewerCounts?.at(-1) ?? (ctx.quick ? 50 : METRICS_VIEWERS);
  const serverMs: number[] = [];
  const roundTripMs: number[] = [];
  const sizes: number[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`metrics: ${n} viewers, ${SCRAPES} scrapes, rep ${rep + 1}/${ctx.reps}`);
    await withServer(
      { ...ctx, serverArgs: [...(ctx.serverArgs ?? []), "--metrics", "127.0.0.1:0"] },
      async (server) => {
        const port = metricsPort(server);
        const fleet = await ViewerFleet.connect(server.port, {
          names: names(ctx, "m", n),
          workers: fleetWorkers(ctx.workers, n),
          batch: 200,
        });
        try {
          await settle(async () => (await readProc(server.pid)).cpuSeconds);
          await fleet.play(BENCH_TITLE, { quality: 480, spreadMs: SPREAD_MS });
          // Every viewer started and streaming: the scrapes walk live streams.
          await sleep(SPREAD_MS + 3000);
          let previous: Scraped | undefined;
          for (let i = 0; i <= SCRAPES; i++) {
            const scraped = await scrapeOnce(port);
            if (previous !== undefined) {
              serverMs.push(scraped.previousServerMs);
              roundTripMs.push(previous.roundTripMs);
              sizes.push(previous.bytes);
            }
            if (i === SCRAPES && scraped.viewers !== n) {
              notes.push(`the viewers gauge said ${scraped.viewers} of ${n} at the last scrape`);
            }
            previous = scraped;
            await sleep(SCRAPE_GAP_MS);
          }
        } finally {
          const { results } = await fleet.finish();
          const errors = results.filter((r) => r.error !== undefined);
          if (errors.length > 0) {
            failures.push(`${errors.length} viewer(s) failed, first: ${errors[0].error}`);
          }
        }
      },
    );
  }
  ctx.log(`metrics: ${METRICS_VIEWERS} viewers' state scraped in process`);
  const alone = await scrapeInProcess(METRICS_VIEWERS, ctx.quick ? 100 : 1000);
  const floor = busyFloor(alone.length, summarize(alone).median);
  const metrics: Metric[] = [
    {
      name: `N=${METRICS_VIEWERS}: the scrape alone, in process (prom-client)`,
      unit: "ms",
      values: alone,
      target: "< 1",
      // The median is the scrape's cost; its tail is the scheduler's (the noise floor's row).
      goal: {
        stat: "median",
        atMost: 1,
        why: `the noise floor's p99 was ${summarize(floor).p99.toFixed(2)} ms`,
      },
    },
    {
      name: "the machine's noise floor: a fixed loop as long as that median",
      unit: "ms",
      values: floor,
      limit: "the scheduler: on a shared machine its tail is the p99 of any such timing",
    },
    {
      name: `N=${n}: scrape wall time inside the server`,
      unit: "ms",
      values: serverMs,
      limit: "wall time: the streams' work between prom-client's awaits counts too",
    },
    { name: `N=${n}: scrape round trip (HTTP, from the bench)`, unit: "ms", values: roundTripMs },
    { name: `N=${n}: scrape size`, unit: "bytes", values: sizes },
  ];
  return {
    id: "metrics",
    title: "15. Metrics: a Prometheus scrape with viewers watching",
    metrics,
    failures,
    notes,
  };
}
