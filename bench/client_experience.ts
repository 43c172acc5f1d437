/**
 * Scenario 12, the client as a person uses it (issue 8): real `join` processes whose player is a
 * real-time decoder (`ffmpeg -re -i pipe:0 -vf showinfo -f null -`), and what reaches the screen,
 * in this order: PLAY with auto → the top rendition decoded; messages sent during playback (one
 * every 30 ms, not waiting for each) → printed by the viewer; LIST; QUALITY and SEEK → the first
 * frame of the new rendition / position decoded; STOP → the player process gone.
 *
 * The title is 30 s of 720p at 2.5 Mbit/s (renditions 240p, 480p, 720p). QUALITY asks for a
 * height other than the one on screen (240p, or 720p when 240p shows).
 *
 * Each player writes its decoded frames (showinfo) to a log of its own, named by its pid, which
 * the bench polls every 5 ms: frame times are good to about 5 ms. `--client-root DIR` runs the
 * `join` of another checkout (e.g. the code before issue 8) against the same server, for the
 * "before" figures.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { type CliClient, connectClient, startCli, type TestClient } from "../tests/_helpers.ts";
import { type BenchContext, type Metric, type ScenarioResult, withServer } from "./_scenario.ts";
import { ensureBenchTitle, HD_TITLE } from "./_server.ts";
import { sleep } from "./_stats.ts";
import { firstStartSeconds, type ScreenSamples, screenSession } from "./client_screen.ts";

/** A frame a player decoded. */
interface Frame {
  pid: number;
  at: number;
  height: number;
}

/** Follows the showinfo logs of every player started with {@linkcode playerSpec}. */
class PlayerLogs {
  readonly frames: Frame[] = [];
  readonly #dir: string;
  readonly #files = new Map<string, { file: Deno.FsFile; partial: string }>();
  readonly #buffer = new Uint8Array(64 * 1024);
  #running = true;
  readonly #loop: Promise<void>;

  constructor(dir: string) {
    this.#dir = dir;
    this.#loop = this.#poll();
  }

  async #poll() {
    while (this.#running) {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (entry.name.endsWith(".log")) await this.#read(entry.name);
      }
      await sleep(5);
    }
    for (const { file } of this.#files.values()) file.close();
  }

  /** Reads what was appended since the last poll (the logs only grow). */
  async #read(name: string) {
    let log = this.#files.get(name);
    if (log === undefined) {
      log = { file: await Deno.open(`${this.#dir}/${name}`), partial: "" };
      this.#files.set(name, log);
    }
    const pid = Number(name.replace(".log", ""));
    while (true) {
      const n = await log.file.read(this.#buffer);
      if (n === null || n === 0) return;
      const now = performance.now();
      const lines = (log.partial + new TextDecoder().decode(this.#buffer.subarray(0, n))).split(
        "\n",
      );
      log.partial = lines.pop()!;
      for (const line of lines) {
        const m = /\bn:\s*\d+ .*?\bs:(\d+)x(\d+)/.exec(line);
        if (m) this.frames.push({ pid, at: now, height: Number(m[2]) });
      }
    }
  }

  /** Waits for the first frame after `since` matching `test`. */
  async first(
    since: number,
    test: (f: Frame) => boolean,
    timeoutMs: number,
  ): Promise<Frame | null> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      const found = this.frames.find((f) => f.at >= since && test(f));
      if (found) return found;
      await sleep(5);
    }
    return null;
  }

  /** The pid of the player that decoded last. */
  lastPid(): number | undefined {
    return this.frames[this.frames.length - 1]?.pid;
  }

  async stop() {
    this.#running = false;
    await this.#loop;
  }
}

/** A real-time player whose decoded frames go to `${dir}/<its pid>.log`. */
function playerSpec(dir: string): string {
  // The shell expands $$ to its pid, which exec hands on to ffmpeg.
  return `sh -c "exec ffmpeg -hide_banner -loglevel info -nostats -re -i pipe:0 -vf showinfo -f null - 2>${dir}/$$.log"`;
}

/** Waits until a process is gone (reaped by its parent), polling every 2 ms. */
async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    try {
      // SIGCONT is harmless to a running player and fails once the process is gone.
      Deno.kill(pid, "SIGCONT");
    } catch {
      return true;
    }
    await sleep(2);
  }
  return false;
}

/** Waits for a stdout line of the CLI; resolves with when it arrived, or NaN after the timeout. */
async function lineAt(
  cli: CliClient,
  re: RegExp,
  from: number,
  timeoutMs: number,
): Promise<number> {
  try {
    await cli.out.waitFor(re, { from, timeoutMs });
    return performance.now();
  } catch {
    return NaN;
  }
}

