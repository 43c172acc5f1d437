/**
 * Scenario 1, concurrent viewers: N viewers watch the bench title at 480p together; the share
 * that stayed real time, server CPU per viewer-minute, server RSS and bytes per viewer per second,
 * for N rising until not every viewer stays real time.
 * @module
 */

import { ViewerFleet } from "./_fleet.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE, settle } from "./_server.ts";
import { sleep, summarize } from "./_stats.ts";
import { STALL_SECONDS } from "./_viewer.ts";

/** Viewer counts of the full run; the ramp stops at the first N where a viewer stalls. */
export const FULL_COUNTS: readonly number[] = [10, 100, 500, 1000, 2000, 3000, 4000, 6000, 8000];
/** Viewer counts of the quick run. */
export const QUICK_COUNTS: readonly number[] = [10, 50];

/** PLAYs are spread evenly over this long: one segment. */
export const SPREAD_MS = 2000;

/** One run of N viewers. */
export interface FleetRun {
  /** Viewers. */
  n: number;
  /** Share of viewers that stayed real time, 0 to 1. */
  realTimeShare: number;
  /** Server CPU seconds per viewer-minute over the steady window. */
  cpuPerViewerMinute: number;
  /** Server CPU share of one core over the steady window. */
  serverCpuShare: number;
  /** The bench process's CPU share (load clients) over the steady window. */
  clientCpuShare: number;
  /** Largest server RSS during the run, bytes. */
  peakRssBytes: number;
  /** Server RSS with the viewers connected and idle, bytes. */
  idleRssBytes: number;
  /** Server RSS before any viewer connected, bytes. */
  baseRssBytes: number;
  /** Media bytes per viewer per second over the steady window. */
  bytesPerViewerSecond: number;
  /** p99 over viewers of the largest lag, seconds. */
  p99LagSeconds: number;
  /** Viewers whose stream or connection failed. */
  errors: number;
  /** First error text, if any. */
  firstError?: string;
  /** Media bytes after a stream-end. */
  bytesAfterEnd: number;
}

/**
 * Runs N viewers once on a fresh server.
 *
 * @param ctx The bench context.
 * @param options The count, the watch length and the warm-up excluded from rates.
 * @returns The run's figures.
 */
export async function runFleet(
  ctx: BenchContext,
  options: { n: number; watchSeconds: number; warmupSeconds: number },
): Promise<FleetRun> {
  const { n, watchSeconds, warmupSeconds } = options;
  return await withServer(ctx, async (server) => {
    const baseRssBytes = (await readProc(server.pid)).rssBytes;
    const workers = ctx.workers > 0 ? ctx.workers : n >= 1000 ? 2 : 1;
    const fleet = await ViewerFleet.connect(server.port, {
      names: names(ctx, "v", n),
      workers,
      batch: 200,
    });
    let finished = false;
    try {
      await settle(async () => (await readProc(server.pid)).cpuSeconds);
      const idleRssBytes = (await readProc(server.pid)).rssBytes;
      const t0 = performance.now();
      await fleet.play(BENCH_TITLE, { quality: 480, spreadMs: SPREAD_MS });
      await sleep(warmupSeconds * 1000 - (performance.now() - t0));
      const [s0, c0] = await Promise.all([readProc(server.pid), readProc(Deno.pid)]);
      const m0 = await fleet.mark();
      await sleep(watchSeconds * 1000 - (performance.now() - t0));
      const [s1, c1] = await Promise.all([readProc(server.pid), readProc(Deno.pid)]);
      const m1 = await fleet.mark();
      // A fresh server per run: its peak RSS (VmHWM) is this run's peak.
      const peakRssBytes = s1.peakRssBytes;
      finished = true;
      const { results, bytesAfterEnd } = await fleet.finish();
      const seconds = (s1.at - s0.at) / 1000;
      const errored = results.filter((r) => r.error !== undefined);
      return {
        n,
        realTimeShare: results.filter((r) => r.realTime).length / n,
        cpuPerViewerMinute: (s1.cpuSeconds - s0.cpuSeconds) / (n * seconds / 60),
        serverCpuShare: (s1.cpuSeconds - s0.cpuSeconds) / seconds,
        clientCpuShare: (c1.cpuSeconds - c0.cpuSeconds) / seconds,
        peakRssBytes,
        idleRssBytes,
        baseRssBytes,
        bytesPerViewerSecond: (m1.mediaBytes - m0.mediaBytes) / n / seconds,
        p99LagSeconds: summarize(results.map((r) => r.maxLagSeconds)).p99,
        errors: errored.length,
        ...(errored.length > 0 ? { firstError: errored[0].error } : {}),
        bytesAfterEnd,
      };
    } finally {
      if (!finished) fleet.terminate();
    }
  });
}

