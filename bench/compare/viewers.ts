/**
 * Scenario 1's viewers run against several checkouts (and nginx), interleaved: each repetition
 * runs N viewers at 480p on a fresh server of every entry in turn, alternating the order, and
 * prints the server's CPU per viewer-minute, its CPU share, the share of viewers that stayed real
 * time and the RSS per viewer, then the medians. On a shared 2-core machine one run of this row
 * moves by 20 % and more; interleaved repetitions are what tell a change from the machine's drift.
 * Not part of `deno task bench`; run it by hand:
 *
 * ```sh
 * git archive 51f285f | tar -x -C /tmp/before    # a checkout that speaks this protocol version
 * deno run -A bench/compare/viewers.ts --reps 5 --viewers 1000 /tmp/before . nginx
 * ```
 *
 * `.` is this checkout, `nginx` is Debian's nginx serving the same segments to HLS viewers
 * (scenario 9's). Every checkout's server runs with the V8 flags `serve` ships with
 * (`SERVER_V8_FLAGS`), or with `--v8-flags=FLAGS` when the entry is `ROOT@FLAGS`.
 * @module
 */

import { parseArgs } from "node:util";
import { findEngine, NGINX } from "../_install.ts";
import type { BenchContext } from "../_scenario.ts";
import { ensureBenchTitle } from "../_server.ts";
import { percentile } from "../_stats.ts";
import type { FleetRun } from "../_watch.ts";
import { preparedTitle, runNginxFleet } from "../nginx.ts";
import { runFleet } from "../viewers.ts";
import { SERVER_V8_FLAGS } from "../../tests/_helpers.ts";
import { serverOf } from "./message_path.ts";

/** The V8 flags `serve` ships with, which every checkout entry runs with unless it names its own. */
const SHIPPED_FLAGS = SERVER_V8_FLAGS[0].replace(/^--v8-flags=/, "");

const HELP = `Usage: deno run -A bench/compare/viewers.ts [options] ENTRY...

Runs N viewers (480p) against each ENTRY, interleaved, and prints each run and the medians.
ENTRY is a checkout ("." is this one), ROOT@FLAGS (ROOT with --v8-flags=FLAGS), or nginx.

Options:
  --reps N          Repetitions (default 3)
  --viewers N       Viewers (default 1000)
  --watch S         Seconds from the first PLAY to the end of the watch (default 16)
  --warmup S        Seconds excluded from rates at the start (default 8)
  --cache DIR       The bench title and its segments (default .cache/bench)`;

/** The figures of one run that this comparison prints. */
interface Row {
  cpuPerViewerMinute: number;
  serverCpu: number;
  realTime: number;
  rssPerViewerKiB: number;
  /** Viewers that stalled (of them, in the warm-up) or failed, and the first failure. */
  trouble: string;
}

function rowOf(run: FleetRun): Row {
  return {
    cpuPerViewerMinute: run.cpuPerViewerMinute,
    serverCpu: run.serverCpuShare * 100,
    realTime: run.realTimeShare * 100,
    rssPerViewerKiB: (run.peakRssBytes - run.baseRssBytes) / run.n / 1024,
    trouble: run.stalled === 0 && run.errors === 0
      ? ""
      : `  stalled ${run.stalled} (${run.stalledInWarmup} in the warm-up), failed ${run.errors}${
        run.firstError === undefined ? "" : `: ${run.firstError}`
      }`,
  };
}

function format(entry: string, row: Row): string {
  return `${entry.padEnd(24)} ${row.cpuPerViewerMinute.toFixed(5)} CPU-s/viewer-min  server ${
    row.serverCpu.toFixed(1).padStart(5)
  } %  real time ${row.realTime.toFixed(1)} %  RSS ${
    row.rssPerViewerKiB.toFixed(1)
  } KiB/viewer${row.trouble}`;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      reps: { type: "string", default: "3" },
      viewers: { type: "string", default: "1000" },
      watch: { type: "string", default: "16" },
      warmup: { type: "string", default: "8" },
      cache: { type: "string", default: new URL("../../.cache/bench", import.meta.url).pathname },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  });
  const [reps, n, watchSeconds, warmupSeconds] = [
    values.reps,
    values.viewers,
    values.watch,
    values.warmup,
  ].map(Number);
  if (
    values.help || positionals.length === 0 || ![reps, n].every((v) => Number.isInteger(v)) ||
    reps < 1 || n < 1 || !(warmupSeconds < watchSeconds)
  ) {
    (values.help ? console.log : console.error)(HELP);
    return values.help ? 0 : 2;
  }
  const { dir, file } = await ensureBenchTitle(values.cache);
  const here = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const base: BenchContext = {
    quick: false,
    reps: 1,
    cache: values.cache,
    videos: dir,
    file,
    workers: 0,
    peers: false,
    quietMs: 5000,
    tag: crypto.randomUUID().slice(0, 6),
    log: (line) => console.error(line),
  };
  const nginx = positionals.includes("nginx") ? await findEngine(NGINX) : null;
  if (positionals.includes("nginx") && nginx === null) {
    console.error("error: Cannot run nginx: not installed; apt-get install nginx");
    return 1;
  }
  const options = { n, watchSeconds, warmupSeconds };
  const rows = new Map<string, Row[]>(positionals.map((entry) => [entry, []]));
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? positionals : [...positionals].reverse();
    for (const [i, entry] of order.entries()) {
      const ctx = { ...base, tag: `${base.tag}${rep}${i}` };
      let run: FleetRun;
      if (entry === "nginx") {
        run = await runNginxFleet(ctx, options, {
          binary: nginx!.path,
          prepared: await preparedTitle(ctx),
        });
      } else {
        const { root, denoArgs } = serverOf(entry, here, SHIPPED_FLAGS);
        run = await runFleet({ ...ctx, clientRoot: root }, { ...options, denoArgs });
      }
      const row = rowOf(run);
      rows.get(entry)!.push(row);
      console.log(format(entry, row));
    }
  }
  console.log(`\nmedians of ${reps} repetitions, ${n} viewers:`);
  for (const [entry, list] of rows) {
    console.log(format(entry, {
      cpuPerViewerMinute: median(list.map((r) => r.cpuPerViewerMinute)),
      serverCpu: median(list.map((r) => r.serverCpu)),
      realTime: median(list.map((r) => r.realTime)),
      rssPerViewerKiB: median(list.map((r) => r.rssPerViewerKiB)),
      trouble: "",
    }));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
