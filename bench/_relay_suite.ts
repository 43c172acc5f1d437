/**
 * The message measurements made with the load in two processes of its own (`_relay_procs.ts`),
 * the same for peerstream and for NATS: throughput (closed loop), latency at a fixed rate idle,
 * while viewers stream, and with senders and receivers on separate connections. Each figure comes
 * with the CPU of the server and of each load process, and a clause on which side limits it.
 * @module
 */

import { readProc } from "./_proc.ts";
import { formatNumber } from "./_report.ts";
import type { ProcRelayRun, RelayRunOptions } from "./_relay_procs.ts";
import { RelayLoad } from "./_relay_procs.ts";
import type { RelayCounts, RelayEngine } from "./_relay_wire.ts";
import type { Metric } from "./_scenario.ts";
import { summarize } from "./_stats.ts";

/** Share of a core at which a process counts as the limit. */
export const BUSY_SHARE = 0.85;

/** Options for {@linkcode runRelaySuite}. */
export interface SuiteOptions {
  /** peerstream or NATS. */
  engine: RelayEngine;
  /** The server's port. */
  port: number;
  /** Reads the server's CPU. */
  readServer: RelayRunOptions["readServer"];
  /** The longest wait for a quiet machine before each window, ms. */
  quietMs: number;
  /** The processes of the system under test (see {@linkcode RelayRunOptions.ownPids}). */
  ownPids: readonly number[];
  /** Fresh names: `count` of them with a prefix. */
  names: (prefix: string, count: number) => string[];
  /** Clients in all (half in each load process). */
  clients: number;
  /** Seconds per window. */
  seconds: number;
  /** The fixed rate of the latency runs, msg/s. */
  rate: number;
  /** Sends per second per client in the throughput run. */
  cap: number;
  /** Unconfirmed messages per client in the closed-loop runs. */
  window: number;
  /** Also run closed loop without the cap (NATS has no per-connection limit). */
  uncapped: boolean;
  /** The sealed body. */
  body: Uint8Array;
  /** Starts viewers streaming (from a peerstream server) and returns how to stop them; none in quick mode. */
  viewers?: () => Promise<{ stop(): Promise<void> }>;
  /** Also run the split layout (senders and receivers on separate connections). */
  split: boolean;
  /** Progress. */
  log: (line: string) => void;
}

/** One repetition of the suite. */
export interface SuiteRun {
  /** Closed loop, capped. */
  throughput: ProcRelayRun;
  /** Closed loop, no cap. */
  uncapped?: ProcRelayRun;
  /** Fixed rate, idle. */
  idle: ProcRelayRun;
  /** Fixed rate while viewers stream; `bench` is the bench process's CPU share (the viewers). */
  viewers?: ProcRelayRun & { bench: number };
  /** Fixed rate, senders and receivers on separate connections. */
  split?: ProcRelayRun;
}

/**
 * Runs one repetition: throughput, idle latency, latency with viewers (mixed layout), then the
 * split layout's latency, in load processes of their own.
 *
 * @param options What to run against.
 * @returns The runs.
 */
export async function runRelaySuite(options: SuiteOptions): Promise<SuiteRun> {
  const { engine, seconds, rate, log } = options;
  const half = options.clients / 2;
  const base = {
    seconds,
    window: options.window,
    readServer: options.readServer,
    ownPids: options.ownPids,
    quietMs: options.quietMs,
  };
  const mixed = await RelayLoad.start({
    engine,
    port: options.port,
    topology: "mixed",
    names: { a: options.names("pa", half), b: options.names("pb", half) },
    body: options.body,
  });
  const out: Partial<SuiteRun> = {};
  try {
    log(`${engine}: ${options.clients} clients in 2 load processes, closed loop for ${seconds} s`);
    out.throughput = await mixed.run({ ...base, rate: 0, cap: options.cap });
    if (options.uncapped) {
      log(`${engine}: closed loop without the per-client cap`);
      out.uncapped = await mixed.run({ ...base, rate: 0, cap: 1e9 });
    }
    log(`${engine}: ${rate}/s for ${seconds} s, idle, 2 load processes`);
    out.idle = await mixed.run({ ...base, rate });
    if (options.viewers !== undefined) {
      log(`${engine}: ${rate}/s for ${seconds} s while viewers stream, 2 load processes`);
      const fleet = await options.viewers();
      try {
        const b0 = await readProc(Deno.pid);
        const run = await mixed.run({ ...base, rate, quietMs: 0 });
        const b1 = await readProc(Deno.pid);
        out.viewers = { ...run, bench: (b1.cpuSeconds - b0.cpuSeconds) / ((b1.at - b0.at) / 1000) };
      } finally {
        await fleet.stop();
      }
    }
  } finally {
    await mixed.close();
  }
  if (options.split) {
    log(`${engine}: ${rate}/s for ${seconds} s, senders and receivers on separate connections`);
    const split = await RelayLoad.start({
      engine,
      port: options.port,
      topology: "split",
      names: { a: options.names("ps", half), b: options.names("pr", half) },
      body: options.body,
    });
    try {
      out.split = await split.run({ ...base, rate });
    } finally {
      await split.close();
    }
  }
  return { ...out, throughput: out.throughput!, idle: out.idle! };
}

