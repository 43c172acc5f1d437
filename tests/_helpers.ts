/**
 * Helpers for end-to-end tests: real server and client processes on loopback, and in-process
 * clients, every wait bounded by a deadline.
 * @module
 */

import { generateIdentity, type Identity } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import {
  decodeMessage,
  type LeaveReason,
  type SegmentMessage,
  type StreamEndMessage,
} from "../protocol/messages.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import type { ClientSession, IncomingMessage } from "../client/session.ts";
import { connectSession } from "../client/connect.ts";
import type { ByteTransport } from "../client/transport.ts";
import { until } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * The V8 flags `serve` runs with (the `serve` and `compile` tasks): the old generation grows by
 * 25 % between full collections instead of V8's up to 4x, so that a server holding thousands of
 * connections stays near its live memory (docs/benchmarks-history.md, issue 12).
 */
export const SERVER_V8_FLAGS = ["--v8-flags=--heap-growing-percent=25,--max-semi-space-size=16"];

/**
 * The permissions the program runs with (the same as the compiled binary), and `--unstable-net`,
 * which `serve --reuse-port` needs (as the tasks and the compiled binary have it).
 */
export const PROGRAM_PERMISSIONS = [
  "--unstable-net",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys=hostname,networkInterfaces",
];

/**
 * Frees a name with the operator's `serve --release` on a data folder (no server running on it,
 * or one that applies it).
 *
 * @param data The server's `--data` folder.
 * @param name The name to free.
 */
