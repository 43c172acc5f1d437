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

import hlsPackage from "hls.js/package.json" with { type: "json" };
import { type ServerProcess, startServer, waitForReady } from "../tests/_helpers.ts";
import { openShapedLink, type ShapedLink } from "../tests/_netns.ts";
import { startWebServer } from "../tests/_page.ts";
import { type LadderRung } from "../tests/_playback_stats.ts";
import { NGINX, peerEngine } from "./_install.ts";
import { findPrepared, type NginxServer, startNginx } from "./_nginx.ts";
import type { BenchContext, ScenarioResult } from "./_scenario.ts";
import { ensureBenchTitle } from "./_server.ts";
import { figuresOf, type PlayerFigures, scheduleMetrics } from "./_shaped_figures.ts";
import {
  FULL_SCHEDULES,
  type PlayerKind,
  PLAYERS,
  QUICK_SCHEDULES,
  type Schedule,
  SHAPED_TITLE,
} from "./_shaped_plan.ts";
import {
  HLS_PAGE,
  hlsSource,
  playOnce,
  readyHls,
  readyPage,
  type ReadyPlayer,
  readyTerminal,
} from "./_shaped_players.ts";

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