/**
 * Sorts what a run counted into failures (lost or duplicated messages) and notes (the error codes
 * the server answered with, `INBOX_FULL` among them, which is no loss: see `lostMessages` in
 * `_relay_wire.ts`).
 *
 * @param label The run's name.
 * @param run The run, if it ran.
 * @param out Where failures and notes go.
 */
export function checkRun(
  label: string,
  run: RelayCounts | undefined,
  out: { failures: string[]; notes: string[] },
): void {
  if (run === undefined) return;
  if (run.lost > 0) out.failures.push(`${label}: ${run.lost} of ${run.sent} messages lost`);
  if (run.duplicates > 0) out.failures.push(`${label}: ${run.duplicates} duplicated deliveries`);
  if (Object.keys(run.errors).length > 0) {
    out.notes.push(`${label}: server error codes ${JSON.stringify(run.errors)}`);
  }
}

/**
 * One clause on which side limits a row, from the median CPU shares of the server and the load.
 *
 * @param runs The repetitions of one row.
 * @param options Throughput or latency, the server's usable cores, and in closed loop the
 * clients' cap in msg/s and their window.
 * @returns The clause.
 */
export function limitClause(
  runs: readonly ProcRelayRun[],
  options: {
    kind: "throughput" | "latency";
    serverCores: number;
    cap?: number;
    window?: number;
  },
): string {
  const med = (f: (r: ProcRelayRun) => number) => summarize(runs.map(f)).median;
  const server = med((r) => r.cpu.server);
  const a = med((r) => r.cpu.a);
  const b = med((r) => r.cpu.b);
  const machine = med((r) => r.cpu.machine);
  const other = med((r) => r.cpu.other);
  const pct = (x: number) => `${formatNumber(x * 100)} %`;
  const loads = `load processes ${pct(a)} and ${pct(b)}`;
  const cores = navigator.hardwareConcurrency;
  // Other work on the machine (other test suites) shows as busy cores the bench does not account for.
  const full = machine >= 0.9 * cores
    ? `the ${cores} cores were ${pct(machine / cores)} busy, ${
      pct(machine - server - a - b)
    } of a core outside the server and load processes`
    : "";
  if (options.kind === "throughput") {
    if (options.cap !== undefined && med((r) => r.perSecond) >= 0.95 * options.cap) {
      return `the load clients' cap (${formatNumber(options.cap)}/s), not the server`;
    }
    if (server >= BUSY_SHARE * options.serverCores) return `the server (${pct(server)}; ${loads})`;
    if (Math.max(a, b) >= BUSY_SHARE) return `a load process (${loads}; server ${pct(server)})`;
    if (full !== "") return `the machine: ${full}`;
    return `no process at its limit (server ${pct(server)}, ${loads}): the ${
      options.window ?? "clients'"
    }-message windows`;
  }
  const busy = `other work ${pct(other)}`;
  if (Math.max(a, b) >= 0.5) {
    return `the load may add to it (${loads}; server ${pct(server)}; ${busy})`;
  }
  if (full !== "") return `not the load generator, but ${full}`;
  return `not the load generator (${loads}; server ${pct(server)}; ${busy})`;
}

