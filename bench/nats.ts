/**
 * Scenario 10, NATS side by side: the message load of scenario 5 (same clients, same 1,420-byte
 * sealed bodies, each client publishing to the subject the next one subscribes to, a reply
 * standing in for the receipt) against Debian's `nats-server`, in the same two load processes;
 * idle and while 500 viewers stream from a peerstream server running alongside. Each repetition
 * also runs the same load against peerstream back to back with NATS, for paired peerstream ÷ NATS
 * ratios.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { benchIdentity } from "./_client.ts";
import { NATS_SERVER, peerEngine } from "./_install.ts";
import { startNats } from "./_nats.ts";
import { readProc } from "./_proc.ts";
import {
  checkRun,
  runRelaySuite,
  type SuiteLabels,
  suiteMetrics,
  type SuiteOptions,
  type SuiteRun,
} from "./_relay_suite.ts";
import {
  type BenchContext,
  fromRoot,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import {
  checkWindow,
  CLIENT_SEND_CAP,
  sealedBody,
  streamViewers,
  WINDOW,
} from "./_message_load.ts";
import { messageNotes } from "./messages.ts";

/** The npm client used for NATS (the NATS project's own, for Node.js runtimes). */
export const NATS_CLIENT = "npm:@nats-io/transport-node@3.4.0";

/** The figures compared, per repetition: how to read each from a suite run. */
const PAIRED: readonly {
  name: string;
  ours: (r: SuiteRun) => number | undefined;
  theirs: (r: SuiteRun) => number | undefined;
}[] = [
  { name: "msgs/s", ours: (r) => r.throughput.perSecond, theirs: (r) => r.throughput.perSecond },
  {
    name: "msgs/s (NATS without the per-client cap)",
    ours: (r) => r.throughput.perSecond,
    theirs: (r) => r.uncapped?.perSecond,
  },
  { name: "latency p50, idle", ours: (r) => r.idle.latency.p50, theirs: (r) => r.idle.latency.p50 },
  { name: "latency p99, idle", ours: (r) => r.idle.latency.p99, theirs: (r) => r.idle.latency.p99 },
  {
    name: "latency p50, viewers",
    ours: (r) => r.viewers?.latency.p50,
    theirs: (r) => r.viewers?.latency.p50,
  },
  {
    name: "latency p99, viewers",
    ours: (r) => r.viewers?.latency.p99,
    theirs: (r) => r.viewers?.latency.p99,
  },
  {
    name: "latency p50, idle, split connections",
    ours: (r) => r.split?.latency.p50,
    theirs: (r) => r.split?.latency.p50,
  },
  {
    name: "latency p99, idle, split connections",
    ours: (r) => r.split?.latency.p99,
    theirs: (r) => r.split?.latency.p99,
  },
];

/**
 * peerstream ÷ NATS for each figure, one ratio per repetition from the peerstream and NATS runs
 * made back to back in it (other work on a shared machine comes and goes, so runs minutes apart
 * are not comparable).
 *
 * @param pairs Each repetition's peerstream run and NATS run.
 * @param labels The rows' labels.
 * @returns The ratio rows.
 */
export function natsRatioRows(
  pairs: readonly { ours: SuiteRun; theirs: SuiteRun }[],
  labels: SuiteLabels,
): Metric[] {
  const rows: Metric[] = [];
  for (const figure of PAIRED) {
    const values = pairs.flatMap(({ ours, theirs }) => {
      const a = figure.ours(ours);
      const b = figure.theirs(theirs);
      return a === undefined || b === undefined || !(b > 0) ? [] : [a / b];
    });
    if (values.length === 0) continue;
    const name = figure.name.replace("viewers", `${labels.viewers} viewers`);
    rows.push({ name: `peerstream / NATS ${name}, paired`, unit: "ratio", values });
  }
  return rows;
}

async function natsRep(
  ctx: BenchContext,
  options: Omit<SuiteOptions, "port" | "readServer" | "viewers" | "names" | "ownPids"> & {
    binary: string;
    viewerCount: number;
    failures: string[];
    rep: number;
  },
): Promise<SuiteRun> {
  const nats = await startNats({ binary: options.binary });
  try {
    const suite = (ownPids: number[], viewers?: SuiteOptions["viewers"]) =>
      runRelaySuite({
        ...options,
        port: nats.port,
        readServer: () => readProc(nats.pid),
        ownPids,
        quietMs: ctx.quietMs,
        names: (prefix, count) => names(ctx, `n${prefix}${options.rep}-`, count),
        ...(viewers === undefined ? {} : { viewers }),
      });
    if (ctx.quick) return await suite([nats.pid]);
    // The viewers stream from a peerstream server running alongside, as in scenario 5 (the
    // same server as the paired peerstream runs, so that both carry the same extra load).
    return await withServer(
      ctx,
      (server) =>
        suite([nats.pid, server.pid], () =>
          streamViewers(ctx, {
            port: server.port,
            n: options.viewerCount,
            prefix: `nv${options.rep}-`,
            failures: options.failures,
          })),
      { root: ctx.clientRoot },
    );
  } finally {
    await nats.stop();
  }
}

