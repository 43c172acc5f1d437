/**
 * The web door: an HTTP/1.1 server the peerstream server fully controls, for `serve --web`. Its
 * own accept loop on `Deno.listen`/`Deno.listenTls` never dies on an accept error (out of file
 * descriptors, it refuses with a spare descriptor, logs once in a while, backs off and recovers);
 * each connection is admitted (counted against the server's connection limits) the moment it is
 * accepted, until its socket is closed; every phase has a deadline (TLS handshake, request head,
 * idle keep-alive, response write); a request head is bounded; responses are written directly.
 *
 * What to answer is a plain handler, `(request head) => response`, so that other endpoints can be
 * mounted; an answer may take the socket over (the WebSocket upgrade).
 *
 * Why not `Deno.serve`: it has no connection cap and its accept loop throws at the file limit,
 * taking the process down; it cannot count a connection from accept, nor bound the TLS handshake.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { Acceptor, closeQuietly } from "./acceptor.ts";
import { isPeerGone } from "./connection.ts";
import {
  encodeResponse,
  headEnd,
  type HttpResponse,
  keepsAlive,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
} from "./http_head.ts";
import type { ServerLimits } from "../limits.ts";
import type { ServerLog } from "../ops/server_log.ts";
import { acceptTls, type DoorConn, secureContext } from "./tls_conn.ts";
import type { SecureContext } from "node:tls";

/** The deadlines and bounds the door applies. */
export type DoorLimits = Pick<
  ServerLimits,
  | "webTlsHandshakeMs"
  | "webRequestHeadMs"
  | "webKeepAliveMs"
  | "webRequestsPerConnection"
  | "webResponseMs"
>;

/** A socket an answer took over, with what arrived after the request head. */
export interface TakenSocket {
  /** The connection (TCP, or TLS over it); the taker closes it. */
  conn: DoorConn;
  /** Bytes received after the request head. */
  rest: Uint8Array;
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** Uncounts the connection; call once its socket is closed (idempotent, so may come sooner). */
  release: () => void;
}

/** What a handler answers: a response, and optionally a taker of the socket once it is written. */
export interface HttpAnswer extends HttpResponse {
  /** Takes the socket after the response is written (e.g. a 101 upgrade). */
  takeOver?: (socket: TakenSocket) => void;
}

/** Who is asking. */
export interface RequestInfo {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** Whether the connection is TLS. */
  secure: boolean;
}

/** Answers one request. */
export type HttpHandler = (
  request: RequestHead,
  info: RequestInfo,
) => HttpAnswer | Promise<HttpAnswer>;

/** Options for {@linkcode HttpDoor}. */
export interface HttpDoorOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** TLS certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Answers requests. */
  handler: HttpHandler;
  /**
   * Counts a new connection; returns its release, or undefined to refuse it (503).
   * @default {always admitted}
   */
  admit?: (addr: Deno.NetAddr) => (() => void) | undefined;
  /** The log; peers' mistakes go to `limited`, keyed by address and reason. */
  log: ServerLog;
  /** Deadlines and bounds. */
  limits: DoorLimits;
  /** Headers added to the door's own answers (400, 408, 431, 503). @default {{}} */
  headers?: Record<string, string>;
}

/** Refused connections waiting for their head (to say 503) at once, at most; others are closed. */
const MAX_REFUSING = 64;
/** How long a refused connection may take to send its head, ms. */
const REFUSE_HEAD_MS = 1000;
/** The pause after an accept error, ms. */
const ACCEPT_BACKOFF_MS = 100;

/** The deadlines of the door: a request head in time, a response taken in time. */
type _Phase = "request head" | "response";

/**
 * Raised inside the door when a phase's deadline passes: the head did not come in time
 * (`HANDSHAKE_TIMEOUT`) or the peer did not take the response (`SLOW_CONSUMER`).
 */
function _deadlineExceeded(phase: _Phase): PeerstreamError {
  const code = phase === "response" ? "SLOW_CONSUMER" : "HANDSHAKE_TIMEOUT";
  return new PeerstreamError(code, `${phase} deadline passed`);
}

function _isDeadline(error: unknown): boolean {
  return error instanceof PeerstreamError &&
    (error.code === "HANDSHAKE_TIMEOUT" || error.code === "SLOW_CONSUMER");
}

/** The web door: accepts, admits, reads heads, answers. */
export class HttpDoor {
  readonly #options: HttpDoorOptions;
  #acceptor?: Acceptor;
  #closing = false;
  readonly #open = new Set<DoorConn | Deno.Conn>();
  #context?: Promise<SecureContext>;
  readonly #serving = new Set<Promise<void>>();
  #refusing = 0;

  /** @param options Address, TLS, handler, admission, log and limits. */
  constructor(options: HttpDoorOptions) {
    this.#options = options;
  }

