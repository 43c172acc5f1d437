/**
 * `deno task bench`: the figures of issue 5, measured against a real server process on loopback.
 *
 * Usage: `deno task bench [--quick] [--only viewers,start,...] [--reps N] [--cache DIR]
 * [--client-root DIR]`.
 * Prints a table and writes `bench/results.json`. Exits non-zero only on a real failure: a crash,
 * a lost or duplicated message, or media bytes after a STOP acknowledgement.
 * @module
 */

import { parseArgs } from "node:util";
import { machineFacts } from "./_proc.ts";
import { formatTable, resultsFile } from "./_report.ts";
import type { BenchContext, ScenarioResult } from "./_scenario.ts";
import { ensureBenchTitle } from "./_server.ts";
import { baselineScenario } from "./baseline.ts";
import { clusterScenario } from "./cluster.ts";
import { clientScenario } from "./client_experience.ts";
import { cryptoScenario } from "./crypto.ts";
import { hostileScenario } from "./hostile.ts";
import { hostileTcpScenario } from "./hostile_tcp.ts";
import { hostileWebScenario } from "./hostile_web.ts";
import { joinStormScenario } from "./join_storm.ts";
import { messagesScenario } from "./messages.ts";
import { metricsScenario } from "./metrics.ts";
import { roomsScenario } from "./rooms.ts";
import { roomCryptoScenario } from "./room_crypto.ts";
import { natsScenario } from "./nats.ts";
import { nginxScenario } from "./nginx.ts";
import { shapedScenario } from "./shaped.ts";
import { startScenario, stopScenario } from "./start_stop.ts";
import { switchScenario } from "./switch.ts";
import { viewersScenario } from "./viewers.ts";
import { watchScenario } from "./watch.ts";
import { webScenario } from "./web.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Scenario ids in run order, with their functions; each gets the results so far. */
const SCENARIOS: Record<
  string,
  (ctx: BenchContext, done: readonly ScenarioResult[]) => Promise<ScenarioResult>
> = {
  viewers: viewersScenario,
  start: startScenario,
  stop: stopScenario,
  switch: switchScenario,
  messages: messagesScenario,
  join: joinStormScenario,
  crypto: cryptoScenario,
  baseline: (ctx, done) => baselineScenario(ctx, done.find((r) => r.id === "viewers")),
  nginx: (ctx, done) => nginxScenario(ctx, done.find((r) => r.id === "viewers")),
  nats: (ctx) => natsScenario(ctx),
  hostile: hostileScenario,
  "hostile-tcp": hostileTcpScenario,
  "hostile-web": hostileWebScenario,
  client: clientScenario,
  cluster: clusterScenario,
  web: webScenario,
  metrics: metricsScenario,
  shaped: shapedScenario,
  rooms: roomsScenario,
  "room-crypto": roomCryptoScenario,
  watch: watchScenario,
};

const HELP = `Usage: deno task bench [options]

Measures peerstream against a real server process on 127.0.0.1 (see BENCHMARKS.md).

Options:
  --quick           Tiny N and one repetition, about a minute (CI); nginx and nats
                    run only when --only names them
  --only LIST       Comma-separated scenarios: ${Object.keys(SCENARIOS).join(", ")}
  --reps N          Repetitions per measurement (default 3; 1 with --quick)
  --workers N       Viewer worker threads (default: 1, or 2 from 1000 viewers)
  --viewers LIST    Scenario 1's viewer counts instead of its ramp, e.g. 2000,5000
  --cache DIR       Bench title and prepared segments (default .cache/bench)
  --out FILE        Results file (default bench/results.json)
  --server-prof DIR Write a V8 CPU profile of every server process into DIR
  --client-root DIR Another checkout's server for viewers (and so nginx's ratios),
                    nats's peerstream runs, client, hostile-web and hostile-tcp,
                    and its join for client (the "before" figures); viewers and
                    nats need it to speak this checkout's protocol version
  -h, --help        Show this help
`;

/** What the command line asks for. */
interface BenchOptions {
  only: string[];
  quick: boolean;
  reps: number;
  workers: number;
  viewerCounts?: number[];
  cache?: string;
  out?: string;
  serverProf?: string;
  clientRoot?: string;
  /** `--only` was given. */
  picked: boolean;
}

/**
 * Reads the command line.
 *
 * @returns The options, or the exit code after printing help or an error.
 */
