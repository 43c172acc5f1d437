/**
 * Scenario 16, playback on a shaped link (issue 22): each player runs inside a network namespace
 * of its own, behind a veth whose rate a token bucket holds to a schedule (`tests/_netns.ts`):
 * 5 → 1.5 → 0.6 → 3 Mbit/s over two minutes, and a fixed 1 Mbit/s (quick: 5 → 0.6 → 3 in 40 s).
 * Three players, each alone on its own link with the same schedule, one after the other (one
 * browser at a time, so that no player competes with another for the machine's cores):
 *
 * - the terminal client (`join`, auto quality) with a real-time player (`ffmpeg -re`, every
 *   decoded frame logged);
 * - the page in Chromium (auto quality), Chromium itself started inside the namespace;
 * - hls.js (npm, default settings) in the same Chromium build, fetching the same renditions (the
 *   very segments peerstream prepared) from nginx on the link's host side.
 *
 * Per player, from the frames it presented (`tests/_playback_stats.ts`): start-up, stalls (no new
 * frame for more than 1 s, counted to the end of the window) and stalled time, the mean bit rate on
 * screen, switches, and the time from each drop of the link to a rendition the new rate sustains
 * on screen, and from the rise to a higher rendition on screen.
 * @module
 */

import type { Page } from "puppeteer-core";
import hlsPackage from "hls.js/package.json" with { type: "json" };
import { launchBrowser, type TestBrowser } from "../tests/_browser.ts";
import { FrameLog, loggingPlayer } from "../tests/_frame_log.ts";
import {
  type CliClient,
  type ServerProcess,
  startCli,
  startServer,
  waitForReady,
} from "../tests/_helpers.ts";
import { openShapedLink, type RateStep, runSchedule, type ShapedLink } from "../tests/_netns.ts";
import { joinAs, openPage, startWebServer } from "../tests/_page.ts";
import {
  countSwitches,
  findStalls,
  type LadderRung,
  meanBitrate,
  type ShownFrame,
  STALL_MS,
  stepDownAfter,
  stepUpAfter,
} from "../tests/_playback_stats.ts";
import { NGINX, peerEngine } from "./_install.ts";
import { findPrepared, type NginxServer, startNginx } from "./_nginx.ts";
import type { BenchContext, Metric, ScenarioResult } from "./_scenario.ts";
import { ensureBenchTitle } from "./_server.ts";
import { sleep } from "./_stats.ts";

/** The title: 130 s of 720p at 2.5 Mbit/s; the server derives 240p and 480p from it. */
export const SHAPED_TITLE = {
  title: "benchshaped",
  seconds: 130,
  folder: "videos-shaped",
  height: 720,
  bitrate: "2.5M",
} as const;

/** A rate schedule, played for `seconds`. */
export interface Schedule {
  name: string;
  steps: RateStep[];
  seconds: number;
}

const M = 1_000_000;

/** The full run's schedules. */
export const FULL_SCHEDULES: readonly Schedule[] = [
  {
    name: "5 → 1.5 → 0.6 → 3 Mbit/s",
    steps: [
      { atMs: 0, bitsPerSecond: 5 * M },
      { atMs: 30_000, bitsPerSecond: 1.5 * M },
      { atMs: 60_000, bitsPerSecond: 0.6 * M },
      { atMs: 90_000, bitsPerSecond: 3 * M },
    ],
    seconds: 120,
  },
  { name: "fixed 1 Mbit/s", steps: [{ atMs: 0, bitsPerSecond: 1 * M }], seconds: 120 },
];

/** The quick run's schedule: one drop and one rise, 40 s per player. */
export const QUICK_SCHEDULES: readonly Schedule[] = [{
  name: "5 → 0.6 → 3 Mbit/s (quick)",
  steps: [
    { atMs: 0, bitsPerSecond: 5 * M },
    { atMs: 12_000, bitsPerSecond: 0.6 * M },
    { atMs: 24_000, bitsPerSecond: 3 * M },
  ],
  seconds: 40,
}];