/** Labels of the suite's rows. */
export interface SuiteLabels {
  /** Row name prefix, e.g. "2 load processes". */
  how: string;
  /** Clients in all. */
  clients: number;
  /** Fixed rate. */
  rate: number;
  /** Viewers streaming during the busy run. */
  viewers: number;
  /** The server's usable cores (1 for peerstream, the machine's for a multi-threaded server). */
  serverCores: number;
  /** The capped throughput's ceiling, msg/s. */
  cap: number;
  /** Unconfirmed messages per client in closed loop. */
  window: number;
}

function cpuRows(name: string, runs: readonly ProcRelayRun[]): Metric[] {
  return [
    { name: `${name}: server CPU`, unit: "% core", values: runs.map((r) => r.cpu.server * 100) },
    {
      name: `${name}: load process A / B CPU`,
      unit: "% core",
      values: runs.flatMap((r) => [r.cpu.a * 100, r.cpu.b * 100]),
    },
    {
      name: `${name}: whole machine busy`,
      unit: "% core",
      values: runs.map((r) => r.cpu.machine * 100),
    },
    {
      name: `${name}: other work on the machine`,
      unit: "% core",
      values: runs.map((r) => r.cpu.other * 100),
    },
  ];
}

/**
 * The table rows of the suite's repetitions: each figure followed by the CPU of the server and of
 * the load processes, with which side limits it.
 *
 * @param runs The repetitions.
 * @param labels Names and the server's cores.
 * @param goals Targets for the latency rows, when the engine has them.
 * @returns The rows.
 */
export function suiteMetrics(
  runs: readonly SuiteRun[],
  labels: SuiteLabels,
  goals: { p99Viewers?: Pick<Metric, "target" | "goal"> } = {},
): Metric[] {
  const rows: Metric[] = [];
  const { how, rate, serverCores } = labels;
  const tput = runs.map((r) => r.throughput);
  const t = `msgs/s, ${labels.clients} clients, ${how}`;
  rows.push({
    name: t,
    unit: "msg/s",
    values: tput.map((r) => r.perSecond),
    limit: limitClause(tput, {
      kind: "throughput",
      serverCores,
      cap: labels.cap,
      window: labels.window,
    }),
  }, ...cpuRows(t, tput));
  const uncapped = runs.flatMap((r) => (r.uncapped === undefined ? [] : [r.uncapped]));
  if (uncapped.length > 0) {
    const u = `msgs/s without the per-client cap, ${how}`;
    rows.push({
      name: u,
      unit: "msg/s",
      values: uncapped.map((r) => r.perSecond),
      limit: limitClause(uncapped, { kind: "throughput", serverCores, window: labels.window }),
    }, ...cpuRows(u, uncapped));
  }
  const latency = (
    name: string,
    list: readonly ProcRelayRun[],
    goal?: Pick<Metric, "target" | "goal">,
  ) => {
    if (list.length === 0) return;
    const limit = limitClause(list, { kind: "latency", serverCores });
    rows.push(
      {
        name: `latency p50 at ${rate}/s, ${name}`,
        unit: "ms",
        values: list.map((r) => r.latency.p50),
        limit,
      },
      {
        name: `latency p99 at ${rate}/s, ${name}`,
        unit: "ms",
        values: list.map((r) => r.latency.p99),
        limit,
        ...goal,
      },
      ...cpuRows(`at ${rate}/s, ${name}`, list),
    );
  };
  latency(`idle, ${how}`, runs.map((r) => r.idle));
  const busy = runs.flatMap((r) => (r.viewers === undefined ? [] : [r.viewers]));
  latency(`${labels.viewers} viewers, ${how}`, busy, goals.p99Viewers);
  if (busy.length > 0) {
    rows.push({
      name: `at ${rate}/s, ${labels.viewers} viewers: bench process CPU (viewers)`,
      unit: "% core",
      values: busy.map((r) => r.bench * 100),
    });
  }
  latency(
    `idle, split connections, ${how}`,
    runs.flatMap((r) => (r.split === undefined ? [] : [r.split])),
  );
  return rows;
}
