/**
 * Scenario 10, NATS side by side: the message load of scenario 5 (same clients, same 1,420-byte
 * sealed bodies, each client publishing to the subject the next one subscribes to, a reply
 * standing in for the receipt) against Debian's `nats-server`, in the same two load processes;
 * idle and while 500 viewers stream from a peerstream server running alongside. peerstream ÷ NATS
 * for each figure, from scenario 5 of the same run.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { benchIdentity } from "./_client.ts";
import { engineOrSkip, NATS_SERVER } from "./_install.ts";
import { startNats } from "./_nats.ts";
import { readProc } from "./_proc.ts";
import {
  runFailures,
  runRelaySuite,
  type SuiteLabels,
  suiteMetrics,
  type SuiteOptions,
  type SuiteRun,
} from "./_relay_suite.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { summarize } from "./_stats.ts";
import { CLIENT_SEND_CAP, messageNotes, sealedBody, streamViewers } from "./messages.ts";

/** The npm client used for NATS (the NATS project's own, for Node.js runtimes). */
export const NATS_CLIENT = "npm:@nats-io/transport-node@3.4.0";

function median(scenario: ScenarioResult | undefined, name: string): number {
  return summarize(scenario?.metrics.find((m) => m.name === name)?.values ?? []).median;
}

/**
 * peerstream ÷ NATS for every figure both scenarios measured with the load in two processes.
 *
 * @param ours Scenario 5's results.
 * @param theirs This scenario's rows.
 * @param labels The rows' labels.
 * @returns The ratio rows.
 */
export function natsRatioRows(
  ours: ScenarioResult,
  theirs: readonly Metric[],
  labels: SuiteLabels,
): Metric[] {
  const rows: Metric[] = [];
  const figures = theirs.filter((m) => (m.unit === "msg/s" || m.unit === "ms"));
  for (const m of figures) {
    const mine = m.name.startsWith("msgs/s without the per-client cap")
      ? `msgs/s, ${labels.clients} clients, ${labels.how}`
      : m.name;
    const ratio = median(ours, mine) /
      summarize(m.values).median;
    if (!Number.isFinite(ratio)) continue;
    rows.push({
      name: mine === m.name
        ? `peerstream / NATS ${m.name}`
        : `peerstream (capped) / NATS without the cap, msgs/s`,
      unit: "ratio",
      values: [ratio],
    });
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
    // The viewers stream from a peerstream server running alongside, as in scenario 5.
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
    );
  } finally {
    await nats.stop();
  }
}

/**
 * Runs scenario 10.
 *
 * @param ctx The bench context.
 * @param messages Scenario 5's results, for the ratios (when it ran).
 * @returns Its results.
 */
export async function natsScenario(
  ctx: BenchContext,
  messages?: ScenarioResult,
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: "nats",
    title: "10. Side by side: NATS",
    metrics: [],
    failures: [],
    notes: [],
  };
  const found = await engineOrSkip(NATS_SERVER, { ...ctx, scenario: "nats" });
  if ("skip" in found) {
    result.notes.push(found.skip);
    return result;
  }
  const who = await benchIdentity(await generateIdentity());
  const body = await sealedBody(who);
  const clients = ctx.quick ? 20 : 100;
  const seconds = ctx.quick ? 2 : 10;
  const viewerCount = ctx.quick ? 50 : 500;
  const rate = 5000;
  const suites: SuiteRun[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    const suite = await natsRep(ctx, {
      engine: "nats",
      binary: found.path,
      clients,
      seconds,
      rate,
      cap: CLIENT_SEND_CAP,
      uncapped: true,
      body,
      split: !ctx.quick,
      log: ctx.log,
      quietMs: ctx.quietMs,
      viewerCount,
      failures: result.failures,
      rep,
    });
    for (const [label, run] of Object.entries(suite)) {
      result.failures.push(...runFailures(label, run));
    }
    suites.push(suite);
  }
  const labels: SuiteLabels = {
    how: "2 load processes",
    clients,
    rate,
    viewers: viewerCount,
    serverCores: navigator.hardwareConcurrency,
    cap: clients * CLIENT_SEND_CAP,
  };
  result.metrics.push(...suiteMetrics(suites, labels));
  if (messages !== undefined) {
    result.metrics.push(...natsRatioRows(messages, result.metrics, labels));
  } else {
    result.notes.push(
      "No peerstream ÷ NATS rows: run the messages scenario too (--only messages,nats)",
    );
  }
  result.notes.push(
    `${found.version} (Go, all ${navigator.hardwareConcurrency} cores usable: its server CPU can pass 100 %), core publish/subscribe without JetStream, on loopback; client ${NATS_CLIENT}, one connection per client. Client i publishes to msg.<next> with the reply subject ack.<own>, the recipient answers with an empty reply (the receipt). The same clients, windows, caps, processes and clock as scenario 5's "2 load processes" rows; "without the per-client cap" lifts the ${CLIENT_SEND_CAP}/s that peerstream's per-connection limit needs. With viewers, the server CPU is NATS's only (the viewers' peerstream server is not counted)`,
    ...messageNotes({ clients, viewers: viewerCount, rate, body }, ctx.quick).slice(2),
  );
  result.detail = { suites };
  return result;
}
