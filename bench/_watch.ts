/**
 * One watch of N viewers against any server process (peerstream, or nginx serving HLS): start
 * them together, measure the server's CPU and memory from `/proc` and the load clients' CPU over
 * a steady window, and turn the runs into the table rows of scenario 1.
 * @module
 */

import type { ViewerFleet } from "./_fleet.ts";
import { busyCores, type ProcSample, readMachineCpu, readProc, waitForQuiet } from "./_proc.ts";
import type { Metric } from "./_scenario.ts";
import { settle } from "./_server.ts";
import { sleep, summarize } from "./_stats.ts";
import { STALL_SECONDS } from "./_viewer.ts";

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
  /** Cores the whole machine kept busy over the steady window (other work included). */
  machineCores: number;
  /** Cores busy over the steady window outside the server and the bench process. */
  otherCores: number;
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
  /** Viewers that stalled (largest lag over 1 s). */
  stalled: number;
  /** Of those, the ones whose largest lag came within the warm-up (the start-up burst). */
  stalledInWarmup: number;
  /** Viewers whose stream or connection failed. */
  errors: number;
  /** First error text, if any. */
  firstError?: string;
  /** Media bytes after a stream-end. */
  bytesAfterEnd: number;
}

/** Options for {@linkcode watchFleet}. */
export interface WatchOptions {
  /** Viewers. */
  n: number;
  /** Seconds from the first PLAY to the end of the watch. */
  watchSeconds: number;
  /** Seconds excluded from rates at the start (the start-up lead). */
  warmupSeconds: number;
  /** What the viewers play: a title, or an HLS playlist path. */
  title: string;
  /** Reads the server's CPU and memory (a fresh server per run, so its peak is this run's). */
  readServer: () => Promise<ProcSample>;
  /** The longest wait for a quiet machine before the PLAYs, ms. */
  quietMs: number;
  /** The server's process ids (nginx: master and worker), so that other work can be told apart. */
  serverPids: () => Promise<number[]>;
  /** Connects and registers the viewers (called after the base RSS is read). */
  connect: () => Promise<ViewerFleet>;
}

/**
 * Connects N viewers, lets the server settle, starts them over {@linkcode SPREAD_MS} and measures
 * the steady window after the warm-up.
 *
 * @param options Count, timings, what to play, the server reader and the fleet factory.
 * @returns The run's figures.
 */
export async function watchFleet(options: WatchOptions): Promise<FleetRun> {
  const { n, watchSeconds, warmupSeconds, readServer } = options;
  const baseRssBytes = (await readServer()).rssBytes;
  const fleet = await options.connect();
  let finished = false;
  try {
    await settle(async () => (await readServer()).cpuSeconds);
    // Other work on a shared machine: start in a quiet moment if one comes soon.
    await waitForQuiet([...await options.serverPids(), Deno.pid], { maxMs: options.quietMs });
    const idleRssBytes = (await readServer()).rssBytes;
    const t0 = performance.now();
    await fleet.play(options.title, { quality: 480, spreadMs: SPREAD_MS });
    await sleep(warmupSeconds * 1000 - (performance.now() - t0));
    const [s0, c0, k0] = await Promise.all([readServer(), readProc(Deno.pid), readMachineCpu()]);
    const m0 = await fleet.mark();
    await sleep(watchSeconds * 1000 - (performance.now() - t0));
    const [s1, c1, k1] = await Promise.all([readServer(), readProc(Deno.pid), readMachineCpu()]);
    const m1 = await fleet.mark();
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
      machineCores: busyCores(k0, k1),
      otherCores: Math.max(
        0,
        busyCores(k0, k1) -
          (s1.cpuSeconds - s0.cpuSeconds + c1.cpuSeconds - c0.cpuSeconds) / seconds,
      ),
      // A fresh server per run: its peak RSS (VmHWM) is this run's peak.
      peakRssBytes: s1.peakRssBytes,
      idleRssBytes,
      baseRssBytes,
      bytesPerViewerSecond: (m1.mediaBytes - m0.mediaBytes) / n / seconds,
      p99LagSeconds: summarize(results.map((r) => r.maxLagSeconds)).p99,
      stalled: results.filter((r) => r.maxLagSeconds > STALL_SECONDS).length,
      stalledInWarmup: results.filter((r) =>
        r.maxLagSeconds > STALL_SECONDS && r.maxLagAtSeconds <= warmupSeconds
      ).length,
      errors: errored.length,
      ...(errored.length > 0 ? { firstError: errored[0].error } : {}),
      bytesAfterEnd,
    };
  } finally {
    if (!finished) fleet.terminate();
  }
}

