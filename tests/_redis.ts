/**
 * A real `redis-server` for tests and the benchmark: one process on a free loopback port with its
 * own temporary data folder and config, which a test can stop, kill and start again on the same
 * port and data. It fails (never skips) when `redis-server` is missing: `./run test` installs it.
 *
 * Persistence, as in the documented deployment: `appendonly yes` with `appendfsync everysec` (a
 * crash of Redis loses at most about one second of writes; name bindings are the durable data),
 * and no RDB snapshots, so what survives a restart is exactly what the append-only file holds.
 *
 * It also speaks just enough RESP to ping the server and read `INFO` without a client library, so
 * that it stays independent of the client under test.
 * @module
 */

import { concat } from "../protocol/e2e.ts";

/** Options for {@linkcode RedisServer.start}. */
export interface RedisServerOptions {
  /** Extra config lines, e.g. `["maxclients 200"]`. @default {[]} */
  config?: string[];
  /** The most to wait for the server to answer PING, ms. @default {15000} */
  startTimeoutMs?: number;
}

/** The binary; `PEERSTREAM_REDIS_SERVER` points at another one. */
function redisBinary(): string {
  return Deno.env.get("PEERSTREAM_REDIS_SERVER") ?? "redis-server";
}

/** A free loopback TCP port (free when asked; the caller binds it soon after). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Encodes a RESP command.
 *
 * @param args The command and its arguments.
 * @returns The bytes to send.
 */
function encodeCommand(args: readonly string[]): Uint8Array {
  const encoder = new TextEncoder();
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  return encoder.encode(text);
}

/**
 * Sends one command on a fresh connection and returns the first reply as text (a simple string,
 * an error as `-ERR …`, or a bulk string's content).
 *
 * @param port The server's port.
 * @param args The command.
 * @param timeoutMs The deadline.
 * @returns The reply.
 */
export async function redisCommand(
  port: number,
  args: readonly string[],
  timeoutMs = 5_000,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const bytes = encodeCommand(args);
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    const chunks: Uint8Array[] = [];
    let text = "";
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`Redis on port ${port} closed before replying`);
      chunks.push(buffer.slice(0, n));
      text = new TextDecoder().decode(concat(chunks));
      const reply = parseReply(text);
      if (reply !== null) return reply;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/** The reply in `text` once complete, else null. Only simple, error, integer and bulk replies. */
function parseReply(text: string): string | null {
  const end = text.indexOf("\r\n");
  if (end < 0) return null;
  const head = text.slice(0, end);
  if (head[0] === "+" || head[0] === ":") return head.slice(1);
  if (head[0] === "-") return head;
  if (head[0] === "$") {
    const length = Number(head.slice(1));
    if (length < 0) return "";
    const body = new TextEncoder().encode(text.slice(end + 2));
    if (body.length < length + 2) return null;
    return new TextDecoder().decode(body.subarray(0, length));
  }
  throw new Error(`Unexpected reply from Redis: ${JSON.stringify(head.slice(0, 40))}`);
}

/**
 * Parses `INFO` text into fields.
 *
 * @param text The reply to `INFO`.
 * @returns Field name to value.
 */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0 && !line.startsWith("#")) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

/** A running (or stopped) `redis-server` owned by a test. */
export class RedisServer {
  /** The loopback port, the same across restarts. */
  readonly port: number;
  /** Its data folder (config, append-only file, log). */
  readonly dir: string;
  #child: Deno.ChildProcess | null = null;
  #options: RedisServerOptions;

  private constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.#options = options;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#child !== null;
  }

  /**
   * Starts a server on a free loopback port with a fresh data folder.
   *
   * @param options Extra config and the start deadline.
   * @returns The running server; call {@linkcode RedisServer.close} when done.
   * @throws {Error} When `redis-server` is missing or does not answer in time.
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await Deno.makeTempDir({ prefix: "peerstream-redis-" });
    let lastError: unknown;
    // A port found free may be taken before redis binds it: try a few.
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(freePort(), dir, options);
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop("SIGKILL");
        if (error instanceof Deno.errors.NotFound) break;
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (lastError instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot start "${redisBinary()}": not found; install it with "apt-get install redis-server" (./run test does)`,
        { cause: lastError },
      );
    }
    throw lastError;
  }

  /**
   * Starts the process again (after {@linkcode RedisServer.stop} or a kill) on the same port and
   * data folder; the append-only file brings the data back.
   */
  async restart(): Promise<void> {
    if (this.#child !== null) throw new Error("Redis is already running");
    const config = [
      `port ${this.port}`,
      "bind 127.0.0.1",
      `dir ${this.dir}`,
      "daemonize no",
      `logfile ${this.dir}/redis.log`,
      "appendonly yes",
      "appendfsync everysec",
      'save ""',
      ...(this.#options.config ?? []),
    ];
    await Deno.writeTextFile(`${this.dir}/redis.conf`, config.join("\n") + "\n");
    this.#child = new Deno.Command(redisBinary(), {
      args: [`${this.dir}/redis.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const child = this.#child;
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 15_000);
    let exited = false;
    child.status.then(() => exited = true);
    while (true) {
      try {
        if (await redisCommand(this.port, ["PING"], 1_000) === "PONG") return;
      } catch {
        // Not listening yet.
      }
      if (exited || Date.now() > deadline) {
        const log = await Deno.readTextFile(`${this.dir}/redis.log`).catch(() => "");
        await this.stop("SIGKILL");
        throw new Error(
          `Cannot start redis-server on port ${this.port}: ${
            exited ? "it exited" : "no answer to PING"
          }; its log:\n${log.split("\n").slice(-10).join("\n")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Stops the process and waits for it to exit. SIGTERM lets Redis flush its append-only file;
   * SIGKILL is a crash (up to a second of writes may be lost).
   *
   * @param signal How. @default {"SIGTERM"}
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
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
    await child.status;
    clearTimeout(timer);
  }

  /**
   * Sends one command and returns its reply as text (see {@linkcode redisCommand}).
   *
   * @param args The command.
   * @returns The reply.
   */
  command(...args: string[]): Promise<string> {
    return redisCommand(this.port, args);
  }

  /**
   * Reads `INFO` fields.
   *
   * @param section E.g. `cpu`, `stats`, `commandstats`. @default {"all"}
   * @returns Field name to value.
   */
  async info(section = "all"): Promise<Map<string, string>> {
    return parseInfo(await this.command("INFO", section));
  }

  /** Stops the server and removes its data folder. */
  async close(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
