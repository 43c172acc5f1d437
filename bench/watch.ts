/**
 * Scenario `watch` (issue 21's figures): rooms of 3, 10 and 50 load members (quick: 3 and 10)
 * watching one title together against a real server, each member a model of a rate-capable player
 * (bench/_watch_member.ts) following the rules of protocol/watch_sync.ts: the drift between
 * members' pictures, PAUSE and SEEK by one member to every picture paused or at the target, a
 * late joiner's time to a picture within 150 ms of the room, and the server's CPU per member
 * against the same number of members watching alone in the same run.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { type BenchIdentity, benchIdentity, connectMany } from "./_client.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE } from "./_server.ts";
import { percentile, sleep } from "./_stats.ts";
import { WatchMember } from "./_watch_member.ts";
import { makeRoom, roomId, wire } from "./rooms.ts";
import {
  FULL,
  JOIN_AT_SECONDS,
  type JoinerKind,
  type Plan,
  QUICK,
  type RoomRun,
} from "./_watch_plan.ts";
import {
  aloneRun,
  control,
  controlRound,
  cpuOver,
  delays,
  lateJoin,
  quiet,
  sampleDrift,
} from "./_watch_steps.ts";

/** One room of N members (+ late joiners): the figures, after N members alone. */
async function roomRun(
  ctx: BenchContext,
  server: { port: number; pid: number },
  who: BenchIdentity,
  options: { n: number; plan: Plan; aloneFirst: boolean },
): Promise<RoomRun> {
  const { n, plan } = options;
  // Alone first in repetitions 1, 3…, after the room in 2, 4…: neither always meets a fresher server.
  const cpuAlone = options.aloneFirst ? await aloneRun(ctx, server, who, n, plan) : NaN;
  const all = names(ctx, `w${n}-`, n + plan.joiners.length);
  const { clients } = await connectMany(server.port, { names: all, who });
  const room = roomId();
  await makeRoom(clients.map((client, i) => wire(all[i], client)), who, room);
  // The late joiners are members already; they come online one by one later.
  for (const client of clients.slice(n)) client.close();
  await Promise.all(clients.slice(n).map((client) => client.done));
  const members = clients.slice(0, n).map((client) => new WatchMember(client, { room }));
  const run: RoomRun = {
    n,
    spreads: [],
    vsRoom: [],
    pauseMs: [],
    seekMs: [],
    seekMissMs: [],
    joinMs: { rate: [], "seek-only": [] },
    cpuRoom: NaN,
    cpuAlone,
    cpuRoomWhole: NaN,
    correctionSeeks: 0,
    refusals: [],
  };
  try {
    await Promise.all(members.map((m) => m.start()));
    await quiet(server.pid, ctx);
    // The whole run is long enough for /proc/PID/stat's ticks, which keep ended threads' time.
    const whole = await readProc(server.pid);
    const t0 = performance.now();
    const played = await control(members[0], "play", { title: BENCH_TITLE });
    await delays(members, "landed", played, t0, plan.deadlineMs);
    // Drift from every first picture on (a start's spread counts), to the CPU window's end.
    const sampled = sampleDrift(members, plan, { until: t0 + plan.warmMs + plan.windowMs, run });
    await sleep(plan.warmMs - (performance.now() - t0));
    run.cpuRoom = await cpuOver(server.pid, n, plan.windowMs);
    await sampled;
    for (let round = 0; round < plan.seeks.length; round++) {
      await controlRound(members, plan, round, run);
    }
    for (const [i, kind] of plan.joiners.entries()) {
      const back = performance.now();
      const seek = await control(members[0], "seek", { position: JOIN_AT_SECONDS });
      await delays(members, "landed", seek, back, plan.deadlineMs);
      const joined = await lateJoin(
        server.port,
        who,
        { name: all[n + i], room, kind },
        plan.deadlineMs,
      );
      run.joinMs[kind].push(joined.ms);
      run.refusals.push(...joined.refusals);
    }
    await control(members[0], "stop");
    const end = await readProc(server.pid);
    run.cpuRoomWhole = (end.cpuSeconds - whole.cpuSeconds) / n / ((end.at - whole.at) / 60_000);
    for (const m of members) m.close();
    if (!options.aloneFirst) run.cpuAlone = await aloneRun(ctx, server, who, n, plan);
  } finally {
    for (const m of members) {
      run.correctionSeeks += m.events.filter((e) => e.correction).length;
      run.refusals.push(...m.refusals);
      m.close();
    }
  }
  return run;
}

/** The late joiners' rows, by player. */
const JOINERS: Record<JoinerKind, string> = {
  rate: "rate-capable player (mpv, the page)",
  "seek-only": "seek-only player (ffplay's rules)",
};

/** p-th percentile of samples (NaN when none), as one row value. */
function pct(values: readonly number[], p: number): number {
  return percentile(values.filter(Number.isFinite).sort((a, b) => a - b), p);
}

