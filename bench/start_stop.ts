/**
 * Scenarios 2 and 3: PLAY → first media byte and → first decoded frame, with 1 and with many
 * simultaneous starts; STOP → last media byte, and media bytes after the STOP acknowledgement.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { type BenchIdentity, benchIdentity, connectMany } from "./_client.ts";
import { Decoder } from "./_decoder.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE } from "./_server.ts";
import { sleep } from "./_stats.ts";
import { Viewer } from "./_viewer.ts";

async function connectViewers(port: number, who: BenchIdentity, list: string[]): Promise<Viewer[]> {
  const { clients } = await connectMany(port, { names: list, who, batch: 200 });
  return clients.map((c) => new Viewer(c));
}

async function closeViewers(viewers: Viewer[]): Promise<void> {
  for (const v of viewers) v.client.send({ type: "quit" });
  await sleep(20);
  for (const v of viewers) v.client.close();
  await Promise.all(viewers.map((v) => v.client.done));
}

/**
 * Runs scenario 2: `n` viewers PLAY at once; the first `decoders` of them feed a real decoder.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function startScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const who = await benchIdentity(await generateIdentity());
  const plans = ctx.quick
    ? [{ n: 1, decoders: 1 }, { n: 20, decoders: 3 }]
    : [{ n: 1, decoders: 1 }, { n: 100, decoders: 5 }];
  const metrics: Metric[] = [];
  const failures: string[] = [];
  const reps = ctx.quick ? 2 : Math.max(ctx.reps, 5);
  for (const { n, decoders } of plans) {
    const firstByte: number[] = [];
    const started: number[] = [];
    const firstFrame: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      ctx.log(`start: ${n} simultaneous PLAY, rep ${rep + 1}/${reps}`);
      await withServer(ctx, async (server) => {
        const viewers = await connectViewers(server.port, who, names(ctx, `s${rep}n${n}`, n));
        const decs = viewers.slice(0, decoders).map((v) => {
          const d = new Decoder();
          v.onMedia = (data) => d.write(data);
          return d;
        });
        // Let the decoders start and the server go idle before the PLAYs.
        await sleep(500);
        for (const v of viewers) v.play(BENCH_TITLE, 480);
        const deadline = sleep(10_000);
        await Promise.race([Promise.all(decs.map((d) => d.firstFrame)), deadline]);
        await Promise.race([
          (async () => {
            while (viewers.some((v) => Number.isNaN(v.firstByteAt))) await sleep(20);
          })(),
          deadline,
        ]);
        for (const v of viewers) {
          firstByte.push(v.firstByteAt - v.playSentAt);
          started.push(v.startAt - v.playSentAt);
        }
        decs.forEach((d, i) => firstFrame.push(d.firstFrameAt - viewers[i].playSentAt));
        await Promise.all(decs.map((d) => d.close()));
        for (const v of viewers) await v.stop().catch(() => {});
        for (const v of viewers) {
          if (v.bytesAfterEnd > 0) failures.push(`${v.bytesAfterEnd} media bytes after stream-end`);
        }
        await closeViewers(viewers);
      });
    }
    metrics.push(
      { name: `${n} at once: PLAY → stream-start`, unit: "ms", values: started },
      { name: `${n} at once: PLAY → first media byte`, unit: "ms", values: firstByte },
      {
        name: `${n} at once: PLAY → first decoded frame (${decoders} decoded)`,
        unit: "ms",
        values: firstFrame,
        ...(n > 1
          ? {
            target: "≤ 300 median (100 at once)",
            goal: {
              stat: "median" as const,
              atMost: 300,
              ...(n < 100 ? { notTested: `quick mode starts ${n} at once, not 100` } : {}),
            },
          }
          : {}),
      },
    );
  }
  return {
    id: "start",
    title: "2. Start latency",
    metrics,
    failures,
    notes: [
      "Values are per viewer, pooled over repetitions. The decoder (ffmpeg -probesize 32 -analyzeduration 0 -f mpegts, framemd5 per frame) is spawned before PLAY and fed by the first few viewers only; the other viewers only count bytes",
    ],
  };
}

/**
 * Runs scenario 3: viewers STOP while the server is still sending their start-up burst, and again
 * during steady playback.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function stopScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const who = await benchIdentity(await generateIdentity());
  const n = ctx.quick ? 5 : 50;
  const reps = ctx.quick ? 1 : ctx.reps;
  const steadyMs = ctx.quick ? 3000 : 8000;
  const metrics: Metric[] = [];
  const failures: string[] = [];
  for (const phase of ["burst", "steady"] as const) {
    const lastByte: number[] = [];
    const ack: number[] = [];
    const after: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      ctx.log(`stop: ${n} viewers, during the ${phase}, rep ${rep + 1}/${reps}`);
      await withServer(ctx, async (server) => {
        const viewers = await connectViewers(server.port, who, names(ctx, `t${phase}${rep}`, n));
        const stops = viewers.map(async (v) => {
          // Burst: STOP as soon as the second segment starts arriving, while the server is still
          // sending its start-up lead. Steady: STOP right after a paced segment begins (t > 8 s).
          const segment = v.waitFor((m) =>
            m.type === "media" &&
            (phase === "burst" ? m.index >= 1 : performance.now() - v.playSentAt > steadyMs)
          );
          v.play(BENCH_TITLE, 480);
          await segment;
          const { sentAt, ackAt } = await v.stop();
          // Anything still in flight arrives within this wait; bytes after the ack are counted.
          await sleep(300);
          lastByte.push(Math.max(0, v.lastMediaAt - sentAt));
          ack.push(ackAt - sentAt);
          after.push(v.bytesAfterEnd);
        });
        await Promise.race([Promise.all(stops), sleep(30_000)]);
        await closeViewers(viewers);
      });
    }
    const total = after.reduce((a, b) => a + b, 0);
    if (total > 0) failures.push(`${phase}: ${total} media bytes arrived after the STOP ack`);
    metrics.push(
      {
        name: `${phase}: STOP → last media byte`,
        unit: "ms",
        values: lastByte,
        target: "≤ 20 median",
        goal: {
          stat: "median",
          atMost: 20,
          why: "the time includes bytes already in the viewer's socket buffer",
        },
      },
      { name: `${phase}: STOP → stream-end ack`, unit: "ms", values: ack },
      {
        name: `${phase}: media bytes after the ack`,
        unit: "bytes",
        values: after,
        target: "0",
        goal: { stat: "max", atMost: 0, why: "the server wrote media after its stream-end" },
      },
    );
  }
  return {
    id: "stop",
    title: "3. Stop",
    metrics,
    failures,
    notes: [
      `Per viewer, ${n} viewers at once; "burst" stops while the 6 s start-up lead is being sent, "steady" during paced playback. The last-byte time includes bytes already in the kernel's socket buffers`,
    ],
  };
}
