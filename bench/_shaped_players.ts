/**
 * The shaped-link scenario's players, each readied on its own link: the terminal client with a
 * real-time player, the page in Chromium, hls.js on nginx; one play of a schedule, with every
 * presented frame on the host clock.
 * @module
 */

import type { Page } from "puppeteer-core";
import hlsPackage from "hls.js/package.json" with { type: "json" };
import { launchBrowser, type TestBrowser } from "../tests/_browser.ts";
import { FrameLog, loggingPlayer } from "../tests/_frame_log.ts";
import { type CliClient, type ServerProcess, startCli } from "../tests/_helpers.ts";
import { runSchedule, type ShapedLink } from "../tests/_netns.ts";
import { joinAs, openPage } from "../tests/_page.ts";
import { type ShownFrame } from "../tests/_playback_stats.ts";
import { type NginxServer } from "./_nginx.ts";
import { sleep } from "./_stats.ts";
import { autoChoices } from "./_shaped_figures.ts";
import { type PlayerKind, type Schedule, SHAPED_TITLE } from "./_shaped_plan.ts";

/**
 * Records every frame the page's `#video` presents (`requestVideoFrameCallback`): the same light
 * probe for the peerstream page and the hls.js page, so that both pay the same.
 */
const PROBE = `(() => {
  const video = document.getElementById("video");
  window.__frames = [];
  const onFrame = (now, meta) => {
    window.__frames.push({ at: performance.now(), height: meta.height });
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
})()`;

