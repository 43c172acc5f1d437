/**
 * A real `serve` process on an ephemeral loopback port for the end-to-end tests: its options, the
 * loopback limits it starts with, its output lines to wait on, and a stop that awaits it.
 * @module
 */

import { LineReader, PROGRAM_PERMISSIONS, ROOT, SERVER_V8_FLAGS, TEST_CACHE } from "./_program.ts";
import { waitForReady } from "./_test_client.ts";

export interface ServerProcess {
  /** The port it listens on. */
  port: number;
  /** Its stdout (log) lines. */
  out: LineReader;
  /** Its stderr lines. */
  err: LineReader;
  /** The child. */
  child: Deno.ChildProcess;
  /** Stops it (SIGTERM by default) and waits; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * The limits test servers run with unless a test gives its own `PEERSTREAM_LIMITS`: every test
 * client connects from 127.0.0.1, so the per-address limits a real server applies (64
 * connections, 20 connects/s in bursts of 64, 10 hellos/s in bursts of 30, 100 new names a day)
 * are lifted. Everything else, the
 * names per key and the relay budgets included, keeps its default. The hostile suites give their
 * own limits, or none lifted.
 */
export const LOOPBACK_LIMITS = {
  maxConnectionsPerAddress: 10_000,
  connectsPerAddressPerSecond: 100_000,
  connectBurstPerAddress: 100_000,
  hellosPerAddressPerSecond: 10_000,
  helloBurstPerAddress: 10_000,
  newNamesPerAddressPerDay: 1_000_000,
} as const;

/** Options for {@linkcode startServer}. */
export interface StartServerOptions {
  /** Extra `serve` arguments. */
  args?: string[];
  /** Extra environment; a `PEERSTREAM_LIMITS` here replaces {@linkcode LOOPBACK_LIMITS}. */
  env?: Record<string, string>;
  /** Cache folder. @default {TEST_CACHE} */
  cacheDir?: string;
  /** Wait until every title is prepared. @default {false} */
  waitReady?: boolean;
  /** Another checkout's `main.ts` (the bench's "before" figures). */
  main?: string;
  /** Extra `deno run` flags, before `main.ts` (e.g. `--cpu-prof`). @default {[]} */
  denoArgs?: string[];
  /** The working folder. */
  cwd?: string;
  /**
   * The data folder, kept after `stop` (a restart on the same data); a fresh one, removed on
   * `stop`, when absent.
   */
  data?: string;
}

/**
 * Starts `main.ts serve --port 0` on 127.0.0.1 and waits for "Listening on".
 *
 * @param options Arguments, environment and cache.
 * @returns The running server.
 */
export async function startServer(options: StartServerOptions = {}): Promise<ServerProcess> {
  const data = options.data ?? await Deno.makeTempDir({ prefix: "peerstream-data-" });
  const removeData = options.data === undefined;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PROGRAM_PERMISSIONS,
      // Another checkout's server runs as that checkout would (the "before" figures).
      ...(options.main === undefined ? SERVER_V8_FLAGS : []),
      ...(options.denoArgs ?? []),
      options.main ?? `${ROOT}main.ts`,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--cache",
      options.cacheDir ?? TEST_CACHE,
      "--data",
      data,
      ...(options.args ?? []),
    ],
    env: { NO_COLOR: "1", PEERSTREAM_LIMITS: JSON.stringify(LOOPBACK_LIMITS), ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new LineReader(child.stdout);
  const err = new LineReader(child.stderr);
  let line: string;
  try {
    // A text line, or the JSON line of `--log-format json`.
    line = await out.waitFor(/^(?:Listening on |\{.*"msg":"Listening on )/, { timeoutMs: 30_000 });
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
    await Promise.all([out.done, err.done]);
    if (removeData) await Deno.remove(data, { recursive: true }).catch(() => {});
    throw new Error(`Server did not start: ${(error as Error).message}\n${err.lines.join("\n")}`);
  }
  const port = Number(/Listening on [^\s"]*:(\d+)/.exec(line)![1]);
  let stopped: Promise<number> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
      }, 10_000);
      const status = await child.status;
      clearTimeout(timer);
      await Promise.all([out.done, err.done]);
      if (removeData) await Deno.remove(data, { recursive: true });
      return status.code;
    })();
    return stopped;
  };
  if (options.waitReady) {
    try {
      await waitForReady(port);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  return { port, out, err, child, stop };
}