export async function releaseName(data: string, name: string): Promise<void> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PROGRAM_PERMISSIONS,
      `${ROOT}main.ts`,
      "serve",
      "--release",
      name,
      "--data",
      data,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (result.code !== 0) {
    throw new Error(
      `serve --release ${name} exited ${result.code}: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
}

/** A cache of generated and prepared samples shared by the test files of one run. */
export const TEST_CACHE = Deno.env.get("PEERSTREAM_TEST_CACHE") ??
  `${Deno.env.get("TMPDIR") ?? "/tmp"}/peerstream-test-cache`;

/** Collects a child's output lines and lets a test wait for one. */
export class LineReader {
  readonly lines: string[] = [];
  #waiters: {
    re: RegExp;
    from: number;
    resolve: (line: string) => void;
    reject: (error: Error) => void;
  }[] = [];
  #ended = false;
  readonly done: Promise<void>;

  /** @param stream The child's stdout or stderr. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>) {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#add(line);
    }
    if (rest !== "") this.#add(rest);
    // No line can match any more: a child that exits early fails its waits at once.
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new Error(`No line matching ${waiter.re}: the stream ended`));
    }
  }

  #add(line: string) {
    this.lines.push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.re.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /**
   * Waits for a line matching `re`, among lines from index `from` on.
   *
   * @param re The pattern.
   * @param options Deadline (ms) and where to start looking.
   * @returns The line.
   */
  waitFor(re: RegExp, options: { timeoutMs?: number; from?: number } = {}): Promise<string> {
    const from = options.from ?? 0;
    const found = this.lines.slice(from).find((line) => re.test(line));
    if (found !== undefined) return Promise.resolve(found);
    if (this.#ended) {
      return Promise.reject(new Error(`No line matching ${re}: the stream ended`));
    }
    // Generous: a loaded 2-core machine can take seconds to start a child or make keys.
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `No line matching ${re} within ${timeoutMs} ms; got:\n${this.lines.join("\n")}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        re,
        from,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

/** A running `peerstream serve` process. */
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

/**
 * Waits until the server lists titles and all of them are prepared.
 *
 * @param port The server's port.
 * @param timeoutMs Deadline.
 * @param hostname The server's address (a shaped link's host side).
 */
export async function waitForReady(
  port: number,
  timeoutMs = 120_000,
  hostname = "127.0.0.1",
): Promise<void> {
  const client = await connectClient(port, `probe${crypto.randomUUID().slice(0, 8)}`, { hostname });
  try {
    await until(async () => {
      try {
        const videos = await client.session.list();
        return videos.length > 0 && videos.every((v) => v.state !== "preparing");
      } catch (error) {
        if (!(error instanceof PeerstreamError && error.code === "VIDEO_NOT_READY")) throw error;
        return false;
      }
    }, { ms: timeoutMs, what: "every title to be prepared", everyMs: 250 });
  } finally {
    await client.session.quit();
  }
}

/** Every event an in-process client saw, in order. */
export type ClientEvent =
  | { kind: "joined"; name: string }
  | { kind: "left"; name: string; reason: LeaveReason }
  | { kind: "message"; message: IncomingMessage }
  | { kind: "warning"; text: string; code: string }
  | { kind: "segment"; segment: SegmentMessage }
  | { kind: "stream-end"; end: StreamEndMessage }
  | { kind: "shutdown"; message: string }
  | { kind: "server-error"; code: string; message: string }
  | { kind: "closed"; expected: boolean; message: string }
  | { kind: "queue-notice"; notice: "delivered" | "expired"; to: string; qseq: number };

/**
 * How fast an in-process client reads its socket, bytes per second (`Infinity`: as fast as it
 * can). Tests change it while a stream runs to make a slow link.
 */
export interface ReadThrottle {
  bytesPerSecond: number;
}

/**
 * Wraps a transport so that reads take as long as `throttle` says: a slow link, seen by the
 * server as late acknowledgements.
 *
 * @param transport The socket.
 * @param throttle The rate, changeable at any time.
 * @returns The slowed transport.
 */
export function throttledTransport(
  transport: ByteTransport,
  throttle: ReadThrottle,
): ByteTransport {
  return {
    async read(buffer) {
      // Small reads, so that the rate applies smoothly.
      const limit = throttle.bytesPerSecond === Infinity
        ? buffer.length
        : Math.min(buffer.length, 16 * 1024);
      const n = await transport.read(buffer.subarray(0, limit));
      if (n !== null && throttle.bytesPerSecond !== Infinity) {
        await new Promise((resolve) => setTimeout(resolve, (n / throttle.bytesPerSecond) * 1000));
      }
      return n;
    },
    write: (bytes) => transport.write(bytes),
    close: () => transport.close(),
  };
}

/** An in-process client and what it saw. */
export interface TestClient {
  session: ClientSession;
  identity: Identity;
  events: ClientEvent[];
  /** How fast it reads its socket. */
  throttle: ReadThrottle;
  /**
   * With `tap`: every message the server sent, in the order it was read off the socket (type and
   * stream only), whatever the session then did with it. Empty without `tap`.
   */
  wire: WireRecord[];
  /** Waits for an event matching the predicate (looking at past events too). */
  waitFor(predicate: (event: ClientEvent) => boolean, timeoutMs?: number): Promise<ClientEvent>;
}

const identities: Identity[] = [];

/** One message read off a tapped client's socket. */
export interface WireRecord {
  /** The message type. */
  type: string;
  /** Its stream, for stream messages. */
  streamId?: number;
}

/**
 * Wraps a transport so that every message read is decoded and recorded: what the server sent,
 * before the session's own filtering (it drops media of a stream it no longer plays).
 *
 * @param transport The socket.
 * @param wire Where the records go.
 * @returns The tapped transport.
 */
function tappedTransport(transport: ByteTransport, wire: WireRecord[]): ByteTransport {
  const decoder = new FrameDecoder();
  return {
    write: (bytes) => transport.write(bytes),
    close: () => transport.close(),
    async read(buffer) {
      const n = await transport.read(buffer);
      if (n === null) return n;
      for (const frame of decoder.push(buffer.slice(0, n))) {
        const message = decodeMessage(frame);
        const streamId = "streamId" in message ? Number(message.streamId) : undefined;
        wire.push({ type: message.type, ...(streamId === undefined ? {} : { streamId }) });
      }
      return n;
    },
  };
}

/**
 * Connects and registers an in-process client.
 *
 * @param port The server's port.
 * @param name The name.
 * @param options A fixed identity, to reuse keys.
 * @returns The client.
 */
export async function connectClient(
  port: number,
  name: string,
  options: { identity?: Identity; hostname?: string; ephemeral?: boolean; tap?: boolean } = {},
): Promise<TestClient> {
  const throttle: ReadThrottle = { bytesPerSecond: Infinity };
  const wire: WireRecord[] = [];
  const events: ClientEvent[] = [];
  const waiters: { predicate: (e: ClientEvent) => boolean; resolve: (e: ClientEvent) => void }[] =
    [];
  const push = (event: ClientEvent) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  };
  const session = await connectSession({
    hostname: options.hostname ?? "127.0.0.1",
    port,
    wrap: (transport) => {
      const slowed = throttledTransport(transport, throttle);
      return options.tap ? tappedTransport(slowed, wire) : slowed;
    },
    events: {
      joined: (n) => push({ kind: "joined", name: n }),
      left: (n, reason) => push({ kind: "left", name: n, reason }),
      message: (message) => push({ kind: "message", message }),
      warning: (text, code) => push({ kind: "warning", text, code }),
      segment: (segment) => push({ kind: "segment", segment }),
      streamEnd: (end) => push({ kind: "stream-end", end }),
      shutdown: (message) => push({ kind: "shutdown", message }),
      serverError: (code, message) => push({ kind: "server-error", code, message }),
      closed: (info) => push({ kind: "closed", ...info }),
      queueNotice: (notice, to, qseq) => push({ kind: "queue-notice", notice, to, qseq }),
    },
  });
  const identity = options.identity ?? identities.pop() ?? await generateIdentity();
  await session.register(name, identity, { ephemeral: options.ephemeral });
  return {
    session,
    identity,
    events,
    throttle,
    wire,
    waitFor(predicate, timeoutMs = 30_000) {
      const found = events.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(`No matching event within ${timeoutMs} ms; saw ${JSON.stringify(events)}`),
          );
        }, timeoutMs);
        const waiter = {
          predicate,
          resolve: (e: ClientEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        waiters.push(waiter);
      });
    },
  };
}