/** The players compared. */
export const PLAYERS = ["terminal", "page", "hls.js"] as const;
/** One of {@linkcode PLAYERS}. */
export type PlayerKind = (typeof PLAYERS)[number];

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
const HLS_PAGE = `<!doctype html>
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
interface ReadyPlayer {
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
async function hlsSource(): Promise<string> {
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

async function readyTerminal(link: ShapedLink, server: ServerProcess): Promise<ReadyPlayer> {
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

async function readyPage(
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

async function readyHls(link: ShapedLink, nginx: NginxServer): Promise<ReadyPlayer> {
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
async function playOnce(
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

/** The figures of one player's run. */
export interface PlayerFigures {
  startupMs: number;
  stalls: number;
  stalledS: number;
  meanKbps: number;
  switches: number;
  /**
   * Per drop of the link, ms to a sustainable rendition on screen; the time the new rate held
   * when none reached the screen before the next change (see `missed`).
   */
  stepDownMs: number[];
  /** Per rise, ms to a higher rendition on screen; as `stepDownMs` when none did. */
  stepUpMs: number[];
  /** The changes (ms from the start) after which the screen never got there while they held. */
  missed: number[];
  /**
   * The same times for the renditions auto chose on the server (its log), when known: how long
   * the decision took, without the buffered media that still plays out before it shows.
   */
  chosen?: { stepDownMs: number[]; stepUpMs: number[]; shown: [number, number][] };
  /** What was on screen: the first frame of each run of one height, [s from the start, height]. */
  shown: [number, number][];
  /** What the player said of itself at the end (set by the run, not by `figuresOf`). */
  stateAtEnd?: string;
}

/**
 * The figures of a run: stalls counted to the end of the window (a player frozen at the end has
 * stalled too); a step down or up is timed only while the rate that called for it held.
 *
 * @param frames The frames, ms from the schedule's start.
 * @param options The schedule, the ladder, and the renditions auto chose (ms from the start).
 * @returns The figures.
 */
export function figuresOf(
  frames: readonly ShownFrame[],
  options: { schedule: Schedule; ladder: readonly LadderRung[]; choices?: readonly ShownFrame[] },
): PlayerFigures {
  const end = options.schedule.seconds * 1000;
  const stalls = findStalls(frames);
  const last = frames.at(-1);
  if (last !== undefined && end - last.at > STALL_MS) stalls.push({ from: last.at, to: end });
  const bitrateOf = (h: number) => options.ladder.find((r) => r.height === h)?.bitrate ?? 0;
  const { stepDownMs, stepUpMs, missed } = changeTimes(frames, options);
  const chosen = options.choices === undefined ? undefined : changeTimes(options.choices, options);
  const shown: [number, number][] = frames
    .filter((f, i) => i === 0 || f.height !== frames[i - 1].height)
    .map((f) => [Math.round(f.at / 100) / 10, f.height]);
  return {
    startupMs: frames[0]?.at ?? NaN,
    stalls: stalls.length,
    stalledS: stalls.reduce((sum, s) => sum + s.to - s.from, 0) / 1000,
    meanKbps: meanBitrate(frames, bitrateOf) / 1000,
    switches: countSwitches(frames),
    stepDownMs,
    stepUpMs,
    missed,
    ...(chosen === undefined ? {} : {
      chosen: {
        stepDownMs: chosen.stepDownMs,
        stepUpMs: chosen.stepUpMs,
        shown: options.choices!.map((c) => [Math.round(c.at / 100) / 10, c.height]),
      },
    }),
    shown,
  };
}

/**
 * Per change of the schedule, how long until a timeline of heights (frames on screen, or the
 * renditions chosen) got there: a sustainable rendition after a drop, a higher one after a rise,
 * timed only while the rate held (the whole time it held, and the change `missed`, when it never).
 */
function changeTimes(
  timeline: readonly ShownFrame[],
  options: { schedule: Schedule; ladder: readonly LadderRung[] },
): { stepDownMs: number[]; stepUpMs: number[]; missed: number[] } {
  const end = options.schedule.seconds * 1000;
  const steps = options.schedule.steps;
  const stepDownMs: number[] = [];
  const stepUpMs: number[] = [];
  const missed: number[] = [];
  for (let i = 1; i < steps.length; i++) {
    const { atMs, bitsPerSecond } = steps[i];
    const held = (steps[i + 1]?.atMs ?? end) - atMs;
    const down = bitsPerSecond < steps[i - 1].bitsPerSecond;
    let ms = down
      ? stepDownAfter(timeline, { at: atMs, rate: bitsPerSecond, ladder: options.ladder })
      : stepUpAfter(timeline, atMs);
    if (!(ms <= held)) {
      missed.push(atMs);
      ms = held;
    }
    (down ? stepDownMs : stepUpMs).push(ms);
  }
  return { stepDownMs, stepUpMs, missed };
}

/**
 * The renditions auto chose, from a server's log lines (`auto #3 720p → 480p from segment 21
 * (…)`, each after its time): the height before the first change from the first change's time,
 * then each new height from its line's time.
 *
 * @param lines The server's stdout lines (text format).
 * @returns From when (ms since the epoch) each height was chosen.
 */
export function autoChoices(lines: readonly string[]): ShownFrame[] {
  const choices: ShownFrame[] = [];
  for (const line of lines) {
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+) auto #\d+ (\d+)p → (\d+)p /.exec(line);
    if (m === null) continue;
    const at = Date.parse(`${m[1]}T${m[2]}Z`);
    if (choices.length === 0) choices.push({ at, height: Number(m[3]) });
    choices.push({ at, height: Number(m[4]) });
  }
  return choices;
}

/** The rows of one schedule: each player's figures, peerstream's judged against hls.js's. */
function scheduleMetrics(schedule: Schedule, figures: Map<PlayerKind, PlayerFigures>): Metric[] {
  const hls = figures.get("hls.js")!;
  const metrics: Metric[] = [];
  for (const kind of PLAYERS) {
    const f = figures.get(kind)!;
    const ours = kind !== "hls.js";
    const row = (name: string) => `${schedule.name}: ${kind} ${name}`;
    metrics.push(
      { name: row("start-up"), unit: "ms", values: [f.startupMs] },
      {
        name: row("stalls"),
        unit: "",
        values: [f.stalls],
        ...(ours
          ? {
            target: `≤ hls.js (${hls.stalls}), 0 where it has any`,
            goal: { stat: "max", atMost: hls.stalls > 0 ? 0 : hls.stalls },
          }
          : {}),
      },
      { name: row("stalled time"), unit: "s", values: [f.stalledS] },
      {
        name: row("mean bit rate on screen"),
        unit: "kbit/s",
        values: [f.meanKbps],
        ...(ours
          ? {
            target: `≥ hls.js (${hls.meanKbps.toFixed(0)})`,
            goal: { stat: "min", atLeast: hls.meanKbps },
          }
          : {}),
      },
      { name: row("switches"), unit: "", values: [f.switches] },
    );
    if (f.stepDownMs.length > 0) {
      metrics.push({
        name: row("drop → sustainable rendition on screen"),
        unit: "ms",
        values: f.stepDownMs,
        ...(ours ? { target: "≤ 2000", goal: { stat: "max", atMost: 2000 } } : {}),
      });
    }
    if (f.stepUpMs.length > 0) {
      metrics.push({
        name: row("rise → higher rendition on screen"),
        unit: "ms",
        values: f.stepUpMs,
      });
    }
    if (f.chosen !== undefined && f.chosen.stepDownMs.length > 0) {
      metrics.push({
        name: row("drop → sustainable rendition chosen (server)"),
        unit: "ms",
        values: f.chosen.stepDownMs,
        // A drop is measurable once a segment crosses the link after it: the next goes within 2 s.
        target: "≤ 4000 (2 s after the drop is measurable)",
        goal: { stat: "max", atMost: 4000 },
      });
    }
    if (f.chosen !== undefined && f.chosen.stepUpMs.length > 0) {
      metrics.push({
        name: row("rise → higher rendition chosen (server)"),
        unit: "ms",
        values: f.chosen.stepUpMs,
      });
    }
  }
  return metrics;
}

/** The servers of one run: peerstream for the terminal, peerstream with the page, nginx. */
interface Servers {
  terminal: ServerProcess;
  web: ServerProcess & { url: string };
  nginx: NginxServer;
  ladder: LadderRung[];
}

async function startServers(
  ctx: BenchContext,
  links: readonly ShapedLink[],
  nginxBinary: string,
): Promise<Servers> {
  const { dir } = await ensureBenchTitle(ctx.cache, SHAPED_TITLE);
  // Where every bench server keeps its prepared segments (bench/_server.ts), found by nginx.
  const common = { cacheDir: `${ctx.cache}/server` };
  const [a, b, c] = links;
  const terminal = await startServer({
    ...common,
    args: ["--host", a.hostAddress, "--videos", dir],
  });
  const started: { stop(): Promise<unknown> }[] = [terminal];
  try {
    ctx.log("shaped: preparing the title (once per cache)");
    await waitForReady(terminal.port, 600_000, a.hostAddress);
    const web = await startWebServer({
      ...common,
      args: ["--host", b.hostAddress, "--web", `${b.hostAddress}:0`, "--videos", dir],
    });
    started.push(web);
    await waitForReady(web.port, 120_000, b.hostAddress);
    const prepared = await findPrepared(ctx.cache, SHAPED_TITLE.title);
    const nginx = await startNginx(prepared, {
      binary: nginxBinary,
      listen: [c.hostAddress],
      www: { "hls.html": HLS_PAGE, "hls.min.js": await hlsSource() },
    });
    const ladder = prepared.renditions.map((r) => ({ height: r.height, bitrate: r.bitrate }));
    return { terminal, web, nginx, ladder };
  } catch (error) {
    for (const s of started) await s.stop().catch(() => {});
    throw error;
  }
}

/** Readies one player on its link. */
function readyPlayer(
  kind: PlayerKind,
  links: readonly ShapedLink[],
  servers: Servers,
): Promise<ReadyPlayer> {
  if (kind === "terminal") return readyTerminal(links[0], servers.terminal);
  if (kind === "page") return readyPage(links[1], servers.web);
  return readyHls(links[2], servers.nginx);
}

/**
 * Runs one schedule for each player in turn, each alone on its own link (one browser at a time:
 * the players never compete for the machine's two cores); returns each player's figures.
 */
async function runScheduleEach(
  ctx: BenchContext,
  schedule: Schedule,
  nginxBinary: string,
): Promise<{ figures: Map<PlayerKind, PlayerFigures>; ladder: LadderRung[] }> {
  const links: ShapedLink[] = [];
  let servers: Servers | undefined;
  try {
    for (let i = 0; i < PLAYERS.length; i++) {
      links.push(await openShapedLink({ rateBitsPerSecond: schedule.steps[0].bitsPerSecond }));
    }
    servers = await startServers(ctx, links, nginxBinary);
    const ladder = servers.ladder;
    const figures = new Map<PlayerKind, PlayerFigures>();
    for (const [i, kind] of PLAYERS.entries()) {
      // The link starts each run at the schedule's first rate, whatever the last run left.
      await links[i].setRate(schedule.steps[0].bitsPerSecond);
      const player = await readyPlayer(kind, links, servers);
      try {
        ctx.log(`shaped: ${schedule.name}, ${schedule.seconds} s, ${kind}`);
        const { frames, choices, state } = await playOnce(player, links[i], schedule);
        figures.set(kind, {
          ...figuresOf(frames, { schedule, ladder, choices }),
          stateAtEnd: state,
        });
      } finally {
        await player.close().catch(() => {});
      }
    }
    return { figures, ladder };
  } finally {
    if (servers !== undefined) {
      await servers.nginx.stop().catch(() => {});
      await servers.web.stop().catch(() => {});
      await servers.terminal.stop().catch(() => {});
    }
    for (const link of links) await link.close();
  }
}

/**
 * Runs scenario 16.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function shapedScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: "shaped",
    title: "16. Playback on a shaped link (terminal, page, hls.js on nginx)",
    metrics: [],
    failures: [],
    notes: [],
  };
  const engine = await peerEngine(NGINX, ctx, result);
  if (engine === null) return result;
  let ladder: LadderRung[] = [];
  const detail: Record<string, unknown> = {};
  for (const schedule of ctx.quick ? QUICK_SCHEDULES : FULL_SCHEDULES) {
    const run = await runScheduleEach(ctx, schedule, engine.path);
    ladder = run.ladder;
    result.metrics.push(...scheduleMetrics(schedule, run.figures));
    detail[schedule.name] = Object.fromEntries(run.figures);
    for (const [kind, f] of run.figures) {
      for (const at of f.missed) {
        result.notes.push(
          `${schedule.name}: ${kind} never showed the rendition the change at ${
            at / 1000
          } s called for while that rate held (its row counts the whole time it held)`,
        );
      }
      if (f.chosen !== undefined) {
        result.notes.push(
          `${schedule.name}: ${kind} chosen by the server [s, height]: ${
            f.chosen.shown.map(([t, h]) => `${t} ${h}p`).join(", ")
          }`,
        );
      }
      result.notes.push(
        `${schedule.name}: ${kind} on screen [s, height]: ${
          f.shown.map(([t, h]) => `${t} ${h}p`).join(", ")
        }${
          f.stalls > 0 || /watchdog:/.test(f.stateAtEnd ?? "")
            ? `; at the end: ${f.stateAtEnd}`
            : ""
        }`,
      );
    }
  }
  result.detail = detail;
  result.notes.push(
    `Each player in a network namespace of its own behind a veth with a tc tbf (burst 16 KiB, queue 200 ms, no added latency: netem is not available), the three one after the other on the same schedule, each alone on the machine; ladder ${
      ladder.map((r) => `${r.height}p ${(r.bitrate / 1000).toFixed(0)} kbit/s`).join(", ")
    }; hls.js ${hlsPackage.version} with its defaults; a stall is no new frame for more than 1 s (to the end of the window); the terminal's player is ffmpeg -re (frames polled every 20 ms)`,
  );
  return result;
}
