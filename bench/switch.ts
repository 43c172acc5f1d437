/**
 * Scenario 4, switching: a `quality` request → the first `segment` in the new rendition; and in
 * auto mode, the time to step down once the viewer reads slower than the current rendition's bit
 * rate, and to step back up once it reads freely again.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import type { SegmentMessage, StreamStartMessage } from "../protocol/messages.ts";
import { type BenchIdentity, benchIdentity, connectMany } from "./_client.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import { BENCH_TITLE, ensureBenchTitle, LONG_TITLE } from "./_server.ts";
import { sleep } from "./_stats.ts";
import { Viewer } from "./_viewer.ts";

/** Share of the top rendition's bit rate a throttled viewer reads at. */
export const THROTTLE_SHARE = 0.6;

function untilSegment(
  viewer: Viewer,
  test: (s: SegmentMessage) => boolean,
  timeoutMs: number,
): Promise<{ segment: SegmentMessage; at: number } | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      viewer.onSegment = () => {};
      resolve(null);
    }, timeoutMs);
    viewer.onSegment = (segment, at) => {
      if (!test(segment)) return;
      clearTimeout(timer);
      viewer.onSegment = () => {};
      resolve({ segment, at });
    };
  });
}

/**
 * Runs scenario 4.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function switchScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const who = await benchIdentity(await generateIdentity());
  const metrics: Metric[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const n = ctx.quick ? 3 : 10;
  const down: number[] = [];
  const up: number[] = [];
  const oldBuffered: number[] = [];
  const reps = ctx.quick ? 1 : ctx.reps;
  for (let rep = 0; rep < reps; rep++) {
    ctx.log(`switch: ${n} viewers 480p → 240p → 480p, rep ${rep + 1}/${reps}`);
    await withServer(ctx, async (server) => {
      const { clients } = await connectMany(server.port, {
        names: names(ctx, `w${rep}`, n),
        who,
      });
      const viewers = clients.map((c) => new Viewer(c));
      await Promise.all(viewers.map(async (v, i) => {
        v.play(BENCH_TITLE, 480);
        // Spread the requests over a segment so they land at different points of the pacing.
        await sleep((ctx.quick ? 1500 : 3000) + (i * 2000) / n);
        for (const [to, out] of [[240, down], [480, up]] as const) {
          const sentAt = performance.now();
          const seen = untilSegment(v, (s) => s.height === to, 10_000);
          v.client.send({ type: "quality", id: v.client.nextId++, quality: to });
          const got = await seen;
          out.push(got === null ? NaN : got.at - sentAt);
          if (got !== null && to === 240) {
            // Seconds of already-sent old-quality media the viewer still plays before the switch.
            oldBuffered.push(got.segment.start - (sentAt - v.firstByteAt) / 1000);
          }
        }
      }));
      for (const v of viewers) await v.stop().catch(() => {});
      if (viewers.some((v) => v.bytesAfterEnd > 0)) failures.push("media bytes after stream-end");
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.done));
    });
  }
  metrics.push(
    { name: "quality 480 → 240: request → first new segment", unit: "ms", values: down },
    { name: "quality 240 → 480: request → first new segment", unit: "ms", values: up },
    { name: "old-quality media still buffered at the switch", unit: "s", values: oldBuffered },
  );
  if (ctx.quick) {
    notes.push("Auto mode (throttled step-down and step-up) runs in full mode only");
  } else {
    const auto = await autoSwitch(ctx, who);
    metrics.push(...auto.metrics);
    notes.push(...auto.notes);
  }
  notes.push(
    "The server picks the rendition at each segment boundary and stays up to 6 s ahead, so a switch shows on screen after the buffered old-quality media (the row above) plays out",
  );
  return { id: "switch", title: "4. Rendition switch", metrics, failures, notes };
}

/**
 * The auto-mode part of scenario 4: one viewer settles at the top rendition, is throttled, then
 * freed.
 *
 * @param ctx The bench context.
 * @param who The identity to register with.
 * @param title The title and its folder; the long title by default.
 * @returns Its metrics and notes.
 */
export async function autoSwitch(
  ctx: BenchContext,
  who: BenchIdentity,
  title?: { dir: string; title: string },
): Promise<{ metrics: Metric[]; notes: string[] }> {
  const stepDown: number[] = [];
  const stepUp: number[] = [];
  const lags: number[] = [];
  const notes: string[] = [];
  const timeoutMs = 60_000;
  let videos = title;
  if (videos === undefined) {
    ctx.log(`switch: preparing the ${LONG_TITLE.seconds} s title for auto mode (once)`);
    videos = { dir: (await ensureBenchTitle(ctx.cache, LONG_TITLE)).dir, title: LONG_TITLE.title };
  }
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`switch: auto mode, throttled to ${THROTTLE_SHARE} × top bit rate, rep ${rep + 1}`);
    await withServer(ctx, async (server) => {
      const { clients } = await connectMany(server.port, {
        names: names(ctx, `a${rep}`, 1),
        who,
        readBytes: 16 * 1024,
      });
      const v = new Viewer(clients[0]);
      const started = v.waitFor((m) => m.type === "stream-start");
      v.play(videos.title, "auto");
      const info = await started as StreamStartMessage;
      const top = info.renditions[info.renditions.length - 1];
      // Settle at the top rendition first.
      const atTop = await untilSegment(v, (s) => s.height === top.height, 20_000);
      if (atTop === null) {
        notes.push(`auto rep ${rep + 1}: never reached ${top.height}p`);
        return;
      }
      await sleep(4000);
      const rate = (top.bitrate * THROTTLE_SHARE) / 8 / 1000; // bytes per ms
      let throttled = true;
      let nextReadAt = performance.now();
      v.client.beforeRead = async (last) => {
        if (!throttled) return;
        nextReadAt = Math.max(nextReadAt, performance.now() - 50) + last / rate;
        const wait = nextReadAt - performance.now();
        if (wait > 0) await sleep(wait);
      };
      const t0 = performance.now();
      const lower = await untilSegment(v, (s) => s.height < top.height, timeoutMs);
      stepDown.push(lower === null ? NaN : lower.at - t0);
      const t1 = performance.now();
      throttled = false;
      const back = await untilSegment(v, (s) => s.height === top.height, timeoutMs);
      stepUp.push(back === null ? NaN : back.at - t1);
      lags.push(v.result().maxLagSeconds);
      await v.stop().catch(() => {});
      v.client.close();
      await v.client.done;
    }, { videos });
  }
  return {
    metrics: [
      { name: "auto: throttle → first lower segment", unit: "ms", values: stepDown },
      { name: "auto: unthrottle → first top segment", unit: "ms", values: stepUp },
      { name: "auto: largest lag during the test", unit: "s", values: lags },
    ],
    notes: [
      ...notes,
      `Auto: one viewer reads at ${THROTTLE_SHARE} × the top rendition's bit rate (16 KiB reads), then freely; a missing value means no switch within ${
        timeoutMs / 1000
      } s`,
    ],
  };
}
