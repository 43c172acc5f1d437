/**
 * The system under test: the bench title generated with ffmpeg, and a real `main.ts serve`
 * process on 127.0.0.1 with a fresh data folder.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import type { ServerLimits } from "../server/limits.ts";
import { benchIdentity, LoadClient } from "./_client.ts";
import { sleep } from "./_stats.ts";
import { startServer } from "../tests/_helpers.ts";

/** The bench title's name; its file is `benchclip_480p.mp4`. */
export const BENCH_TITLE = "benchclip";

/** Seconds of the bench title. */
export const BENCH_TITLE_SECONDS = 30;

/** A longer title for the auto-switch test, in its own folder; its file is `benchlong_480p.mp4`. */
export const LONG_TITLE = { title: "benchlong", seconds: 150, folder: "videos-long" } as const;

/**
 * An HD title for the client scenario: 30 s of 1280×720 at about 2.5 Mbit/s, so that the top
 * rendition (720p) needs a link well above what a player reading at playback speed shows.
 */
export const HD_TITLE = {
  title: "benchhd",
  seconds: 30,
  folder: "videos-hd",
  height: 720,
  bitrate: "2.5M",
} as const;

/**
 * ffmpeg arguments for the bench title: 30 s of 854×480 testsrc2 at 25 fps and about 1.1 Mbit/s,
 * with a 440 Hz tone, so that the server derives 240p, 360p and 480p renditions.
 *
 * @param output The file to write.
 * @param seconds Its length.
 * @param shape Another height (16:9) and bit rate.
 * @returns The arguments.
 */
export function benchTitleArgs(
  output: string,
  seconds: number = BENCH_TITLE_SECONDS,
  shape: { height: number; bitrate: string } = { height: 480, bitrate: "1.1M" },
): string[] {
  const width = Math.round((shape.height * 16) / 9 / 2) * 2;
  const rate = Number.parseFloat(shape.bitrate);
  return [
    ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"],
    ["-f", "lavfi", "-i", `testsrc2=size=${width}x${shape.height}:rate=25`],
    ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"],
    ["-t", String(seconds)],
    ["-c:v", "libx264", "-preset", "veryfast", "-b:v", shape.bitrate, "-maxrate", shape.bitrate],
    ["-bufsize", `${rate * 2}M`, "-pix_fmt", "yuv420p", "-g", "50"],
    ["-c:a", "aac", "-b:a", "96k", "-f", "mp4", output],
  ].flat();
}

/**
 * Generates the bench title once into `${cache}/videos/` (kept across runs, so the server's
 * prepared segments are reused).
 *
 * @param cache The bench cache folder.
 * @param options Another title, length and folder (the auto-switch test needs a longer one).
 * @returns The videos folder and the source file.
 */
export async function ensureBenchTitle(
  cache: string,
  options: { title: string; seconds: number; folder: string; height?: number; bitrate?: string } = {
    title: BENCH_TITLE,
    seconds: BENCH_TITLE_SECONDS,
    folder: "videos",
  },
): Promise<{ dir: string; file: string }> {
  const dir = `${cache}/${options.folder}`;
  const height = options.height ?? 480;
  const file = `${dir}/${options.title}_${height}p.mp4`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await Deno.stat(file);
    return { dir, file };
  } catch {
    // Generate it below.
  }
  const tmp = `${cache}/.tmp-${crypto.randomUUID().slice(0, 8)}.mp4`;
  const out = await new Deno.Command("ffmpeg", {
    args: benchTitleArgs(tmp, options.seconds, { height, bitrate: options.bitrate ?? "1.1M" }),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `Cannot generate the bench title: ffmpeg exited with code ${out.code}: ${
        new TextDecoder().decode(out.stderr).trim()
      }; check that ffmpeg has libx264`,
    );
  }
  await Deno.rename(tmp, file);
  return { dir, file };
}

/**
 * The limits every bench server runs with, set explicitly: every load client connects from
 * 127.0.0.1 and registers with one shared key pair, so the per-address and per-key limits a real
 * server applies (64 connections, 20 connects/s, 10 hellos/s, 8 names per key, 100 new names a day)
 * are lifted.
 * Connections: above the largest ramp (8,000 viewers) plus the bench's other clients, and below
 * `ulimit -n` (20,000 here). Everything else, the relay budgets included, keeps its default.
 */
export const BENCH_LIMITS: Readonly<Partial<ServerLimits>> = {
  maxConnections: 16_000,
  maxConnectionsPerAddress: 16_000,
  connectsPerAddressPerSecond: 1_000_000,
  connectBurstPerAddress: 1_000_000,
  hellosPerAddressPerSecond: 1_000_000,
  helloBurstPerAddress: 1_000_000,
  maxNamesPerKey: 10_000_000,
  newNamesPerAddressPerDay: 10_000_000,
  maxNames: 10_000_000,
};

/**
 * How a server is given its limits: the connection limits as `serve` flags, which every checkout
 * since the bench began knows (`--max-connections`, `--max-per-address`), the rest as
 * `PEERSTREAM_LIMITS`, which refuses a name it does not know: another checkout's server gets only
 * those its own `DEFAULT_LIMITS` has.
 *
 * @param limits The limits to set; `{}` keeps every default.
 * @param known The limit names the server knows; all of them when undefined.
 * @returns The `serve` flags and the `PEERSTREAM_LIMITS` value.
 */