/**
 * Runs scenario 1.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function viewersScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const counts = ctx.quick ? QUICK_COUNTS : FULL_COUNTS;
  // 16 s: an 8 s steady window after the start-up lead keeps the full run under 15 minutes.
  const watchSeconds = ctx.quick ? 5 : 16;
  const warmupSeconds = ctx.quick ? 2 : 8;
  const metrics: Metric[] = [];
  const failures: string[] = [];
  const notes: string[] = [];
  const runs: FleetRun[] = [];
  let largest = 0;
  for (const n of counts) {
    const mine: FleetRun[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      ctx.log(`viewers: N=${n} rep ${rep + 1}/${ctx.reps}`);
      const run = await runFleet(ctx, { n, watchSeconds, warmupSeconds });
      ctx.log(
        `  real time ${(run.realTimeShare * 100).toFixed(1)}%, server CPU ${
          (run.serverCpuShare * 100).toFixed(0)
        }%, clients CPU ${(run.clientCpuShare * 100).toFixed(0)}%`,
      );
      mine.push(run);
      if (run.bytesAfterEnd > 0) {
        failures.push(`N=${n}: ${run.bytesAfterEnd} media bytes arrived after a stream-end`);
      }
      if (run.firstError !== undefined) {
        notes.push(`N=${n}: ${run.errors} viewer(s) failed, first: ${run.firstError}`);
      }
    }
    runs.push(...mine);
    const pick = (f: (r: FleetRun) => number) => mine.map(f);
    metrics.push(
      {
        name: `N=${n}: viewers real time`,
        unit: "%",
        values: pick((r) => r.realTimeShare * 100),
        target: "100 % up to N=2000",
      },
      {
        name: `N=${n}: server CPU per viewer-minute`,
        unit: "s",
        values: pick((r) => r.cpuPerViewerMinute),
        target: "≤ 0.01",
      },
      { name: `N=${n}: server CPU`, unit: "% core", values: pick((r) => r.serverCpuShare * 100) },
      {
        name: `N=${n}: load clients CPU`,
        unit: "% core",
        values: pick((r) => r.clientCpuShare * 100),
      },
      {
        name: `N=${n}: server peak RSS`,
        unit: "MiB",
        values: pick((r) => r.peakRssBytes / 2 ** 20),
      },
      {
        name: `N=${n}: server RSS per viewer`,
        unit: "KiB",
        values: pick((r) => (r.peakRssBytes - r.baseRssBytes) / r.n / 1024),
      },
      {
        name: `N=${n}: media per viewer`,
        unit: "kbit/s",
        values: pick((r) => (r.bytesPerViewerSecond * 8) / 1000),
      },
      { name: `N=${n}: p99 of max lag`, unit: "s", values: pick((r) => r.p99LagSeconds) },
    );
    const allRealTime = mine.every((r) => r.realTimeShare === 1);
    if (allRealTime) largest = n;
    if (!allRealTime && !ctx.quick) {
      notes.push(`Ramp stopped at N=${n}: not every viewer stayed real time`);
      break;
    }
  }
  metrics.push({
    name: "largest N with every viewer real time",
    unit: "viewers",
    values: [largest],
    target: "≥ 2000",
  });
  notes.push(
    `Real time: the playhead (wall time since a viewer's first media byte) never got more than ${STALL_SECONDS} s ahead of the end of the media it had completely received; PLAYs spread over ${
      SPREAD_MS / 1000
    } s; rates exclude the first ${warmupSeconds} s of each ${watchSeconds} s watch (the server's 6 s start-up lead)`,
  );
  return {
    id: "viewers",
    title: "1. Concurrent viewers (480p)",
    metrics,
    failures,
    notes,
    detail: { runs, watchSeconds, warmupSeconds },
  };
}