/** The table rows of one room size over the repetitions. */
function roomMetrics(n: number, runs: readonly RoomRun[]): Metric[] {
  const per = (f: (r: RoomRun) => number) => runs.map(f);
  const atMost = (bound: number) => ({ stat: "max" as const, atMost: bound });
  // A control that never reached a member within the deadline is a miss, not a smaller p95.
  const p95OrNever = (values: readonly number[]) =>
    values.some(Number.isNaN) ? NaN : pct(values, 95);
  return [
    {
      name: `N=${n}: drift between members p50`,
      unit: "ms",
      values: per((r) => pct(r.spreads, 50)),
      limit: "largest − smallest picture, every 250 ms from the first pictures of a start on",
    },
    {
      name: `N=${n}: drift between members p95`,
      unit: "ms",
      values: per((r) => pct(r.spreads, 95)),
      target: "≤ 150 ms (rate-capable players)",
      goal: atMost(150),
    },
    {
      name: `N=${n}: drift between members max`,
      unit: "ms",
      values: per((r) => pct(r.spreads, 100)),
    },
    {
      name: `N=${n}: picture vs the room's timeline p95`,
      unit: "ms",
      values: per((r) => pct(r.vsRoom, 95)),
      limit: "each member against the server's clock",
    },
    {
      name: `N=${n}: PAUSE by one → every picture paused p95`,
      unit: "ms",
      values: per((r) => p95OrNever(r.pauseMs)),
      target: "≤ 500 ms",
      goal: atMost(500),
    },
    {
      name: `N=${n}: SEEK by one → every picture at the target p95`,
      unit: "ms",
      values: per((r) => p95OrNever(r.seekMs)),
      target: "≤ 500 ms",
      goal: atMost(500),
    },
    {
      name: `N=${n}: SEEK landing vs the room p95`,
      unit: "ms",
      values: per((r) => pct(r.seekMissMs, 95)),
      limit: "the start-up the member measured on its last start",
    },
    ...(Object.keys(JOINERS) as JoinerKind[]).map((kind) => ({
      name: `N=${n}: late join → picture with the room (±150 ms), ${JOINERS[kind]}`,
      unit: "ms",
      values: runs.flatMap((r) => r.joinMs[kind]),
      target: "≤ 2000 ms",
      goal: atMost(2000),
    })),
    {
      name: `N=${n}: server CPU per member-minute, in the room`,
      unit: "s",
      values: per((r) => r.cpuRoom),
      limit: "steady window, same length as alone",
    },
    {
      name: `N=${n}: server CPU per member-minute, in the room, play → stop`,
      unit: "s",
      values: per((r) => r.cpuRoomWhole),
      limit: "its controls and late joins included",
    },
    {
      name: `N=${n}: server CPU per member-minute, alone (plain play)`,
      unit: "s",
      values: per((r) => r.cpuAlone),
      limit:
        "the same N on the same server: before the room in repetitions 1, 3…, after it in 2, 4…",
    },
  ];
}

/**
 * Runs the watch scenario.
 *
 * @param ctx The bench context.
 * @returns Drift, PAUSE/SEEK propagation, late-join alignment and CPU per member by room size.
 */
export async function watchScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [3, 10] : [3, 10, 50];
  const plan = ctx.quick ? QUICK : FULL;
  const who = await benchIdentity(await generateIdentity());
  const runs = new Map<number, RoomRun[]>(sizes.map((n) => [n, []]));
  const failures: string[] = [];
  await withServer(ctx, async (server) => {
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const n of sizes) {
        ctx.log(`watch: a room of ${n} (and ${n} alone), repetition ${rep + 1} of ${ctx.reps}`);
        try {
          runs.get(n)!.push(
            await roomRun({ ...ctx, tag: `${ctx.tag}${rep}` }, server, who, {
              n,
              plan,
              aloneFirst: rep % 2 === 0,
            }),
          );
        } catch (error) {
          // One room's failure is reported; the other sizes still run.
          failures.push(`N=${n}: ${(error as Error)?.message ?? String(error)}`);
          ctx.log(`watch: N=${n} failed: ${(error as Error)?.stack ?? String(error)}`);
        }
      }
    }
  });
  const all = [...runs.values()].flat();
  const refusals = all.flatMap((r) => r.refusals);
  const seeks = all.reduce((sum, r) => sum + r.correctionSeeks, 0);
  return {
    id: "watch",
    title:
      "Watching together: load members modelling a rate-capable player (mpv, the page) in one room, against a real server",
    metrics: sizes.flatMap((n) => roomMetrics(n, runs.get(n)!)),
    failures,
    notes: [
      "Each member is a model of a player (bench/_sim_player.ts): media time at its rate from its first segment, a stall past its media, a seek landing on the exact position asked; no decoder. Its figures are what the protocol and the server allow, not a real player's own delays.",
      `Drift corrections by seek over the whole run: ${seeks}; requests refused: ${refusals.length}${
        refusals.length > 0 ? ` (first: ${refusals[0]})` : ""
      }.`,
    ],
    detail: Object.fromEntries(
      [...runs].map(([n, r]) => [
        `N=${n}`,
        r.map((run) => ({
          joinMs: run.joinMs,
          pauseMs: run.pauseMs,
          seekMs: run.seekMs,
          correctionSeeks: run.correctionSeeks,
        })),
      ]),
    ),
  };
}
