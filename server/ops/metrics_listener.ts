/**
 * A deliberately small HTTP/1.1 listener for the operator's endpoints (`serve --metrics`): one
 * request per connection, its head read within {@linkcode MAX_HEAD_BYTES} and a deadline, a cap
 * on connections at once, and an accept loop that logs its errors and goes on, so that nothing a
 * client does can crash the process. The answers come from a plain handler
 * (`metrics_http.ts`), which the hardened web door can mount instead.
 * @module
 */

import { Acceptor, closeQuietly } from "../door/acceptor.ts";
import { encodeAnswer, type HttpAnswer, parseRequestHead } from "./metrics_http.ts";
import type { ServerLog } from "./server_log.ts";

/** Options for {@linkcode MetricsListener}. */
export interface MetricsListenerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Answers a request. */
  handler: (method: string, path: string) => Promise<HttpAnswer>;
  /** Where accept errors and refused requests go. */
  log: ServerLog;
  /** How long a client has to send its request head, ms. @default {5000} */
  headMs?: number;
  /** Connections served at once; more are closed at once. @default {32} */
  maxConnections?: number;
}

/** The pause after a failed accept, ms. */
const ACCEPT_BACKOFF_MS = 50;

/** The operator's endpoints on a port of their own. */
export class MetricsListener {
  readonly #options: MetricsListenerOptions;
  #acceptor?: Acceptor;
  readonly #open = new Set<Deno.Conn>();

  /** @param options Address, handler and bounds. */
  constructor(options: MetricsListenerOptions) {
    this.#options = options;
  }

  /**
   * Starts listening.
   *
   * @returns The bound address.
   * @throws {Deno.errors.AddrInUse} When the port is taken.
   */
  start(): Deno.NetAddr {
    const listener = Deno.listen({ hostname: this.#options.hostname, port: this.#options.port });
    this.#acceptor = new Acceptor(listener, {
      serve: (conn) => this.#serveAccepted(conn),
      failed: (error) =>
        this.#options.log.limited(
          "metrics accept",
          `metrics: accept failed: ${(error as Error).message}`,
          { event: "metrics-accept-failed", level: "warn" },
        ),
      backoff: { firstDelayMs: ACCEPT_BACKOFF_MS, maxDelayMs: ACCEPT_BACKOFF_MS },
    });
    return this.#acceptor.addr;
  }

  /** Stops listening and closes the connections being served. */
  async close(): Promise<void> {
    this.#acceptor?.stop();
    for (const conn of this.#open) closeQuietly(conn);
    await this.#acceptor?.done();
  }

  #serveAccepted(conn: Deno.Conn) {
    if (this.#open.size >= (this.#options.maxConnections ?? 32)) {
      closeQuietly(conn);
      return;
    }
    this.#open.add(conn);
    this.#serve(conn).catch((error) => {
      this.#options.log.error("metrics", "metrics: internal error", error);
    }).finally(() => {
      this.#open.delete(conn);
      closeQuietly(conn);
    });
  }

  async #serve(conn: Deno.Conn) {
    const timer = setTimeout(() => closeQuietly(conn), this.#options.headMs ?? 5000);
    try {
      let head;
      try {
        head = await readHead(conn);
      } catch (error) {
        if (!(error instanceof RangeError || error instanceof SyntaxError)) return;
        const status = error instanceof RangeError ? 431 : 400;
        await writeAll(conn, encodeAnswer({ status, headers: {}, body: `${error.message}\n` }));
        return;
      }
      if (head === null) return;
      const answer = await this.#options.handler(head.method, head.path);
      await writeAll(conn, encodeAnswer(answer, head.method));
    } catch {
      // The client went away or the deadline closed it: nothing to answer.
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Reads until the request head is complete; null when the client closes first. */
async function readHead(conn: Deno.Conn) {
  const buffer = new Uint8Array(9 * 1024);
  let filled = 0;
  while (true) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return null;
    filled += n;
    const head = parseRequestHead(buffer.subarray(0, filled));
    if (head !== null) return head;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}