/** The hls.js page nginx serves: hls.js with its defaults, muted autoplay. */
export const HLS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>hls.js</title></head>
<body><video id="video" muted playsinline width="640" height="360"></video>
<script src="/hls.min.js"></script>
<script>
window.__start = () => {
  const video = document.getElementById("video");
  const hls = new Hls();
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.loadSource("/index.m3u8");
  hls.attachMedia(video);
};
</script></body></html>
`;

/** A player ready to start: `play` starts it, `frames` reads what it showed (host clock). */
export interface ReadyPlayer {
  kind: PlayerKind;
  play(): Promise<void>;
  frames(): Promise<ShownFrame[]>;
  /**
   * The renditions auto chose, from the server's log: from when (wall clock, ms since the epoch)
   * each height was chosen; none for hls.js, which decides in the page.
   */
  choices?(): ShownFrame[];
  /** What the player says of itself at the end (a stall's cause, when there is one). */
  state(): Promise<string>;
  close(): Promise<void>;
}

/** The page's video element at the end: position, ready state, buffered ranges, error. */
const VIDEO_STATE = `(() => {
  const v = document.getElementById("video");
  const ranges = [];
  for (let i = 0; i < v.buffered.length; i++) {
    ranges.push(v.buffered.start(i).toFixed(1) + "-" + v.buffered.end(i).toFixed(1));
  }
  return "currentTime " + v.currentTime.toFixed(1) + ", readyState " + v.readyState +
    ", paused " + v.paused + ", ended " + v.ended + ", buffered [" + ranges.join(" ") + "]" +
    (v.error ? ", error " + v.error.code + " " + v.error.message : "") +
    (v.src ? "" : ", no source");
})()`;

/** A page's video state and the errors it logged. */
async function pageState(page: Page, errors: readonly string[]): Promise<string> {
  const video = await page.evaluate(VIDEO_STATE).catch((e) => `unreadable: ${e}`) as string;
  const logged = errors.length === 0 ? "" : `; errors: ${errors.slice(0, 3).join(" | ")}`;
  return video + logged;
}

/** Reads hls.js's file from Deno's npm cache (the package is imported above, so it is there). */
export async function hlsSource(): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache: string };
  const file = `${npmCache}/registry.npmjs.org/hls.js/${hlsPackage.version}/dist/hls.min.js`;
  return await Deno.readTextFile(file).catch((error) => {
    throw new Error(`Cannot read hls.js at ${file}: ${error}; run "deno cache bench/shaped.ts"`);
  });
}

/** Frames recorded in a page, moved to the host clock. */
async function pageFrames(page: Page, offset: number): Promise<ShownFrame[]> {
  const frames = await page.evaluate("window.__frames") as ShownFrame[];
  return frames.filter((f) => f.height > 0).map((f) => ({ at: f.at + offset, height: f.height }));
}

/** The host clock minus the page's, read once around a call. */
async function clockOffset(page: Page): Promise<number> {
  const before = performance.now();
  const pageNow = await page.evaluate("performance.now()") as number;
  return (before + performance.now()) / 2 - pageNow;
}

export async function readyTerminal(link: ShapedLink, server: ServerProcess): Promise<ReadyPlayer> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-bench-shaped-" });
  const log = new FrameLog(dir);
  let cli: CliClient | undefined;
  try {
    cli = await startCli(server.port, `shaped${crypto.randomUUID().slice(0, 6)}`, {
      host: link.hostAddress,
      wrap: link.exec,
      args: ["--ephemeral", "--player", loggingPlayer(dir)],
    });
  } catch (error) {
    await log.stop();
    throw error;
  }
  const client = cli;
  return {
    kind: "terminal",
    play: () => client.type(`PLAY ${SHAPED_TITLE.title}`),
    frames: () => Promise.resolve(log.frames.map((f) => ({ at: f.at, height: f.height }))),
    choices: () => autoChoices(server.out.lines),
    state: () => Promise.resolve(`client said last: ${client.out.lines.slice(-3).join(" | ")}`),
    async close() {
      await client.type("QUIT").catch(() => {});
      await client.finish(10_000).catch(() => {});
      await log.stop();
      await Deno.remove(client.home, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function inBrowser(link: ShapedLink, origin: string): Promise<TestBrowser> {
  return await launchBrowser("chromium", {
    netns: link.ns,
    // The page is served from the link's host address, not a secure context by itself.
    chromiumArgs: [`--unsafely-treat-insecure-origin-as-secure=${origin}`],
  });
}

export async function readyPage(
  link: ShapedLink,
  server: ServerProcess & { url: string },
): Promise<ReadyPlayer> {
  const url = server.url;
  const browser = await inBrowser(link, new URL(url).origin);
  try {
    const { page, errors } = await openPage(browser, url);
    // What the page's stall watchdog did (web/page/stall_watch.ts), said on its console.
    const watchdog: string[] = [];
    page.on("console", (message) => {
      if (/stalled/.test(message.text())) watchdog.push(message.text());
    });
    await joinAs(page, `shaped${crypto.randomUUID().slice(0, 6)}`);
    const button = `#titles button[data-title="${SHAPED_TITLE.title}"]:not([disabled])`;
    await page.waitForSelector(button, { timeout: 60_000 });
    await page.evaluate(PROBE);
    const offset = await clockOffset(page);
    return {
      kind: "page",
      play: () => page.click(button),
      frames: () => pageFrames(page, offset),
      choices: () => autoChoices(server.out.lines),
      state: async () =>
        `${await pageState(page, errors)}${
          watchdog.length === 0 ? "" : `; watchdog: ${watchdog.slice(0, 5).join(" | ")}`
        }`,
      close: () => browser.close(),
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

export async function readyHls(link: ShapedLink, nginx: NginxServer): Promise<ReadyPlayer> {
  const url = `http://${link.hostAddress}:${nginx.port}/hls.html`;
  const browser = await inBrowser(link, new URL(url).origin);
  try {
    const { page, errors } = await openPage(browser, url);
    await page.waitForFunction("typeof window.__start === 'function' && typeof Hls === 'function'");
    await page.evaluate(PROBE);
    const offset = await clockOffset(page);
    return {
      kind: "hls.js",
      play: () => page.evaluate("window.__start()").then(() => {}),
      frames: () => pageFrames(page, offset),
      state: () => pageState(page, errors),
      close: () => browser.close(),
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/**
 * Starts a player together with its link's schedule, waits the schedule's length, and collects
 * the frames it showed (ms from the schedule's start) and what it says of itself at the end.
 */
export async function playOnce(
  player: ReadyPlayer,
  link: ShapedLink,
  schedule: Schedule,
): Promise<{ frames: ShownFrame[]; choices?: ShownFrame[]; state: string }> {
  const stop = new AbortController();
  const t0 = performance.now();
  const wall0 = Date.now();
  const running = runSchedule(link, schedule.steps, { signal: stop.signal });
  try {
    await player.play();
    await sleep(schedule.seconds * 1000);
  } finally {
    stop.abort();
    await running;
  }
  const frames = (await player.frames()).map((f) => ({ at: f.at - t0, height: f.height }))
    .filter((f) => f.at <= schedule.seconds * 1000);
  const choices = player.choices?.().map((c) => ({
    at: Math.max(0, c.at - wall0),
    height: c.height,
  }))
    .filter((c) => c.at <= schedule.seconds * 1000);
  return { frames, choices, state: await player.state() };
}