  /**
   * Starts listening.
   *
   * @returns The bound address.
   */
  start(): Deno.NetAddr {
    const { hostname, port, tls } = this.#options;
    // TLS runs over accepted TCP sockets (see tls_conn.ts), so that a deadline can close them.
    const listener = Deno.listen({ hostname, port });
    if (tls !== undefined) {
      this.#context = secureContext(tls);
      // A bad certificate fails here, at start, not at the first connection.
      this.#context.catch(() => {});
    }
    this.#acceptor = new Acceptor(listener, {
      serve: (conn) => this.#serveAccepted(conn),
      // Limited by the log's own budget: at the file limit every accept fails at once.
      failed: (error) =>
        this.#options.log.limited(
          "web accept",
          `web: cannot accept a connection: ${(error as Error).message}`,
        ),
      backoff: { firstDelayMs: ACCEPT_BACKOFF_MS, maxDelayMs: ACCEPT_BACKOFF_MS },
    });
    return this.addr;
  }

  /** The bound address, once started. */
  get addr(): Deno.NetAddr {
    if (this.#acceptor === undefined) throw new Error("The web door is not started");
    return this.#acceptor.addr;
  }

  /** Stops listening and closes every connection it still serves (not those taken over). */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#acceptor?.stop();
    for (const conn of this.#open) closeQuietly(conn);
    await this.#acceptor?.done();
    await Promise.all(this.#serving);
  }

  #serveAccepted(conn: Deno.Conn) {
    const serving = this.#serve(conn).catch((error) => {
      this.#options.log.line(`web: internal error: ${(error as Error).stack ?? error}`);
    });
    this.#serving.add(serving);
    serving.finally(() => this.#serving.delete(serving));
  }

  async #serve(tcp: Deno.Conn) {
    const remoteAddr = tcp.remoteAddr as Deno.NetAddr;
    const counted = this.#options.admit === undefined ? noop : this.#options.admit(remoteAddr);
    const admitted = counted !== undefined;
    const release = counted === undefined ? noop : once(counted);
    let conn: DoorConn | undefined = tcp as DoorConn;
    this.#open.add(tcp);
    let taken = false;
    try {
      if (!admitted) return await this.#refuse(conn, tcp);
      if (this.#context !== undefined) {
        conn = await this.#handshake(tcp);
        if (conn === undefined) return;
        this.#open.add(conn);
      }
      if (this.#closing) return;
      taken = await this.#requests(conn, remoteAddr, release);
    } finally {
      this.#open.delete(tcp);
      if (conn !== undefined) this.#open.delete(conn);
      if (!taken) {
        if (conn !== undefined) closeQuietly(conn);
        closeQuietly(tcp);
        release();
      }
    }
  }

  /**
   * Completes the TLS handshake within its deadline; logs a failure once in a while.
   *
   * @returns The TLS connection, or undefined when it failed (the socket is closed).
   */
  async #handshake(
    tcp: Deno.Conn,
    ms = this.#options.limits.webTlsHandshakeMs,
  ): Promise<DoorConn | undefined> {
    const host = (tcp.remoteAddr as Deno.NetAddr).hostname;
    try {
      return await acceptTls(tcp, { context: await this.#context!, timeoutMs: ms });
    } catch (error) {
      const why = error instanceof Deno.errors.TimedOut
        ? `no TLS handshake within ${ms} ms`
        : `TLS handshake failed: ${firstLine(error)}`;
      this.#options.log.limited(`web tls ${host}`, `web: closed ${host}: ${why}`);
      return undefined;
    }
  }

  /**
   * A refused connection: a short 503 if its TLS handshake and head come within a second (and
   * not too many are waiting), else just closed.
   */
  async #refuse(tcp: DoorConn, raw: Deno.Conn) {
    if (this.#refusing >= MAX_REFUSING || this.#closing) return;
    this.#refusing++;
    let conn: DoorConn | undefined = tcp;
    try {
      if (this.#context !== undefined) {
        conn = await this.#handshake(raw, REFUSE_HEAD_MS);
        if (conn === undefined) return;
      }
      const reader = new HeadReader(conn);
      const head = await reader.next(REFUSE_HEAD_MS, REFUSE_HEAD_MS).catch(() => null);
      if (head === null) return;
      const body = "Server full: too many connections; try again later\n";
      await this.#write(
        conn,
        { status: 503, headers: { ...this.#plain(), "retry-after": "10" }, body },
        { head: head.method === "HEAD", keepAlive: false },
      );
    } catch (error) {
      if (!isPeerGone(error) && !_isDeadline(error)) throw error;
    } finally {
      this.#refusing--;
      if (conn !== undefined) closeQuietly(conn);
    }
  }

  /**
   * Answers requests until the peer is done, a deadline or bound is reached, or an answer takes
   * the socket over.
   *
   * @returns Whether the socket was taken over (and is no longer the door's to close).
   */
  async #requests(conn: DoorConn, remoteAddr: Deno.NetAddr, release: () => void) {
    const limits = this.#options.limits;
    const reader = new HeadReader(conn);
    const info = { remoteAddr, secure: this.#options.tls !== undefined };
    for (let served = 0; served < limits.webRequestsPerConnection; served++) {
      let head: RequestHead | null;
      try {
        head = await reader.next(
          served === 0 ? limits.webRequestHeadMs : limits.webKeepAliveMs,
          limits.webRequestHeadMs,
        );
      } catch (error) {
        await this.#badRequest(conn, remoteAddr, error);
        return false;
      }
      if (head === null) return false;
      const answer = await this.#options.handler(head, info);
      const keepAlive = keepsAlive(head) && served + 1 < limits.webRequestsPerConnection &&
        answer.takeOver === undefined;
      try {
        await this.#write(conn, answer, { head: head.method === "HEAD", keepAlive });
      } catch (error) {
        if (isPeerGone(error) || _isDeadline(error)) return false;
        throw error;
      }
      if (answer.takeOver !== undefined) {
        answer.takeOver({ conn, rest: reader.rest(), remoteAddr, release });
        return true;
      }
      if (!keepAlive) return false;
    }
    return false;
  }

  /** A head that was malformed, too large or too slow: say so if it helps, log once in a while. */
  async #badRequest(conn: DoorConn, from: Deno.NetAddr, error: unknown) {
    if (isPeerGone(error) || _isDeadline(error)) return;
    if (!(error instanceof SyntaxError) && !(error instanceof RangeError)) throw error;
    const status = error instanceof RangeError ? 431 : 400;
    this.#options.log.limited(
      `web bad-request ${from.hostname}`,
      `web: bad request from ${from.hostname}:${from.port}: ${error.message}`,
    );
    await this.#write(
      conn,
      { status, headers: this.#plain(), body: `${error.message}\n` },
      { head: false, keepAlive: false },
    ).catch(() => {});
  }

  #write(conn: DoorConn, response: HttpResponse, options: { head: boolean; keepAlive: boolean }) {
    const bytes = encodeResponse(response, options);
    return deadline(conn, writeAll(conn, bytes), this.#options.limits.webResponseMs, "response");
  }

  #plain(): Record<string, string> {
    return { ...this.#options.headers, "content-type": "text/plain; charset=utf-8" };
  }
}

