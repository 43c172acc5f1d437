/**
 * A session's connection: the read loop (frames decoded and handed on one by one, at once), a
 * bounded write chain (one write in flight, in order; a server that never reads is left), and the
 * keepalive (a ping after silence, given up after longer silence) on an injected clock.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { FrameTooLargeError } from "../../protocol/frame.ts";
import {
  type ClientMessage,
  decodeMessage,
  encodeMessage,
  type Message,
} from "../../protocol/messages.ts";
import type { ByteTransport } from "../transport.ts";
import type { SessionClock } from "./clock.ts";
import { type Greeted, oversizedFrameMessage } from "./greeting.ts";

/** The bounds a connection keeps; see `CLIENT_LIMITS` in `limits.ts`. */
export interface ConnectionLimits {
  /** Bytes waiting to be written; more means the server does not read, and the client leaves. */
  maxQueuedBytes: number;
  /** Silence from the server after which the client pings it, ms. */
  keepaliveMs: number;
  /** Silence from the server after which the client gives up on it, ms. */
  silenceMs: number;
}

/** How the connection ended. */
export interface ConnectionEnd {
  /** After QUIT (or `close()`), with nothing wrong. */
  expected: boolean;
  /** Why it ended, e.g. `the server closed the connection`. */
  message: string;
  /** The whole error when the server sent something no peerstream server sends; else undefined. */
  broken?: string;
}

/** Options for {@linkcode Connection}. */
export interface ConnectionOptions {
  /** The bounds. */
  limits: ConnectionLimits;
  /** The clock the keepalive runs on. */
  clock: SessionClock;
  /** Handles one decoded message, at once; it must not wait. */
  receive(message: Message): void;
  /** The id of the next ping (ids are shared with requests). */
  nextId(): number;
  /** Called once when the read loop ends, after the transport is closed; awaited by `done`. */
  ended(end: ConnectionEnd): Promise<void> | void;
}

const lostErrors = new WeakSet<object>();

/**
 * The error that requests waiting when a connection ends are failed with; marked, so that
 * {@linkcode isConnectionLost} tells it apart.
 *
 * @param end How the connection ended.
 * @returns `BAD_FRAME` with the whole sentence when the server broke the protocol, else
 * `UNAVAILABLE` `Lost connection to the server: …`.
 */
export function lostConnectionError(end: ConnectionEnd): PeerstreamError {
  const error = end.broken !== undefined
    ? new PeerstreamError("BAD_FRAME", end.broken)
    : new PeerstreamError("UNAVAILABLE", `Lost connection to the server: ${end.message}`);
  lostErrors.add(error);
  return error;
}

/**
 * Whether a request failed only because the connection was lost: `closed` reports that once, so
 * a caller need not show each request's failure too.
 *
 * @param error What a request rejected with.
 * @returns True for the error requests get when the connection ends under them.
 */
export function isConnectionLost(error: unknown): boolean {
  return typeof error === "object" && error !== null && lostErrors.has(error);
}

/** One greeted transport: reads, writes and keepalive. */
export class Connection {
  readonly #transport: ByteTransport;
  readonly #greeted: Greeted;
  readonly #options: ConnectionOptions;
  #closing = false;
  #closed = false;
  /** Why the client itself gave up on the connection, if it did. */
  #failure = "";
  #writeChain: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  #lastReadAt: number;
  #pinged = false;
  #stopKeepalive: () => void;
  #reading?: Promise<void>;
  /** Bytes received from the server. */
  bytesRead = 0;

  /**
   * Starts the keepalive; {@linkcode start} starts reading.
   *
   * @param transport The transport, greeted.
   * @param greeted The greeting's decoder and the frames behind it.
   * @param options Bounds, clock and callbacks.
   */
  constructor(transport: ByteTransport, greeted: Greeted, options: ConnectionOptions) {
    this.#transport = transport;
    this.#greeted = greeted;
    this.#options = options;
    this.#lastReadAt = options.clock.now();
    const { keepaliveMs } = options.limits;
    const every = Math.max(10, Math.min(keepaliveMs / 3, 10_000));
    this.#stopKeepalive = options.clock.every(every, () => this.#checkSilence());
  }