interface Samples {
  top: number[];
  firstMessage: number[];
  messages: number[];
  list: number[];
  quality: number[];
  seek: number[];
  stop: number[];
}

/**
 * One viewer session: PLAY auto, messages and LIST during playback, QUALITY, SEEK, STOP.
 * Unreached steps give NaN (the code before issue 8 has no SEEK, and never reached the top).
 */
async function session(
  ctx: BenchContext,
  port: number,
  options: { rep: number; clientRoot?: string; samples: Samples; notes: string[] },
) {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-bench-players-" });
  const logs = new PlayerLogs(dir);
  const { samples, rep } = options;
  const viewerName = `cx${ctx.tag}${rep}v`;
  let sender: TestClient | undefined;
  let cli: CliClient | undefined;
  try {
    cli = await startCli(port, viewerName, {
      args: ["--ephemeral", "--player", playerSpec(dir)],
      main: options.clientRoot === undefined ? undefined : `${options.clientRoot}/main.ts`,
    });
    sender = await connectClient(port, `cx${ctx.tag}${rep}s`, {
      identity: await generateIdentity(),
    });
    // PLAY with auto: the top rendition (720p) decoded.
    let t0 = performance.now();
    await cli.type(`PLAY ${HD_TITLE.title}`);
    // Not within 8 s (twice the target) counts as never, so that the rest runs while it plays.
    const top = await logs.first(t0, (f) => f.height === HD_TITLE.height, 8_000);
    samples.top.push(top === null ? NaN : top.at - t0);
    await logs.first(t0, () => true, 10_000);
    // Messages to the viewer while it plays, and LIST. One unmeasured message first: the first
    // message between two clients also fetches both keys (and warms the bench's own crypto).
    const warmed = lineAt(cli, /^<.*> warm-up$/, cli.out.lines.length, 10_000);
    t0 = performance.now();
    await sender.session.sendText(viewerName, "warm-up");
    samples.firstMessage.push((await warmed) - t0);
    // Then one every 30 ms, without waiting for each: a client that reads its socket at the
    // player's pace shows them late, all of them.
    const count = ctx.quick ? 10 : 100;
    const from = cli.out.lines.length;
    const sends: Promise<number>[] = [];
    for (let i = 0; i < count; i++) {
      const re = new RegExp(`^<cx${ctx.tag}${rep}s> during playback ${i}$`);
      const sentAt = performance.now();
      sends.push(lineAt(cli, re, from, 30_000).then((at) => at - sentAt));
      sender.session.sendText(viewerName, `during playback ${i}`).catch(() => {});
      await sleep(30);
    }
    samples.messages.push(...await Promise.all(sends));
    const listFrom = cli.out.lines.length;
    t0 = performance.now();
    await cli.type("LIST");
    samples.list.push(
      (await lineAt(cli, new RegExp(`^${HD_TITLE.title}\\s`), listFrom, 10_000)) - t0,
    );
    // QUALITY to another height than the one on screen: its first frame decoded (in a new
    // player, or after the old buffered lead).
    const target = logs.frames[logs.frames.length - 1]?.height === 240 ? 720 : 240;
    t0 = performance.now();
    await cli.type(`QUALITY ${target}p`);
    const switched = await logs.first(t0, (f) => f.height === target, 15_000);
    samples.quality.push(switched === null ? NaN : switched.at - t0);
    // SEEK: the first frame of the new position decoded, by a new player (ffmpeg numbers its
    // output from 0, so the frame's own time does not tell the position).
    const before = logs.lastPid();
    t0 = performance.now();
    await cli.type("SEEK 0:20");
    const moved = await logs.first(t0, (f) => f.pid !== before, 10_000);
    samples.seek.push(moved === null ? NaN : moved.at - t0);
    // STOP: the player process gone.
    await sleep(500);
    const pid = logs.lastPid();
    t0 = performance.now();
    const stopFrom = cli.out.lines.length;
    await cli.type("STOP");
    const ok = pid !== undefined && await gone(pid, 10_000);
    samples.stop.push(ok ? performance.now() - t0 : NaN);
    await lineAt(cli, /^\* stopped/, stopFrom, 5_000);
    await cli.type("QUIT");
    await cli.finish();
    const errors = cli.err.lines.filter((l) => l.trim() !== "");
    if (errors.length > 0) {
      options.notes.push(`rep ${rep + 1}: the client said: ${errors.join(" / ")}`);
    }
  } finally {
    if (cli !== undefined) {
      try {
        cli.child.kill("SIGKILL");
      } catch {
        // Exited.
      }
      await cli.finish().catch(() => {});
      await Deno.remove(cli.home, { recursive: true }).catch(() => {});
    }
    await sender?.session.quit().catch(() => {});
    await logs.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The rows read off a screen (issue 18): PAUSE 5 s → RESUME and the window's gaps, for ffplay and
 * mpv, and a first start's `testcard`.
 */
async function _screenRows(ctx: BenchContext, reps: number, notes: string[]): Promise<Metric[]> {
  const runs: Record<"ffplay" | "mpv", ScreenSamples[]> = { ffplay: [], mpv: [] };
  const first: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const player of ["ffplay", "mpv"] as const) {
      ctx.log(`client: ${player} on a virtual screen, rep ${rep + 1}/${reps}`);
      runs[player].push(await screenSession(ctx, player));
    }
    ctx.log(`client: first start of serve -> testcard playable, rep ${rep + 1}/${reps}`);
    first.push(await firstStartSeconds(ctx));
  }
  const of = (player: "ffplay" | "mpv", key: keyof ScreenSamples) =>
    runs[player].map((s) => s[key]);
  notes.push(
    "Screen rows: a 640x360 video whose frames carry their numbers, in a real window under Xvfb, grabbed at 50 fps (a grab can miss one frame on a loaded machine); mpv runs with --framedrop=no. Window gaps: xwininfo polled every ~10-20 ms",
  );
  const rows: Metric[] = [];
  for (const player of ["ffplay", "mpv"] as const) {
    rows.push(
      {
        name: `${player}: PAUSE 5 s → RESUME, frames skipped`,
        unit: "frames",
        values: of(player, "pauseSkip"),
        target: "0 (1: a grab missed)",
        goal: { stat: "max", atMost: 1 },
      },
      {
        name: `${player}: window gap on QUALITY`,
        unit: "ms",
        values: of(player, "qualityGapMs"),
        ...(player === "mpv" ? { target: "0", goal: { stat: "max", atMost: 0 } } : {}),
      },
      {
        name: `${player}: window gap on SEEK`,
        unit: "ms",
        values: of(player, "seekGapMs"),
        ...(player === "mpv" ? { target: "0", goal: { stat: "max", atMost: 0 } } : {}),
      },
    );
  }
  rows.push({ name: "first start of serve → testcard playable", unit: "s", values: first });
  return rows;
}

