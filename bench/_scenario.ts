/**
 * What every scenario receives and returns.
 * @module
 */

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
  /** A fresh tag for names, so that no run reuses another's. */
  tag: string;
  /** Where servers write V8 CPU profiles (`--cpu-prof`); none when undefined. */
  profileDir?: string;
  /** Prints a progress line. */
  log: (line: string) => void;
  /** Extra `serve` arguments for {@linkcode withServer} (e.g. `--redis URL`). */
  serverArgs?: string[];
  /** Another checkout whose server and `join` the client scenario runs (the "before" figures). */
  clientRoot?: string;
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
 * `BENCH_LIMITS` (`{}`: the defaults); another checkout whose server to run.
 * @returns What `fn` returned.
 */
export async function withServer<T>(
  ctx: BenchContext,
  fn: (server: BenchServer) => Promise<T>,
  options: {
    videos?: { dir: string; title: string };
    limits?: Record<string, number>;
    root?: string;
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
