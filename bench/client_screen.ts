/**
 * Scenario 12's rows read off a screen (issue 18): real ffplay and mpv windows of a `join` under
 * Xvfb play a video whose frames carry their numbers (`tests/_screen.ts`), and grabs of the window
 * give PAUSE 5 s → RESUME (frames skipped after RESUME: the shown frame after the frozen one, and
 * for 2 s after), and how long the window was missing on QUALITY and SEEK. A fresh cache gives the
 * first start of `serve` → `testcard` playable.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import type { MediaSink } from "../client/session.ts";
import { connectClient, startCli, startServer } from "../tests/_helpers.ts";
import {
  framesLibrary,
  playerWindows,
  readFrame,
  recordFrames,
  type ScreenWindow,
  shownNumbers,
  startXvfb,
  watchWindow,
} from "../tests/_screen.ts";
import { type BenchContext, withServer } from "./_scenario.ts";
import { sleep } from "./_stats.ts";

/** What one player's session measured; NaN for a step that did not happen. */
export interface ScreenSamples {
  /** Frames skipped after RESUME (0: continues from the frozen frame). */
  pauseSkip: number;
  /** Longest time the window was missing on QUALITY, ms. */
  qualityGapMs: number;
  /** Longest time the window was missing on SEEK, ms. */
  seekGapMs: number;
}

async function _poll<T>(fn: () => Promise<T | null>, ms: number): Promise<T | null> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const value = await fn().catch(() => null);
    if (value !== null) return value;
    await sleep(25);
  }
  return null;
}

/** The player window once it shows numbered frames. */
function _window(display: string): Promise<ScreenWindow | null> {
  return _poll(async () => {
    const [w] = await playerWindows(display);
    return w !== undefined && (await readFrame(display, w)).n > 0 ? w : null;
  }, 30_000);
}

/** PAUSE 5 s, RESUME: the largest number of frames skipped from the frozen frame on. */
async function _pauseSkip(
  type: (line: string) => Promise<void>,
  display: string,
  w: ScreenWindow,
): Promise<number> {
  await type("PAUSE");
  const frozen = await _poll(async () => {
    const a = (await readFrame(display, w)).n;
    await sleep(300);
    return a >= 0 && (await readFrame(display, w)).n === a ? a : null;
  }, 10_000);
  if (frozen === null) return NaN;
  await sleep(5_000);
  const recording = recordFrames(display, w, 3);
  await sleep(800);
  await type("RESUME");
  const shown = shownNumbers(await recording);
  const from = shown.indexOf(frozen);
  if (from < 0 || from === shown.length - 1) return NaN;
  let skipped = 0;
  for (let i = from + 1; i < shown.length; i++) {
    skipped = Math.max(skipped, Math.abs(shown[i] - shown[i - 1]) - 1);
  }
  return skipped;
}

/**
 * One `join` with `player` under a fresh Xvfb: PAUSE/RESUME, then QUALITY and SEEK with the
 * window watched.
 *
 * @param ctx The bench context.
 * @param player `ffplay` or `mpv` (under a KILL timeout, for a test display).
 * @returns What it measured.
 */
export async function screenSession(
  ctx: BenchContext,
  player: "ffplay" | "mpv",
): Promise<ScreenSamples> {
  const samples: ScreenSamples = { pauseSkip: NaN, qualityGapMs: NaN, seekGapMs: NaN };
  const xvfb = await startXvfb();
  const spec = player === "mpv"
    ? "timeout -s KILL 300 mpv --vo=x11 --ao=null --framedrop=no"
    : "timeout -s KILL 300 ffplay";
  try {
    const videos = { dir: await framesLibrary(), title: "frames" };
    await withServer(ctx, async (server) => {
      const cli = await startCli(server.port, `sc${ctx.tag}${player}`, {
        args: ["--ephemeral", "--player", spec],
        env: { DISPLAY: xvfb.display, SDL_AUDIODRIVER: "dummy" },
        main: ctx.clientRoot === undefined ? undefined : `${ctx.clientRoot}/main.ts`,
      });
      try {
        await cli.type("PLAY frames 360p");
        const w = await _window(xvfb.display);
        if (w === null) return;
        samples.pauseSkip = await _pauseSkip((l) => cli.type(l), xvfb.display, w);
        for (const [command, key] of [["QUALITY 240p", "qualityGapMs"], ["SEEK 20", "seekGapMs"]]) {
          const watch = watchWindow(xvfb.display);
          await sleep(300);
          await cli.type(command);
          const back = await _window(xvfb.display);
          await sleep(500);
          const gap = (await watch.stop()).longestGapMs;
          samples[key as "qualityGapMs" | "seekGapMs"] = back === null ? NaN : gap;
        }
        await cli.type("QUIT");
      } finally {
        try {
          cli.child.kill("SIGKILL");
        } catch {
          // Exited.
        }
        await cli.finish().catch(() => {});
        await Deno.remove(cli.home, { recursive: true }).catch(() => {});
      }
    }, { videos, root: ctx.clientRoot });
  } finally {
    await xvfb.stop();
  }
  return samples;
}

/**
 * A first start: `serve` with an empty cache (the samples are generated and prepared), and a
 * client that asks to PLAY `testcard` every 200 ms from the moment it can connect.
 *
 * @param ctx The bench context (`clientRoot`: that checkout's server).
 * @returns Seconds from starting `serve` to `testcard` playing, or NaN.
 */
export async function firstStartSeconds(ctx: BenchContext): Promise<number> {
  const cache = await Deno.makeTempDir({ prefix: "peerstream-bench-first-" });
  const started = performance.now();
  const server = await startServer({
    cacheDir: cache,
    main: ctx.clientRoot === undefined ? undefined : `${ctx.clientRoot}/main.ts`,
  });
  try {
    const client = await connectClient(server.port, `fs${ctx.tag}`, {
      identity: await generateIdentity(),
    });
    const sink: MediaSink = { write() {}, close() {} };
    const played = await _poll(async () => {
      try {
        await client.session.play("testcard", { quality: "auto", sink: () => sink });
        return performance.now();
      } catch {
        await sleep(175);
        return null;
      }
    }, 180_000);
    await client.session.quit().catch(() => {});
    return played === null ? NaN : (played - started) / 1000;
  } finally {
    await server.stop();
    await Deno.remove(cache, { recursive: true }).catch(() => {});
  }
}
