/**
 * What every scenario receives and returns.
 * @module
 */

import type { ServerLimits } from "../server/limits.ts";
import { type BenchServer, startBenchServer } from "./_server.ts";

/** Shared settings of one bench run. */
export interface BenchContext {
  /** Quick mode: tiny N, one repetition, for CI. */
  quick: boolean;
  /** Repetitions of each measurement. */
  reps: number;
  /** The bench cache folder (title and prepared segments). */
  cache: string;
  /** The folder holding the bench title. */
  videos: string;
  /** The bench title's source file (for the ffmpeg baseline). */
  file: string;
  /** Viewer worker threads; 0 picks by N. */
  workers: number;
  /** Scenario 1's viewer counts (`--viewers`), instead of the ramp; undefined: the ramp. */
  viewerCounts?: readonly number[];
  /** A fresh tag for names, so that no run reuses another's. */
  tag: string;
  /**
   * Whether the side-by-side scenarios (nginx, nats) and the cluster run, installing a missing
   * engine with apt-get: in full mode and when `--only` names scenarios. Plain quick mode skips
   * them, so that it stays about a minute.
   */
  peers: boolean;
  /**
   * The longest wait for a quiet moment before a measurement window, ms (0 in quick mode, whose
   * figures only check that the pieces work).
   */
  quietMs: number;
  /** Where servers write V8 CPU profiles (`--cpu-prof`); none when undefined. */
  profileDir?: string;
  /** Prints a progress line. */
  log: (line: string) => void;
  /** Extra `serve` arguments for {@linkcode withServer} (e.g. `--redis URL`). */
  serverArgs?: string[];
  /**
   * Another checkout whose server scenarios 1 (and so nginx's ratios), 10 (its peerstream runs)
   * and 12 run, and whose `join` scenario 12 runs: the "before" figures. Scenarios 1 and 10 drive
   * it with this checkout's load clients, so it must speak the same protocol version.
   */
  clientRoot?: string;
}

/**
 * How a metric is judged against its target (reported, never asserted): one summary statistic
 * against a bound, or a plain reason why this run cannot judge it.
 */
export interface Goal {
  /** The summary statistic compared with the bound. */
  stat: "median" | "p99" | "min" | "max";
  /** The statistic must be at most this. */
  atMost?: number;
  /** The statistic must be at least this. */
  atLeast?: number;
  /**
   * Why this run cannot judge the target, e.g. quick mode's small N; the table says so instead of
   * met or missed.
   */
  notTested?: string;
  /** One clause on what the scenario saw, printed after a miss (e.g. the load thread's CPU). */
  why?: string;
}

/** One measured quantity: one value per repetition (or per sample). */
export interface Metric {
  /** What was measured. */
  name: string;
  /** Its unit. */
  unit: string;
  /** The values. */
  values: number[];
  /** The target from the issue, as text (reported, never asserted). */
  target?: string;
  /** How the target is judged; without it a target is only printed. */
  goal?: Goal;
  /** For a row without a goal: one clause on which side limited it (server, load, cap). */
  limit?: string;
}

/** A scenario's results. */
export interface ScenarioResult {
  /** Short id, as given to `--only`. */
  id: string;
  /** Title for the table. */
  title: string;
  /** Measurements. */
  metrics: Metric[];
  /** Real failures (lost or duplicated messages, bytes after a STOP ack, crashes). */
  failures: string[];
  /** Remarks printed under the table. */
  notes: string[];
  /** Extra detail for results.json. */
  detail?: Record<string, unknown>;
}

/**
 * Runs `fn` against a fresh server and always stops it.
 *
 * @param ctx The bench context.
 * @param fn The measurement.
 * @param options Another videos folder and the title to wait for; the server's limits instead of
 * `BENCH_LIMITS` (`{}`: the defaults); another checkout whose server to run; extra `deno run`
 * flags for it (e.g. `--v8-flags=…`).
 * @returns What `fn` returned.
 */
export async function withServer<T>(
  ctx: BenchContext,
  fn: (server: BenchServer) => Promise<T>,
  options: {
    videos?: { dir: string; title: string };
    limits?: Readonly<Partial<ServerLimits>>;
    root?: string;
    denoArgs?: string[];
  } = {},
): Promise<T> {
  const server = await startBenchServer({
    cache: ctx.cache,
    videos: options.videos?.dir ?? ctx.videos,
    title: options.videos?.title,
    profileDir: ctx.profileDir,
    limits: options.limits,
    root: options.root,
    args: ctx.serverArgs,
    denoArgs: options.denoArgs,
  });
  try {
    return await fn(server);
  } finally {
    const code = await server.stop();
    if (code !== 0) {
      ctx.log(
        `server exited with code ${code}; last log lines:\n${server.log.slice(-20).join("\n")}`,
      );
    }
  }
}

/**
 * The title suffix of a scenario whose peerstream server comes from another checkout.
 *
 * @param ctx The bench context.
 * @param what What comes from there.
 * @returns ` (server from DIR)`, or nothing without `--client-root`.
 */
export function fromRoot(ctx: BenchContext, what = "server"): string {
  return ctx.clientRoot === undefined ? "" : ` (${what} from ${ctx.clientRoot})`;
}

/**
 * Fresh names for `count` clients.
 *
 * @param ctx The context (its tag keeps names unique per run).
 * @param prefix A letter or two.
 * @param count How many.
 * @returns The names.
 */
export function names(ctx: BenchContext, prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${ctx.tag}-${i}`);
}