  /**
   * Starts the read loop: the frames that followed the greeting are handled before this returns.
   *
   * @returns Resolves once the connection has closed and `ended` has run.
   */
  start(): Promise<void> {
    this.#reading ??= this.#readLoop();
    return this.#reading;
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the end is expected (QUIT, `close()`, the server's `shutdown`). */
  get closing(): boolean {
    return this.#closing;
  }

  /** The server announced its shutdown: the end that follows is expected. */
  expectEnd(): void {
    this.#closing = true;
  }

  /**
   * Queues a message behind those already queued. Past `maxQueuedBytes` waiting, the server is
   * not reading: the connection closes and says so.
   *
   * @param message What to send.
   */
  send(message: ClientMessage): void {
    const bytes = encodeMessage(message);
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > this.#options.limits.maxQueuedBytes) {
      // Pings keep coming while our pongs pile up: a server that never reads.
      this.#failure ||=
        `the server does not read what this client sends (${this.#queuedBytes} bytes waiting)`;
      this.close();
      return;
    }
    this.#writeChain = this.#writeChain.then(async () => {
      let at = 0;
      while (at < bytes.length) at += await this.#transport.write(bytes.subarray(at));
    }).catch(() => {
      // A failed write surfaces as a closed connection in the read loop.
    }).finally(() => {
      this.#queuedBytes -= bytes.length;
    });
  }

  /** Says goodbye, waits for it to be written, closes and waits for the end. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    try {
      this.send({ type: "quit" });
      await this.#writeChain;
    } catch {
      // The server is gone already.
    }
    this.close();
    await this.#reading;
  }

  /** Closes the transport without a goodbye; the read loop then ends. */
  close(): void {
    this.#closing = true;
    this.#stopKeepalive();
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#transport.close();
    } catch {
      // Already closed.
    }
  }

  async #readLoop() {
    const buffer = new Uint8Array(64 * 1024);
    const { decoder, rest } = this.#greeted;
    let failure = "";
    let broken: string | undefined;
    try {
      for (const frame of rest) this.#options.receive(decodeMessage(frame));
      while (true) {
        const n = await this.#transport.read(buffer);
        if (n === null) break;
        this.bytesRead += n;
        this.#lastReadAt = this.#options.clock.now();
        this.#pinged = false;
        for (const frame of decoder.push(buffer.subarray(0, n))) {
          this.#options.receive(decodeMessage(frame));
        }
      }
    } catch (error) {
      if (error instanceof FrameTooLargeError) broken = oversizedFrameMessage(error);
      if (!this.#closing) failure = (error as Error).message;
    } finally {
      await this.#end(failure, broken);
    }
  }

  async #end(readFailure: string, broken?: string) {
    const failure = this.#failure || readFailure;
    // Decide before close(), which marks the connection as closing.
    const expected = this.#closing && failure === "";
    this.close();
    const message = failure || "the server closed the connection";
    await this.#options.ended({ expected, message, broken });
  }

  /**
   * Pings a server that has been silent for `keepaliveMs`, and gives up on one silent for
   * `silenceMs`: without it a server that vanished without closing (power cut, cable) would only
   * be noticed at the next request.
   */
  #checkSilence() {
    if (this.#closed) return;
    const { keepaliveMs, silenceMs } = this.#options.limits;
    const silent = this.#options.clock.now() - this.#lastReadAt;
    if (silent > silenceMs) {
      this.#failure ||= `the server sent nothing for ${Math.round(silent / 1000)} s`;
      this.close();
    } else if (silent > keepaliveMs && !this.#pinged) {
      this.#pinged = true;
      this.send({ type: "ping", id: this.#options.nextId() });
    }
  }
}
