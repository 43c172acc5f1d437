/**
 * The watch scenario's steps over one room: the server's CPU per member-minute, members watching
 * alone, waiting for a room epoch's events, controls and their rounds, the pictures' drift, and
 * late joiners aligning with the room.
 * @module
 */

import type { ServerMessage } from "../protocol/messages.ts";
import { type BenchIdentity, connectMany, LoadClient } from "./_client.ts";
import { cpuBetween, readThreadsCpu, type ThreadsCpu, waitForQuiet } from "./_proc.ts";
import { type BenchContext, names } from "./_scenario.ts";
import { BENCH_TITLE, settle } from "./_server.ts";
import { sleep } from "./_stats.ts";
import { WatchMember } from "./_watch_member.ts";
import { ALIGNED_SECONDS, type JoinerKind, type Plan, type RoomRun } from "./_watch_plan.ts";

/** The server's CPU-s per member-minute over the next `ms`. */
export async function cpuOver(pid: number, n: number, ms: number): Promise<number> {
  const a = await readThreadsCpu(pid);
  await sleep(ms);
  return perMemberMinute(a, await readThreadsCpu(pid), n);
}

/** CPU-s per member-minute between two readings. */
function perMemberMinute(a: ThreadsCpu, b: ThreadsCpu, n: number): number {
  const { cpuSeconds, seconds } = cpuBetween(a, b);
  return cpuSeconds / n / (seconds / 60);
}

/**
 * Waits until the server is idle (join announcements sent, the last run's leaves handled), and in
 * full mode for a quiet moment on the shared machine if one comes within `quietMs`.
 */
export async function quiet(pid: number, ctx: BenchContext): Promise<void> {
  let last = await readThreadsCpu(pid);
  let total = 0;
  await settle(async () => {
    const now = await readThreadsCpu(pid);
    total += cpuBetween(last, now).cpuSeconds;
    last = now;
    return total;
  }, {
    maxMs: ctx.quick ? 3000 : 10_000,
  });
  if (ctx.quietMs > 0) await waitForQuiet([pid, Deno.pid], { maxMs: ctx.quietMs });
}

/** N members watching alone (plain `play`, no room) over the same window as the room's. */
export async function aloneRun(
  ctx: BenchContext,
  server: { port: number; pid: number },
  who: BenchIdentity,
  n: number,
  plan: Plan,
): Promise<number> {
  const { clients } = await connectMany(server.port, { names: names(ctx, `wa${n}-`, n), who });
  const members = clients.map((client) => new WatchMember(client));
  try {
    await quiet(server.pid, ctx);
    for (const member of members) member.playAlone(BENCH_TITLE);
    await sleep(plan.warmMs);
    return await cpuOver(server.pid, n, plan.windowMs);
  } finally {
    for (const member of members) member.close();
  }
}

/** Waits for every member's event of a room epoch, and returns each one's delay from `t0`. */
export async function delays(
  members: readonly WatchMember[],
  kind: "paused" | "landed",
  epoch: number,
  t0: number,
  deadlineMs: number,
): Promise<number[]> {
  const find = (m: WatchMember) =>
    m.events.find((e) => e.kind === kind && e.epoch === epoch && !e.correction);
  await Promise.all(members.map((m) => m.until(() => find(m) !== undefined, deadlineMs)));
  return members.map((m) => (find(m)?.at ?? NaN) - t0);
}

/** Asks a control and returns its epoch; a refusal throws. */
export async function control(
  member: WatchMember,
  action: "play" | "pause" | "resume" | "seek" | "stop",
  fields: { title?: string; position?: number } = {},
): Promise<number> {
  const answer: ServerMessage = await member.control(action, fields);
  if (answer.type !== "room-playback") {
    throw new Error(
      `Cannot ${action} the room: ${
        answer.type === "error" ? `${answer.code}: ${answer.message}` : answer.type
      }; see the server log`,
    );
  }
  return answer.epoch;
}

/** Samples the spread of the members' pictures and each one against the room. */
export async function sampleDrift(
  members: readonly WatchMember[],
  plan: Plan,
  { until, run }: { until: number; run: RoomRun },
): Promise<void> {
  while (performance.now() < until) {
    const now = performance.now();
    const shown = members.filter((m) => m.player.started && !m.player.paused);
    const positions = shown.map((m) => m.player.position(now));
    if (positions.length > 1) {
      run.spreads.push((Math.max(...positions) - Math.min(...positions)) * 1000);
    }
    for (const m of shown) {
      run.vsRoom.push(Math.abs(m.player.position(now) - m.roomPosition(now)) * 1000);
    }
    await sleep(plan.sampleMs);
  }
}

/** One PAUSE, RESUME and SEEK round, each by another member. */
export async function controlRound(
  members: readonly WatchMember[],
  plan: Plan,
  round: number,
  run: RoomRun,
): Promise<void> {
  const n = members.length;
  let t0 = performance.now();
  const paused = await control(members[(round + 1) % n], "pause");
  run.pauseMs.push(...await delays(members, "paused", paused, t0, plan.deadlineMs));
  await sleep(500);
  await control(members[(round + 2) % n], "resume");
  await sleep(1000);
  t0 = performance.now();
  const seek = await control(members[round % n], "seek", { position: plan.seeks[round] });
  run.seekMs.push(...await delays(members, "landed", seek, t0, plan.deadlineMs));
  for (const m of members) {
    const landed = m.events.find((e) => e.kind === "landed" && e.epoch === seek);
    if (landed === undefined) continue;
    run.seekMissMs.push(
      Math.abs(m.player.position(landed.at) - m.roomPosition(landed.at)) * 1000,
    );
  }
  await sleep(1500);
}

/** A member joining the playing room: connect → its picture within 150 ms of the room. */
export async function lateJoin(
  port: number,
  who: BenchIdentity,
  joiner: { name: string; room: string; kind: JoinerKind },
  deadlineMs: number,
): Promise<{ ms: number; refusals: string[] }> {
  const t0 = performance.now();
  const member = new WatchMember(await LoadClient.connect(port), {
    room: joiner.room,
    canRate: joiner.kind !== "seek-only",
  });
  return await aligned(member, joiner.name, who, { t0, deadlineMs });
}

/** Registers a late joiner and waits for its picture to move with the room. */
async function aligned(
  joiner: WatchMember,
  name: string,
  who: BenchIdentity,
  { t0, deadlineMs }: { t0: number; deadlineMs: number },
): Promise<{ ms: number; refusals: string[] }> {
  try {
    await within(joiner.client.register(name, who), deadlineMs, "a late joiner's welcome");
    await joiner.start();
    const deadline = t0 + deadlineMs;
    while (performance.now() < deadline) {
      const now = performance.now();
      if (
        joiner.player.started && !joiner.player.paused &&
        Math.abs(joiner.player.position(now) - joiner.roomPosition(now)) <= ALIGNED_SECONDS
      ) return { ms: now - t0, refusals: joiner.refusals };
      await sleep(20);
    }
    return { ms: NaN, refusals: joiner.refusals };
  } finally {
    joiner.close();
  }
}

/** A promise, or a rejection after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Cannot measure: no ${what} within ${ms} ms; see the server log`)),
      ms,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
