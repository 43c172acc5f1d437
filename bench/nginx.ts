/**
 * Scenario 9, nginx + HLS side by side: the segments peerstream prepared for the bench title,
 * served by Debian's nginx (one worker, `sendfile on`, keep-alive) to N HLS viewers that each hold
 * their own HTTP/1.1 connection and fetch the 480p segments at real-time pace, at most
 * peerstream's 6 s lead ahead. The rows of scenario 1, and peerstream ÷ nginx for each.
 * @module
 */

import { fleetWorkers, ViewerFleet } from "./_fleet.ts";
import { LEAD_SECONDS } from "./_hls_viewer.ts";
import { NGINX, peerEngine } from "./_install.ts";
import { findPrepared, type PreparedTitle, readNginx, startNginx } from "./_nginx.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE } from "./_server.ts";
import { summarize } from "./_stats.ts";
import { formatNumber } from "./_report.ts";
import { STALL_SECONDS } from "./_viewer.ts";
import {
  FLEET_ROWS,
  fleetMetrics,
  type FleetRun,
  SPREAD_MS,
  stallClause,
  watchFleet,
} from "./_watch.ts";
import { FULL_COUNTS } from "./viewers.ts";

/** Viewer counts of the quick run: one tiny N, to check that the pieces work. */
export const QUICK_NGINX_COUNTS: readonly number[] = [10];
/** Issue 12's goal: server CPU per viewer-minute within 1.5× nginx's at 1,000 viewers. */
const CPU_GOAL = { viewers: 1000, ratio: 1.5 } as const;

/** The viewer counts peerstream ÷ nginx is given at (when both ran them). */
export const RATIO_COUNTS: readonly number[] = [100, 1000, 2000];

/**
 * The bench title's prepared renditions, preparing them with a peerstream server first if needed.
 *
 * @param ctx The bench context.
 * @returns The title as nginx serves it.
 */
export async function preparedTitle(ctx: BenchContext): Promise<PreparedTitle> {
  try {
    return await findPrepared(ctx.cache, BENCH_TITLE);
  } catch {
    // Not prepared yet (e.g. `--only nginx` on a fresh cache): a bench server prepares it.
    ctx.log("nginx: preparing the bench title with a peerstream server first");
    await withServer(ctx, () => Promise.resolve());
    return await findPrepared(ctx.cache, BENCH_TITLE);
  }
}

/**
 * Runs N HLS viewers once against a fresh nginx serving the bench title's 480p.
 *
 * @param ctx The bench context.
 * @param options The count, the watch length and the warm-up excluded from rates.
 * @param engine The nginx binary and the prepared title.
 * @returns The run's figures.
 */
export async function runNginxFleet(
  ctx: BenchContext,
  options: { n: number; watchSeconds: number; warmupSeconds: number },
  engine: { binary: string; prepared: PreparedTitle },
): Promise<FleetRun> {
  const { n } = options;
  const server = await startNginx(engine.prepared, { binary: engine.binary });
  try {
    const playlist = server.playlists.get(480);
    if (playlist === undefined) throw new Error("Cannot serve HLS: the title has no 480p");
    return await watchFleet({
      ...options,
      title: playlist,
      readServer: () => readNginx(server),
      serverPids: () => server.pids(),
      quietMs: ctx.quietMs,
      connect: () =>
        ViewerFleet.connect(server.port, {
          names: names(ctx, "h", n),
          workers: fleetWorkers(ctx.workers, n),
          batch: 200,
          worker: new URL("./_hls_worker.ts", import.meta.url),
        }),
    });
  } finally {
    await server.stop();
  }
}

function median(scenario: ScenarioResult | undefined, name: string): number {
  return summarize(scenario?.metrics.find((m) => m.name === name)?.values ?? []).median;
}

/**
 * peerstream ÷ nginx for every row of scenario 1 at N = 100, 1,000, 2,000 and the largest N both
 * kept every viewer real time, where both ran that N.
 *
 * @param ours Scenario 1's results.
 * @param theirs This scenario's rows so far.
 * @param largest The largest all-real-time N of each, and whether both are real limits (quick
 * mode's tiny ramps are not, so their ratio is left out).
 * @returns The ratio rows.
 */
