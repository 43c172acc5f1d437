/**
 * The single-process message path of several checkouts, interleaved: each repetition runs
 * scenario 10's peerstream load (a fresh server, 100 clients in two load processes, the same
 * 1,420-byte sealed bodies) against every checkout in turn, alternating the order, and prints the
 * closed-loop msgs/s and the send → deliver p50/p99 at 5,000 msg/s with the server's CPU, idle or
 * while `--viewers N` stream 480p from the same server. Single runs of these rows move by 10 % and
 * more on a shared machine; interleaved repetitions and their medians are what tell a change from
 * noise. Not part of `deno task bench`; run it by hand:
 *
 * ```sh
 * git archive 9a4ed63 | tar -x -C /tmp/before    # a checkout that speaks this protocol version
 * deno run -A bench/compare/message_path.ts --reps 9 /tmp/before .
 * deno run -A bench/compare/message_path.ts --v8-flags=--heap-growing-percent=25 --viewers 500 .
 * deno run -A bench/compare/message_path.ts --viewers 500 . .@--max-semi-space-size=32
 * ```
 *
 * `.` is this checkout. Every server runs with the same `deno run` flags: none, or `--v8-flags` as
 * given (`serve` ships with `SERVER_V8_FLAGS`), unless its ROOT says otherwise: `ROOT@FLAGS` runs
 * that checkout with `--v8-flags=FLAGS` instead, so two entries of one checkout compare V8 flags.
 * The figures behind issue 10's "within noise" are in docs/benchmarks-history.md.
 * @module
 */

import { parseArgs } from "node:util";
import { generateIdentity } from "../../protocol/e2e.ts";
import { benchIdentity } from "../_client.ts";
import { readProc } from "../_proc.ts";
import type { ProcRelayRun } from "../_relay_procs.ts";
import { runRelaySuite } from "../_relay_suite.ts";
import { type BenchContext, names, withServer } from "../_scenario.ts";
import { ensureBenchTitle } from "../_server.ts";
import { percentile } from "../_stats.ts";
import { CLIENT_SEND_CAP, sealedBody, streamViewers, WINDOW } from "../_message_load.ts";

const HELP = `Usage: deno run -A bench/compare/message_path.ts [options] ROOT...

Runs scenario 10's peerstream message load against each checkout ROOT ("." is this one),
interleaved, and prints each run and the medians. ROOT@FLAGS runs ROOT with --v8-flags=FLAGS
instead of the flags of --v8-flags.

Options:
  --reps N          Repetitions (default 5)
  --viewers N       Viewers streaming during the fixed-rate window (default 0)
  --v8-flags FLAGS  V8 flags for every server, e.g. --heap-growing-percent=25
  --cache DIR       The bench title and its segments (default .cache/bench)`;

/** One run's figures. */
interface Row {
  msgsPerSecond: number;
  p50: number;
  p99: number;
  /** Server CPU at the fixed rate, % of a core. */
  cpuAtRate: number;
}

/** The figures of one run, from its closed-loop and fixed-rate windows. */
function rowOf(throughput: ProcRelayRun, idle: ProcRelayRun): Row {
  return {
    msgsPerSecond: throughput.perSecond,
    p50: idle.latency.p50,
    p99: idle.latency.p99,
    cpuAtRate: idle.cpu.server * 100,
  };
}

function format(root: string, row: Row): string {
  return `${root.padEnd(24)} ${row.msgsPerSecond.toFixed(0).padStart(7)} msgs/s  p50 ${
    row.p50.toFixed(2)
  } ms  p99 ${row.p99.toFixed(2)} ms  server ${row.cpuAtRate.toFixed(1)} % at 5,000/s`;
}

/** The checkout and `deno run` flags an entry `ROOT` or `ROOT@FLAGS` names. */
export function serverOf(
  entry: string,
  here: string,
  v8Flags: string | undefined,
): { root: string; denoArgs: string[] } {
  const at = entry.indexOf("@");
  const root = at < 0 ? entry : entry.slice(0, at);
  const flags = at < 0 ? v8Flags : entry.slice(at + 1);
  return {
    root: root === "." ? here : root,
    denoArgs: flags === undefined || flags === "" ? [] : [`--v8-flags=${flags}`],
  };
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      reps: { type: "string", default: "5" },
      viewers: { type: "string", default: "0" },
      "v8-flags": { type: "string" },
      cache: { type: "string", default: new URL("../../.cache/bench", import.meta.url).pathname },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  });
  const reps = Number(values.reps);
  const viewers = Number(values.viewers);
  if (
    values.help || positionals.length === 0 || !Number.isInteger(reps) || reps < 1 ||
    !Number.isInteger(viewers) || viewers < 0
  ) {
    (values.help ? console.log : console.error)(HELP);
    return values.help ? 0 : 2;
  }
  const log = (line: string) => console.error(line);
  const { dir, file } = await ensureBenchTitle(values.cache);
  const ctx: BenchContext = {
    quick: false,
    reps: 1,
    cache: values.cache,
    videos: dir,
    file,
    workers: 0,
    peers: false,
    quietMs: 5000,
    tag: crypto.randomUUID().slice(0, 6),
    log,
  };
  const body = await sealedBody(await benchIdentity(await generateIdentity()));
  const here = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const failures: string[] = [];
  const rows = new Map<string, Row[]>(positionals.map((root) => [root, []]));
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? positionals : [...positionals].reverse();
    for (const [i, root] of order.entries()) {
      const suite = await withServer(ctx, (server) =>
        runRelaySuite({
          engine: "peerstream",
          port: server.port,
          readServer: () => readProc(server.pid),
          ownPids: [server.pid],
          quietMs: ctx.quietMs,
          names: (prefix, count) => names(ctx, `m${rep}-${i}${prefix}`, count),
          clients: 100,
          seconds: 10,
          rate: 5000,
          cap: CLIENT_SEND_CAP,
          window: WINDOW,
          uncapped: false,
          body,
          split: false,
          log: () => {},
          ...(viewers === 0 ? {} : {
            viewers: () =>
              streamViewers(ctx, {
                port: server.port,
                n: viewers,
                prefix: `mv${rep}-${i}-`,
                failures,
              }),
          }),
        }), serverOf(root, here, values["v8-flags"]));
      const row = rowOf(suite.throughput, suite.viewers ?? suite.idle);
      rows.get(root)!.push(row);
      console.log(format(root, row));
    }
  }
  for (const failure of failures) console.error(`error: ${failure}`);
  console.log(`\nmedians of ${reps} repetitions${viewers > 0 ? `, ${viewers} viewers` : ""}:`);
  for (const [root, list] of rows) {
    console.log(format(root, {
      msgsPerSecond: median(list.map((r) => r.msgsPerSecond)),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      cpuAtRate: median(list.map((r) => r.cpuAtRate)),
    }));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