/**
 * Runs scenario 12.
 *
 * @param ctx The bench context; `clientRoot` measures another checkout's client.
 * @returns Its results.
 */
export async function clientScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const samples: Samples = {
    top: [],
    firstMessage: [],
    messages: [],
    list: [],
    quality: [],
    seek: [],
    stop: [],
  };
  const notes: string[] = [];
  const reps = ctx.quick ? 1 : ctx.reps;
  const videos = { dir: (await ensureBenchTitle(ctx.cache, HD_TITLE)).dir, title: HD_TITLE.title };
  for (let rep = 0; rep < reps; rep++) {
    ctx.log(`client: a join with a real-time player, rep ${rep + 1}/${reps}`);
    await withServer(
      ctx,
      (server) => session(ctx, server.port, { rep, clientRoot: ctx.clientRoot, samples, notes }),
      { videos, root: ctx.clientRoot },
    );
  }
  const which = ctx.clientRoot === undefined ? "" : ` (client from ${ctx.clientRoot})`;
  const metrics: Metric[] = [
    ...await _screenRows(ctx, reps, notes),
    {
      name: "message send → shown by the viewer, playing",
      unit: "ms",
      values: samples.messages,
      target: "≤ 50 p99",
      goal: { stat: "p99", atMost: 50 },
    },
    { name: "first message (also fetches both keys)", unit: "ms", values: samples.firstMessage },
    { name: "LIST → answered, playing", unit: "ms", values: samples.list },
    {
      name: "STOP → player gone",
      unit: "ms",
      values: samples.stop,
      target: "≤ 150",
      goal: { stat: "max", atMost: 150 },
    },
    {
      name: "QUALITY → first frame of that height decoded",
      unit: "ms",
      values: samples.quality,
      target: "≤ 1000",
      goal: { stat: "max", atMost: 1000 },
    },
    {
      name: "SEEK 0:20 → first frame there decoded",
      unit: "ms",
      values: samples.seek,
      target: "≤ 1000",
      goal: { stat: "max", atMost: 1000 },
    },
    {
      name: "PLAY auto → top rendition (720p) decoded",
      unit: "ms",
      values: samples.top,
      target: "≤ 4000",
      goal: { stat: "max", atMost: 4000 },
    },
  ];
  return {
    id: "client",
    title: `12. Client with a real-time player${which}`,
    metrics,
    failures: [],
    notes: [
      ...notes,
      "One `join` process per repetition; its player is ffmpeg -re (reads at playback speed) with showinfo, logging each decoded frame; frame times are polled every 5 ms. A dash means the step never happened within its deadline",
    ],
  };
}