/**
 * Environment that points a child's HOME and XDG folders into `home`, so that nothing it writes
 * leaks between tests, while it keeps the shared Deno cache.
 *
 * @param home A fresh folder.
 * @returns The variables.
 */
export function homeEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    XDG_CONFIG_HOME: `${home}/.config`,
    XDG_CACHE_HOME: `${home}/.cache`,
    XDG_DATA_HOME: `${home}/.local/share`,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
  };
}

/**
 * The command line of a `peerstream join` of a loopback server: `deno run` with the program's
 * permissions.
 *
 * @param port The server's port.
 * @param name The name to join as.
 * @param options Extra `join` arguments (default `--player none`), another checkout's `main.ts`.
 * @returns The program and its arguments.
 */
function joinCommand(
  port: number,
  name: string,
  options: { args?: string[]; main?: string; host?: string; wrap?: readonly string[] },
): string[] {
  return [
    ...(options.wrap ?? []),
    Deno.execPath(),
    "run",
    ...PROGRAM_PERMISSIONS,
    options.main ?? `${ROOT}main.ts`,
    "join",
    "--name",
    name,
    "--server",
    `${options.host ?? "127.0.0.1"}:${port}`,
    ...(options.args ?? ["--player", "none"]),
  ];
}

/** A `peerstream join` process driven through stdin and stdout. */
export interface CliClient {
  child: Deno.ChildProcess;
  out: LineReader;
  err: LineReader;
  /** Types a line. */
  type(line: string): Promise<void>;
  /** Closes stdin and waits for the exit code (killing after a deadline). */
  finish(timeoutMs?: number): Promise<number>;
  /** The config folder (fresh per client). */
  home: string;
}

/**
 * Starts `main.ts join` with a fresh HOME and working folder.
 *
 * @param port The server's port.
 * @param name The name.
 * @param options Extra arguments; `home` to reuse folders; `main` to run another program (the bundle).
 * @returns The client, once it printed "Joined" (unless `waitJoined` is false).
 */