function parseBenchArgs(args: string[]): BenchOptions | number {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        reps: { type: "string" },
        workers: { type: "string" },
        viewers: { type: "string" },
        cache: { type: "string" },
        out: { type: "string" },
        "server-prof": { type: "string" },
        "client-root": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP.trimEnd());
    return 0;
  }
  // Run in the table's order, whatever order --only lists them in.
  const picked = values.only?.split(",").map((s) => s.trim()).filter(Boolean) ??
    Object.keys(SCENARIOS);
  const unknown = picked.filter((id) => !(id in SCENARIOS));
  if (unknown.length > 0) {
    console.error(
      `error: Unknown scenario "${unknown[0]}"; use ${Object.keys(SCENARIOS).join(", ")}`,
    );
    return 2;
  }
  const quick = values.quick;
  const reps = values.reps === undefined ? (quick ? 1 : 3) : Number(values.reps);
  const workers = values.workers === undefined ? 0 : Number(values.workers);
  if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(workers) || workers < 0) {
    console.error("error: --reps and --workers take whole numbers; --reps at least 1");
    return 2;
  }
  const viewerCounts = values.viewers?.split(",").map((s) => Number(s.trim()));
  if (viewerCounts !== undefined && !viewerCounts.every((n) => Number.isInteger(n) && n > 0)) {
    console.error("error: --viewers takes whole numbers above 0, e.g. 2000,5000");
    return 2;
  }
  return {
    only: Object.keys(SCENARIOS).filter((id) => picked.includes(id)),
    quick,
    reps,
    workers,
    viewerCounts,
    cache: values.cache,
    out: values.out,
    serverProf: values["server-prof"],
    clientRoot: values["client-root"],
    picked: values.only !== undefined,
  };
}

/**
 * Runs the benchmark.
 *
 * @param args Command-line arguments.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const options = parseBenchArgs(args);
  if (typeof options === "number") return options;
  const { quick } = options;
  const started = performance.now();
  const log = (line: string) =>
    console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const machine = await machineFacts(ROOT);
  const cache = options.cache ?? `${ROOT}.cache/bench`;
  log(`preparing the bench title in ${cache}`);
  const { dir, file } = await ensureBenchTitle(cache);
  const ctx: BenchContext = {
    quick,
    reps: options.reps,
    cache,
    videos: dir,
    file,
    workers: options.workers,
    ...(options.viewerCounts === undefined ? {} : { viewerCounts: options.viewerCounts }),
    peers: !quick || options.picked,
    quietMs: quick ? 0 : 5000,
    profileDir: options.serverProf,
    clientRoot: options.clientRoot,
    tag: crypto.randomUUID().slice(0, 6),
    log,
  };
  const { results, crashed } = await runScenarios(options.only, ctx);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `peerstream bench (${quick ? "quick" : "full"}) — ${machine.cores} cores, ${
      (machine.memoryBytes / 2 ** 30).toFixed(1)
    } GiB, Deno ${machine.deno.deno}, ${
      machine.ffmpeg.split(" ").slice(0, 3).join(" ")
    }, commit ${machine.commit}, ${machine.date}`,
  );
  console.log(formatTable(results));
  const out = options.out ?? `${ROOT}bench/results.json`;
  await Deno.writeTextFile(
    out,
    JSON.stringify(resultsFile(results, { quick, machine, seconds }), null, 2) + "\n",
  );
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.id}: ${f}`));
  console.log(`\nWrote ${out} in ${seconds.toFixed(1)} s; ${failures.length} failure(s)`);
  if (failures.length > 0 || crashed) {
    for (const f of failures) console.error(`error: ${f}`);
    return 1;
  }
  return 0;
}

/** Runs the scenarios in order; a crash becomes that scenario's failure and the rest still run. */
async function runScenarios(
  only: readonly string[],
  ctx: BenchContext,
): Promise<{ results: ScenarioResult[]; crashed: boolean }> {
  const results: ScenarioResult[] = [];
  let crashed = false;
  for (const id of only) {
    ctx.log(`scenario ${id}`);
    try {
      results.push(await SCENARIOS[id](ctx, results));
    } catch (error) {
      crashed = true;
      const message = (error as Error)?.stack ?? String(error);
      ctx.log(`scenario ${id} crashed: ${message}`);
      results.push({
        id,
        title: `${id} (crashed)`,
        metrics: [],
        failures: [`crashed: ${(error as Error)?.message ?? String(error)}`],
        notes: [],
      });
    }
  }
  return { results, crashed };
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