async function peerstreamRep(
  ctx: BenchContext,
  options: Omit<SuiteOptions, "port" | "readServer" | "viewers" | "names" | "ownPids"> & {
    viewerCount: number;
    failures: string[];
    rep: number;
  },
): Promise<SuiteRun> {
  return await withServer(ctx, (server) =>
    runRelaySuite({
      ...options,
      engine: "peerstream",
      uncapped: false,
      port: server.port,
      readServer: () => readProc(server.pid),
      ownPids: [server.pid],
      names: (prefix, count) => names(ctx, `q${prefix}${options.rep}-`, count),
      ...(ctx.quick ? {} : {
        viewers: () =>
          streamViewers(ctx, {
            port: server.port,
            n: options.viewerCount,
            prefix: `qv${options.rep}-`,
            failures: options.failures,
          }),
      }),
    }), { root: ctx.clientRoot });
}

/**
 * Runs scenario 10.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function natsScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: "nats",
    title: `10. Side by side: NATS${fromRoot(ctx, "peerstream")}`,
    metrics: [],
    failures: [],
    notes: [],
  };
  const found = await peerEngine(NATS_SERVER, ctx, result);
  if (found === null) return result;
  const who = await benchIdentity(await generateIdentity());
  const body = await sealedBody(who);
  checkWindow(WINDOW, body.length);
  const clients = ctx.quick ? 20 : 100;
  const seconds = ctx.quick ? 2 : 10;
  const viewerCount = ctx.quick ? 50 : 500;
  const rate = 5000;
  const suites: SuiteRun[] = [];
  const pairs: { ours: SuiteRun; theirs: SuiteRun }[] = [];
  const common = {
    clients,
    seconds,
    rate,
    cap: CLIENT_SEND_CAP,
    window: WINDOW,
    body,
    split: !ctx.quick,
    log: ctx.log,
    quietMs: ctx.quietMs,
    viewerCount,
    failures: result.failures,
  };
  for (let rep = 0; rep < ctx.reps; rep++) {
    // peerstream and NATS back to back, in alternating order, for the paired ratios.
    const run = {
      nats: () =>
        natsRep(ctx, { ...common, engine: "nats", binary: found.path, uncapped: !ctx.quick, rep }),
      peerstream: () =>
        peerstreamRep(ctx, { ...common, engine: "peerstream", uncapped: false, rep }),
    };
    const first = rep % 2 === 0 ? "peerstream" : "nats";
    const a = await run[first]();
    const b = await run[first === "nats" ? "peerstream" : "nats"]();
    const [ours, theirs] = first === "peerstream" ? [a, b] : [b, a];
    for (const [label, r] of Object.entries(ours)) checkRun(`peerstream ${label}`, r, result);
    for (const [label, r] of Object.entries(theirs)) checkRun(`NATS ${label}`, r, result);
    suites.push(theirs);
    pairs.push({ ours, theirs });
  }
  const labels: SuiteLabels = {
    how: "2 load processes",
    clients,
    rate,
    viewers: viewerCount,
    serverCores: navigator.hardwareConcurrency,
    cap: clients * CLIENT_SEND_CAP,
    window: WINDOW,
  };
  result.metrics.push(...suiteMetrics(suites, labels));
  const figures = suiteMetrics(pairs.map((p) => p.ours), { ...labels, serverCores: 1 })
    .filter((m) => m.unit === "msg/s" || m.unit === "ms");
  result.metrics.push(
    ...figures.map((m) => ({ ...m, name: `peerstream, paired: ${m.name}` })),
    ...natsRatioRows(pairs, labels),
  );
  result.notes.push(
    `${found.version} (Go, all ${navigator.hardwareConcurrency} cores usable: its server CPU can pass 100 %), core publish/subscribe without JetStream, on loopback; client ${NATS_CLIENT}, one connection per client. Client i publishes to msg.<next> with the reply subject ack.<own>, the recipient answers with an empty reply (the receipt). The same clients, windows, caps, processes and clock as scenario 5's "2 load processes" rows; "without the per-client cap" lifts the ${CLIENT_SEND_CAP}/s that peerstream's per-connection limit needs. With viewers, the server CPU is NATS's only (the viewers' peerstream server is not counted)`,
    ...messageNotes({ clients, viewers: viewerCount, rate, body }, ctx.quick).slice(2),
  );
  result.notes.push(
    "Paired: each repetition runs the peerstream load (a fresh server, the same two load processes) and the NATS load back to back, alternating which goes first; each ratio is one repetition's peerstream figure over its NATS figure, so that both saw the same moment of a shared machine",
  );
  result.detail = { pairs };
  return result;
}