/**
 * Reads request heads from one connection: at most {@linkcode MAX_HEAD_BYTES} each, keeping what
 * follows a head (a pipelined request, or a WebSocket's first frames).
 */
class HeadReader {
  readonly #conn: DoorConn;
  #buffer = new Uint8Array(1024);
  #length = 0;

  constructor(conn: DoorConn) {
    this.#conn = conn;
  }

  /**
   * The next head.
   *
   * @param firstByteMs How long to wait for its first byte.
   * @param headMs How long the whole head may take once it started (never later than
   * `firstByteMs` when no byte was waiting).
   * @returns The head, or null when the peer closed between requests.
   * @throws {PeerstreamError} `HANDSHAKE_TIMEOUT` when a deadline passed (the socket is closed).
   * @throws {RangeError} When the head is over the limit.
   * @throws {SyntaxError} When the head is malformed.
   */
  async next(firstByteMs: number, headMs: number): Promise<RequestHead | null> {
    const started = performance.now();
    let searched = 0;
    for (;;) {
      const end = headEnd(this.#buffer.subarray(0, this.#length), searched);
      if (end > 0) return this.#take(end);
      if (this.#length >= MAX_HEAD_BYTES) {
        throw new RangeError(
          `Cannot read the request: its head is over ${MAX_HEAD_BYTES} bytes; send fewer headers`,
        );
      }
      searched = Math.max(0, this.#length - 3);
      if (this.#length === this.#buffer.length) {
        const grown = new Uint8Array(Math.min(MAX_HEAD_BYTES, this.#buffer.length * 4));
        grown.set(this.#buffer);
        this.#buffer = grown;
      }
      const until = this.#length === 0 ? started + firstByteMs : started + headMs;
      const n = await deadline(
        this.#conn,
        this.#conn.read(this.#buffer.subarray(this.#length)),
        Math.max(0, until - performance.now()),
        "request head",
      );
      if (n === null) {
        if (this.#length === 0) return null;
        throw new SyntaxError("Connection closed in the middle of a request head");
      }
      this.#length += n;
    }
  }

  #take(end: number): RequestHead {
    const head = parseRequestHead(this.#buffer.subarray(0, end));
    this.#buffer.copyWithin(0, end, this.#length);
    this.#length -= end;
    return head;
  }

  /** What arrived after the last head. */
  rest(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

/**
 * Runs `work` on `conn` within `ms`; past it the socket is closed (which ends the work) and
 * a `_deadlineExceeded` error is thrown.
 */
async function deadline<T>(conn: DoorConn, work: Promise<T>, ms: number, phase: _Phase) {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    closeQuietly(conn);
  }, ms);
  try {
    const result = await work;
    // Closing may end the work quietly (a read gives null): still the deadline's doing.
    if (expired) throw _deadlineExceeded(phase);
    return result;
  } catch (error) {
    if (expired) throw _deadlineExceeded(phase);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(conn: DoorConn, bytes: Uint8Array) {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0].slice(0, 200);
}

const noop = () => {};

/** `fn` callable once; later calls do nothing. */
function once(fn: () => void): () => void {
  if (fn === noop) return noop;
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}