export function ratioRows(
  ours: ScenarioResult,
  theirs: ScenarioResult,
  largest: { ours: number; theirs: number; limits: boolean },
): Metric[] {
  const both = Math.min(largest.ours, largest.theirs);
  const counts = [...new Set([...RATIO_COUNTS, both])].filter((n) => n > 0).sort((a, b) => a - b);
  const rows: Metric[] = [];
  for (const n of counts) {
    // The machine's busy cores include the other side's load clients: not a server figure.
    for (
      const row of Object.values(FLEET_ROWS).filter((r) =>
        r !== FLEET_ROWS.machine && r !== FLEET_ROWS.other
      )
    ) {
      const name = `N=${n}: ${row}`;
      const ratio = median(ours, name) / median(theirs, name);
      if (!Number.isFinite(ratio)) continue;
      rows.push({
        name: `N=${n}${n === both ? " (largest both)" : ""}: peerstream / nginx ${row}`,
        unit: "ratio",
        values: [ratio],
        ...(n === CPU_GOAL.viewers && row === FLEET_ROWS.cpuPerViewerMinute
          ? {
            target: `≤ ${CPU_GOAL.ratio} (a goal)`,
            goal: {
              stat: "median",
              atMost: CPU_GOAL.ratio,
              why: `peerstream ${formatNumber(median(ours, name))} against nginx ${
                formatNumber(median(theirs, name))
              } CPU-s per viewer-minute`,
            },
          }
          : {}),
      });
    }
  }
  if (largest.limits && largest.ours > 0 && largest.theirs > 0) {
    rows.push({
      name: "largest N all real time: peerstream / nginx",
      unit: "ratio",
      values: [largest.ours / largest.theirs],
    });
  }
  return rows;
}

/**
 * Runs scenario 9.
 *
 * @param ctx The bench context.
 * @param viewers Scenario 1's results, for the ratios (when it ran).
 * @returns Its results.
 */
export async function nginxScenario(
  ctx: BenchContext,
  viewers?: ScenarioResult,
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: "nginx",
    title: "9. Side by side: nginx + HLS (480p)",
    metrics: [],
    failures: [],
    notes: [],
  };
  const found = await peerEngine(NGINX, ctx, result);
  if (found === null) return result;
  const prepared = await preparedTitle(ctx);
  const counts = ctx.viewerCounts ?? (ctx.quick ? QUICK_NGINX_COUNTS : FULL_COUNTS);
  const watchSeconds = ctx.quick ? 5 : 16;
  const warmupSeconds = ctx.quick ? 2 : 8;
  const runs: FleetRun[] = [];
  let largest = 0;
  for (const n of counts) {
    const mine: FleetRun[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      ctx.log(`nginx: N=${n} rep ${rep + 1}/${ctx.reps}`);
      const run = await runNginxFleet(ctx, { n, watchSeconds, warmupSeconds }, {
        binary: found.path,
        prepared,
      });
      ctx.log(
        `  real time ${(run.realTimeShare * 100).toFixed(1)}%, nginx CPU ${
          (run.serverCpuShare * 100).toFixed(0)
        }%, clients CPU ${(run.clientCpuShare * 100).toFixed(0)}%`,
      );
      mine.push(run);
      if (run.firstError !== undefined) {
        result.notes.push(`N=${n}: ${run.errors} viewer(s) failed, first: ${run.firstError}`);
      }
    }
    runs.push(...mine);
    result.metrics.push(...fleetMetrics(n, mine));
    if (mine.every((r) => r.realTimeShare === 1)) {
      largest = n;
    } else if (!ctx.quick && ctx.viewerCounts === undefined) {
      result.notes.push(`Ramp stopped at N=${n}: ${stallClause(mine, warmupSeconds)}`);
      break;
    }
  }
  result.metrics.push({
    name: "largest N with every viewer real time",
    unit: "viewers",
    values: [largest],
  });
  const ours = viewers?.metrics.find((m) => m.name.startsWith("largest N"))?.values[0] ?? 0;
  if (viewers !== undefined) {
    result.metrics.push(
      ...ratioRows(viewers, result, { ours, theirs: largest, limits: !ctx.quick }),
    );
    if (ctx.clientRoot !== undefined) {
      result.notes.push(
        `peerstream's side of the ratios is scenario 1's: the server of ${ctx.clientRoot}`,
      );
    }
  } else {
    result.notes.push(
      "No peerstream ÷ nginx rows: run the viewers scenario too (--only viewers,nginx)",
    );
  }
  result.notes.push(
    `${found.version}: one worker process, sendfile on, tcp_nopush, keep-alive (600 s, unlimited requests), no access log, ${
      Deno.uid() === 0
        ? "worker as root (user root;) so that it reads the bench cache"
        : "worker as the bench's own user"
    }; it serves the segments peerstream prepared, one media playlist per rendition. Server CPU and RSS are master + worker from /proc`,
    `Load viewers: in worker threads of the bench process like scenario 1's (so "load clients CPU" compares like with like), each with its own keep-alive HTTP/1.1 connection (a minimal client over Deno.connect; fetch would pool connections), GET the 480p playlist, then each segment once it starts at most ${LEAD_SECONDS} s ahead of the playhead; real time as in scenario 1 (lag > ${STALL_SECONDS} s = stall), GETs spread over ${
      SPREAD_MS / 1000
    } s, rates exclude the first ${warmupSeconds} s of each ${watchSeconds} s watch. A fresh nginx per run`,
  );
  if (ctx.quick) {
    result.notes.push(
      `Quick mode runs N=${
        QUICK_NGINX_COUNTS.join(", ")
      } only, to check that the pieces work; its figures say nothing about scale`,
    );
  }
  result.detail = { runs, watchSeconds, warmupSeconds };
  return result;
}
