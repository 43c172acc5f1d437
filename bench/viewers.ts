/**
 * Scenario 1, concurrent viewers: N viewers watch the bench title at 480p together; the share
 * that stayed real time, server CPU per viewer-minute, server RSS and bytes per viewer per second,
 * for N rising until not every viewer stays real time.
 * @module
 */

import { fleetWorkers, ViewerFleet } from "./_fleet.ts";
import { readProc } from "./_proc.ts";
import { formatNumber } from "./_report.ts";
import {
  type BenchContext,
  fromRoot,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE } from "./_server.ts";
import { summarize } from "./_stats.ts";
import { STALL_SECONDS } from "./_viewer.ts";
import { fleetMetrics, type FleetRun, SPREAD_MS, stallClause, watchFleet } from "./_watch.ts";

/** Viewer counts of the full run; the ramp stops at the first N where a viewer stalls. */
export const FULL_COUNTS: readonly number[] = [
  10,
  100,
  500,
  1000,
  2000,
  3000,
  4000,
  5000,
  6000,
  8000,
];
/** Viewer counts of the quick run. */
export const QUICK_COUNTS: readonly number[] = [10, 50];
/** The viewer count of the targets (issue 5): real time and CPU per viewer-minute. */
export const TARGET_VIEWERS = 2000;
/** Issue 12's targets: the largest real-time N, and memory per viewer at {@linkcode TARGET_VIEWERS}. */
export const CLOSE_IN = { viewers: 5000, rssPerViewerKiB: 64 } as const;

/**
 * Runs N viewers once on a fresh server (another checkout's with `--client-root`).
 *
 * @param ctx The bench context.
 * @param options The count, the watch length, the warm-up excluded from rates, and extra
 * `deno run` flags for the server (e.g. `--v8-flags=…`).
 * @returns The run's figures.
 */
export async function runFleet(
  ctx: BenchContext,
  options: { n: number; watchSeconds: number; warmupSeconds: number; denoArgs?: string[] },
): Promise<FleetRun> {
  const { n, denoArgs } = options;
  return await withServer(ctx, (server) =>
    watchFleet({
      ...options,
      title: BENCH_TITLE,
      readServer: () => readProc(server.pid),
      serverPids: () => Promise.resolve([server.pid]),
      quietMs: ctx.quietMs,
      connect: () =>
        ViewerFleet.connect(server.port, {
          names: names(ctx, "v", n),
          workers: fleetWorkers(ctx.workers, n),
          batch: 200,
        }),
    }), { root: ctx.clientRoot, ...(denoArgs === undefined ? {} : { denoArgs }) });
}

/**
 * Targets and goals of N viewers' rows: every viewer real time up to 2,000, and at most 0.01 CPU-s
 * per viewer-minute at 2,000 and above (below, the fixed per-server cost dominates). Quick mode's
 * largest N says plainly that it cannot show the CPU target.
 *
 * @param n The viewer count.
 * @param runs Its repetitions.
 * @param options `quickTop` in quick mode on its largest N; the warm-up, seconds.
 * @returns The targets per row.
 */
function viewerTargets(
  n: number,
  runs: readonly FleetRun[],
  options: { quickTop: boolean; warmup: number },
): Parameters<typeof fleetMetrics>[2] {
  const { quickTop, warmup } = options;
  const cpu = summarize(runs.map((r) => r.serverCpuShare)).median;
  const idle = summarize(runs.map((r) => (r.idleRssBytes - r.baseRssBytes) / r.n / 1024)).median;
  return {
    ...(n === TARGET_VIEWERS || quickTop
      ? {
        rssPerViewer: {
          target: `≤ ${CLOSE_IN.rssPerViewerKiB} at N=${TARGET_VIEWERS}`,
          goal: {
            stat: "median",
            atMost: CLOSE_IN.rssPerViewerKiB,
            why: `peak over the empty server; ${
              formatNumber(idle)
            } KiB each once connected and registered, before PLAY (the join storm's garbage included)`,
            ...(quickTop
              ? {
                notTested: `quick mode stops at N=${n}, where the server's fixed memory dominates`,
              }
              : {}),
          },
        },
      }
      : {}),
    ...(n <= TARGET_VIEWERS
      ? {
        realTime: {
          target: `100 % up to N=${TARGET_VIEWERS}`,
          goal: { stat: "min", atLeast: 100, why: stallClause(runs, warmup) },
        },
      }
      : {}),
    ...(n >= TARGET_VIEWERS || quickTop
      ? {
        cpuPerViewerMinute: {
          target: `≤ 0.01 at N ≥ ${TARGET_VIEWERS}`,
          goal: {
            stat: "median",
            atMost: 0.01,
            why: `the server used ${formatNumber(cpu * 100)} % of a core for ${n} viewers`,
            ...(quickTop
              ? {
                notTested: `quick mode stops at N=${n}, where the fixed per-server cost dominates`,
              }
              : {}),
          },
        },
      }
      : {}),
  };
}

/**
 * Runs scenario 1.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function viewersScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const counts = ctx.viewerCounts ?? (ctx.quick ? QUICK_COUNTS : FULL_COUNTS);
  // 16 s: an 8 s steady window after the start-up lead keeps the full run under 15 minutes.
  const watchSeconds = ctx.quick ? 5 : 16;
  const warmupSeconds = ctx.quick ? 2 : 8;
  const metrics: Metric[] = [];
  const failures: string[] = [];
  const notes: string[] = [];
  const runs: FleetRun[] = [];
  let largest = 0;
  let stopped = "";
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
    metrics.push(
      ...fleetMetrics(
        n,
        mine,
        viewerTargets(n, mine, {
          quickTop: ctx.quick && n === counts.at(-1),
          warmup: warmupSeconds,
        }),
      ),
    );
    const allRealTime = mine.every((r) => r.realTimeShare === 1);
    if (allRealTime) largest = n;
    // An explicit --viewers list runs every count; the ramp stops at the first stall.
    if (!allRealTime && !ctx.quick && ctx.viewerCounts === undefined) {
      stopped = `at N=${n}, ${stallClause(mine, warmupSeconds)}`;
      notes.push(`Ramp stopped at N=${n}: not every viewer stayed real time`);
      break;
    }
  }
  metrics.push({
    name: "largest N with every viewer real time",
    unit: "viewers",
    values: [largest],
    target: `≥ ${CLOSE_IN.viewers}`,
    goal: {
      stat: "min",
      atLeast: CLOSE_IN.viewers,
      why: stopped ||
        `every count asked for stayed real time; the largest was N=${counts.at(-1)}`,
      ...(ctx.quick ? { notTested: `quick mode stops at N=${counts.at(-1)}` } : {}),
    },
  });
  notes.push(
    `Real time: the playhead (wall time since a viewer's first media byte) never got more than ${STALL_SECONDS} s ahead of the end of the media it had completely received; PLAYs spread over ${
      SPREAD_MS / 1000
    } s; rates exclude the first ${warmupSeconds} s of each ${watchSeconds} s watch (the server's 6 s start-up lead)`,
  );
  return {
    id: "viewers",
    title: `1. Concurrent viewers (480p)${fromRoot(ctx)}`,
    metrics,
    failures,
    notes,
    detail: { runs, watchSeconds, warmupSeconds },
  };
}