export function limitSettings(
  limits: Readonly<Partial<ServerLimits>>,
  known?: ReadonlySet<string>,
): { args: string[]; env: string } {
  const { maxConnections, maxConnectionsPerAddress, ...rest } = limits;
  const args = [
    ...(maxConnections === undefined ? [] : ["--max-connections", String(maxConnections)]),
    ...(maxConnectionsPerAddress === undefined
      ? []
      : ["--max-per-address", String(maxConnectionsPerAddress)]),
  ];
  const env = Object.fromEntries(
    Object.entries(rest).filter(([name]) => known === undefined || known.has(name)),
  );
  return { args, env: JSON.stringify(env) };
}

/**
 * The limit names another checkout's server knows: the keys of its `server/limits.ts`
 * `DEFAULT_LIMITS`, read by importing that module; none when it has no such module.
 *
 * @param root The checkout.
 * @returns The names.
 */
async function knownLimits(root: string): Promise<Set<string>> {
  const url = new URL("server/limits.ts", `file://${Deno.realPathSync(root)}/`).href;
  try {
    const module = await import(url);
    return new Set(Object.keys(module.DEFAULT_LIMITS ?? {}));
  } catch {
    return new Set();
  }
}

/** A running server under test. */
export interface BenchServer {
  /** Its port. */
  port: number;
  /** Its process id, for `/proc`. */
  pid: number;
  /** Its log lines so far. */
  log: string[];
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and removes its data folder. */
  stop(): Promise<number>;
}

/**
 * Starts `main.ts serve --host 127.0.0.1 --port 0` with a fresh data folder (through the tests'
 * {@linkcode startServer}) and waits until the bench title is prepared.
 *
 * @param options The cache (segments are prepared once into it), the videos folder, the title to
 * wait for, where to write a V8 CPU profile of the server (`--cpu-prof`), if anywhere, its
 * limits ({@linkcode BENCH_LIMITS} by default, `{}` for the defaults; see
 * {@linkcode limitSettings}), another checkout to run (it gets the limits it knows), and extra
 * `serve` arguments.
 * @returns The server.
 */
export async function startBenchServer(
  options: {
    cache: string;
    videos: string;
    title?: string;
    readyTimeoutMs?: number;
    profileDir?: string;
    limits?: Readonly<Partial<ServerLimits>>;
    /** Another checkout to run the server of (its `main.ts`). */
    root?: string;
    /** Extra `serve` arguments (e.g. `--redis URL`). */
    args?: string[];
    /** Extra `deno run` flags (e.g. `--v8-flags=…`). */
    denoArgs?: string[];
  },
): Promise<BenchServer> {
  const limits = limitSettings(
    options.limits ?? BENCH_LIMITS,
    options.root === undefined ? undefined : await knownLimits(options.root),
  );
  const server = await startServer({
    main: options.root === undefined ? undefined : `${options.root}/main.ts`,
    cacheDir: `${options.cache}/server`,
    args: ["--videos", options.videos, ...limits.args, ...(options.args ?? [])],
    // Replaces the tests' loopback limits: the bench sets its own, or none.
    env: { PEERSTREAM_LIMITS: limits.env },
    denoArgs: [
      ...(options.denoArgs ?? []),
      ...(options.profileDir === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]),
    ],
  });
  const bench: BenchServer = {
    port: server.port,
    pid: server.child.pid,
    // The log has a line per connection event: keep the interesting ones only.
    get log() {
      return [...server.out.lines, ...server.err.lines].filter((line) =>
        !/ (connect|join|leave|disconnect|play|stream) #/.test(line)
      );
    },
    stop: () => server.stop(),
  };
  try {
    await waitUntilReady(
      server.port,
      options.title ?? BENCH_TITLE,
      options.readyTimeoutMs ?? 300_000,
    );
    return bench;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

let probeWho: Promise<Awaited<ReturnType<typeof benchIdentity>>> | undefined;

async function waitUntilReady(port: number, title: string, timeoutMs: number): Promise<void> {
  probeWho ??= generateIdentity().then(benchIdentity);
  const client = await LoadClient.connect(port);
  try {
    await client.register(`probe-${crypto.randomUUID().slice(0, 8)}`, await probeWho);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const id = client.nextId++;
      const answer = new Promise<string>((resolve) => {
        client.onMessage = (m) => {
          if (m.type === "videos" && m.re === id) {
            const v = m.videos.find((v) => v.title === title);
            resolve(v?.state ?? "missing");
          } else if (m.type === "error" && m.re === id) {
            resolve(m.code === "VIDEO_NOT_READY" ? "preparing" : `${m.code}: ${m.message}`);
          }
        };
      });
      client.send({ type: "list", id });
      const state = await answer;
      if (state === "ready") return;
      if (state !== "preparing" && state !== "missing") {
        throw new Error(`Cannot prepare the bench title: ${state}`);
      }
      await sleep(250);
    }
    throw new Error(`The bench title was not prepared within ${timeoutMs / 1000} s`);
  } finally {
    client.send({ type: "quit" });
    await sleep(20);
    client.close();
    await client.done;
  }
}

/**
 * Waits until the server's CPU use falls below `share` of one core over 250 ms windows, so that a
 * measurement does not start while the server still sends join announcements.
 *
 * @param readCpu Reads the server's CPU seconds.
 * @param options The share and the longest wait.
 */
export async function settle(
  readCpu: () => Promise<number>,
  options: { share?: number; maxMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + (options.maxMs ?? 15_000);
  let last = await readCpu();
  while (performance.now() < deadline) {
    await sleep(250);
    const now = await readCpu();
    if ((now - last) / 0.25 < (options.share ?? 0.1)) return;
    last = now;
  }
}