/** Row names of {@linkcode fleetMetrics}, after `N=…: `; other scenarios look rows up by them. */
export const FLEET_ROWS = {
  realTime: "viewers real time",
  cpuPerViewerMinute: "server CPU per viewer-minute",
  serverCpu: "server CPU",
  clientCpu: "load clients CPU",
  peakRss: "server peak RSS",
  rssPerViewer: "server RSS per viewer",
  media: "media per viewer",
  lag: "p99 of max lag",
  machine: "whole machine busy",
  other: "other work on the machine",
} as const;

/**
 * The table rows of N viewers' runs (one value per repetition).
 *
 * @param n The viewer count.
 * @param runs The repetitions.
 * @param targets Targets and goals per row key, if any.
 * @returns The rows, in {@linkcode FLEET_ROWS} order.
 */
export function fleetMetrics(
  n: number,
  runs: readonly FleetRun[],
  targets: Partial<Record<keyof typeof FLEET_ROWS, Pick<Metric, "target" | "goal">>> = {},
): Metric[] {
  const pick = (f: (r: FleetRun) => number) => runs.map(f);
  const values: Record<keyof typeof FLEET_ROWS, [string, number[]]> = {
    realTime: ["%", pick((r) => r.realTimeShare * 100)],
    cpuPerViewerMinute: ["s", pick((r) => r.cpuPerViewerMinute)],
    serverCpu: ["% core", pick((r) => r.serverCpuShare * 100)],
    clientCpu: ["% core", pick((r) => r.clientCpuShare * 100)],
    peakRss: ["MiB", pick((r) => r.peakRssBytes / 2 ** 20)],
    rssPerViewer: ["KiB", pick((r) => (r.peakRssBytes - r.baseRssBytes) / r.n / 1024)],
    media: ["kbit/s", pick((r) => (r.bytesPerViewerSecond * 8) / 1000)],
    lag: ["s", pick((r) => r.p99LagSeconds)],
    machine: ["% core", pick((r) => r.machineCores * 100)],
    other: ["% core", pick((r) => r.otherCores * 100)],
  };
  return (Object.keys(FLEET_ROWS) as (keyof typeof FLEET_ROWS)[]).map((key) => ({
    name: `N=${n}: ${FLEET_ROWS[key]}`,
    unit: values[key][0],
    values: values[key][1],
    ...targets[key],
  }));
}

/**
 * One clause on why N viewers were not all real time, from the worst run: how many stalled or
 * failed, the p99 lag and who was busy.
 *
 * @param runs The repetitions.
 * @param warmup The warm-up, seconds (stalls within it happened in the start-up burst).
 * @returns The clause.
 */
export function stallClause(runs: readonly FleetRun[], warmup = 8): string {
  const worst = runs.reduce((a, b) => (b.realTimeShare < a.realTimeShare ? b : a));
  const late = Math.round((1 - worst.realTimeShare) * worst.n);
  const burst = worst.stalled > 0
    ? `, ${worst.stalledInWarmup} of them within the first ${warmup} s (the start-up burst)`
    : "";
  return `${late} of ${worst.n} viewers ${
    worst.errors > 0 ? `failed or lagged (${worst.errors} failed)` : "lagged > 1 s"
  }${burst} (p99 lag ${worst.p99LagSeconds.toFixed(2)} s) with the server at ${
    Math.round(worst.serverCpuShare * 100)
  } % and the load clients at ${
    Math.round(worst.clientCpuShare * 100)
  } % of a core, other work at ${Math.round(worst.otherCores * 100)} %`;
}