export async function startCli(
  port: number,
  name: string,
  options: {
    args?: string[];
    waitJoined?: boolean;
    home?: string;
    env?: Record<string, string>;
    /** Another checkout's `main.ts` (the bench's "before" figures). */
    main?: string;
    /** The server's address. @default {"127.0.0.1"} */
    host?: string;
    /** A prefix the client runs under, e.g. `ip netns exec NS` (a shaped link). @default {[]} */
    wrap?: readonly string[];
  } = {},
): Promise<CliClient> {
  const home = options.home ?? await Deno.makeTempDir({ prefix: "peerstream-home-" });
  const [program, ...args] = joinCommand(port, name, options);
  const child = new Deno.Command(program, {
    args,
    cwd: home,
    env: { NO_COLOR: "1", ...homeEnv(home), ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const out = new LineReader(child.stdout);
  const err = new LineReader(child.stderr);
  const client: CliClient = {
    child,
    out,
    err,
    home,
    async type(line) {
      await writer.write(new TextEncoder().encode(`${line}\n`));
    },
    async finish(timeoutMs = 30_000) {
      try {
        await writer.close();
      } catch {
        // Already closed.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
      }, timeoutMs);
      const status = await child.status;
      clearTimeout(timer);
      await Promise.all([out.done, err.done]);
      return status.code;
    },
  };
  if (options.waitJoined !== false) {
    try {
      await out.waitFor(/^Joined /, { timeoutMs: 20_000 });
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited already (e.g. refused by the server): its stderr says why.
      }
      await client.finish();
      throw new Error(`${(error as Error).message}\nstderr:\n${err.lines.join("\n")}`);
    }
  }
  return client;
}

/** What a program showed on a pseudo-terminal, and a way to wait for text in it. */
export class PtyScreen {
  /** Everything it wrote, escape sequences included (colour checks). */
  raw = "";
  /** The same without escape sequences, carriage returns as line breaks (what a person reads). */
  text = "";
  #waiters: { re: RegExp; from: number; resolve: () => void }[] = [];
  /** Resolves when the output ends. */
  readonly done: Promise<void>;

  /** @param stream The pty's output. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.raw += chunk;
        // deno-lint-ignore no-control-regex -- stripping terminal escapes
        this.text += chunk.replace(/\x1b\[[0-9;?]*[A-Za-z~]/g, "").replace(/\r/g, "\n");
        for (const w of [...this.#waiters]) {
          if (w.re.test(this.text.slice(w.from))) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    })();
  }

  /**
   * Waits for `re` in the text shown from `from` on.
   *
   * @param re What to wait for.
   * @param timeoutMs The deadline. @default {20000}
   * @param from Where in {@linkcode PtyScreen.text} to look from. @default {the end so far}
   */
  waitFor(re: RegExp, timeoutMs = 20_000, from: number = this.text.length): Promise<void> {
    if (re.test(this.text.slice(from))) return Promise.resolve();
    const found = new Promise<void>((resolve) => this.#waiters.push({ re, from, resolve }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Timed out after ${timeoutMs} ms: ${re} on the screen; it shows:\n${
                this.text.slice(-2000)
              }`,
            ),
          ),
        timeoutMs,
      );
    });
    return Promise.race([found, late]).finally(() => clearTimeout(timer));
  }
}

/** A `peerstream join` on a pseudo-terminal. */
export interface PtyClient {
  /** The `script` process that holds the pty. */
  child: Deno.ChildProcess;
  /** What the client showed. */
  screen: PtyScreen;
  /** Types keys: `\r` is Enter, `\x03` Ctrl-C, `\x04` Ctrl-D. */
  type(keys: string): Promise<void>;
  /** Kills the client if it still runs, waits for it and removes its HOME. */
  finish(): Promise<void>;
}

/**
 * Starts `join` on a pseudo-terminal (util-linux `script`; the test fails if it is missing), so the
 * raw-mode line editor and colours run as a person meets them. The environment is given whole
 * (`PATH`, `TERM=xterm`, a fresh HOME and `env`), so that `NO_COLOR` is set only when asked.
 *
 * @param port The server's port.
 * @param name The name to join as.
 * @param options Extra `join` arguments (default `--player none`) and environment.
 * @returns The running client.
 */
export async function startPtyJoin(
  port: number,
  name: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<PtyClient> {
  const home = await Deno.makeTempDir({ prefix: "peerstream-pty-" });
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = joinCommand(port, name, options).map(quote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: home,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      TERM: "xterm",
      ...homeEnv(home),
      ...options.env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const screen = new PtyScreen(child.stdout);
  const errors = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  return {
    child,
    screen,
    type: (keys) => writer.write(new TextEncoder().encode(keys)),
    async finish() {
      await writer.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await screen.done;
      await errors;
      await Deno.remove(home, { recursive: true });
    },
  };
}
