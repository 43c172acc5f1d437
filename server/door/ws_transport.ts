/**
 * A server-side WebSocket (RFC 6455) over a raw socket, as a {@linkcode Transport}: the browser's
 * binary messages are the bytes of the same frame stream a TCP client sends (a frame may span
 * messages, a message may hold several frames), so {@linkcode Connection} and the server see a
 * client like any other.
 *
 * Reading pulls: bytes are read from the socket only when the connection asks for more, straight
 * into its buffer, and decoded by {@linkcode WsFrameDecoder}, which refuses a message declaring
 * more than {@linkcode MAX_WS_MESSAGE_BYTES} as soon as its header is read: nothing is buffered
 * ahead of the reader, so a browser sending faster than the server reads is held back by TCP, as
 * on the TCP port. A text message closes the connection with `BAD_FRAME`, an over-long one with
 * `FRAME_TOO_LARGE`, a frame breaking RFC 6455 with `BAD_FRAME`.
 *
 * Writing: each write is one binary message, written whole before the promise resolves, so a
 * browser that stops reading leaves a write pending and the connection's stall detection applies.
 * A ping is answered by a pong after the write in flight (one pong waits at most). Closing sends a
 * close frame and waits a bounded time for the peer's; then the socket is destroyed either way.
 * @module
 */

import { ChunkQueue } from "../../protocol/chunk_queue.ts";
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from "../../protocol/frame.ts";
import type { PeerstreamError } from "../../protocol/errors.ts";
import { protocolViolation } from "./connection.ts";
import type { DoorConn } from "./tls_conn.ts";
import type { Transport } from "./transport.ts";
import {
  closePayload,
  encodeWsFrame,
  encodeWsHeader,
  WS_CLOSE,
  WS_OPCODE,
  type WsEvent,
  WsFrameDecoder,
} from "./ws_frame.ts";

/** The largest WebSocket message: one frame of the largest size. */
export const MAX_WS_MESSAGE_BYTES = FRAME_HEADER_BYTES + MAX_FRAME_BYTES;

/** Options for {@linkcode WebSocketTransport}. */
export interface WebSocketTransportOptions {
  /** Bytes received after the upgrade request, before the socket was handed over. @default {none} */
  rest?: Uint8Array;
  /** The first frame must arrive within this of the upgrade, ms; 0 for no deadline. @default {10000} */
  firstFrameMs?: number;
  /** How long closing waits for the peer's close frame, ms. @default {2000} */
  closeMs?: number;
  /** The largest data message, bytes. @default {MAX_WS_MESSAGE_BYTES} */
  maxMessageBytes?: number;
}

/** Payloads smaller than this are written in one buffer with their header (one syscall). */
const COPY_BELOW_BYTES = 16 * 1024;

/** A raw socket after a WebSocket upgrade, adapted to the byte-stream {@linkcode Transport}. */
export class WebSocketTransport implements Transport {
  readonly remoteAddr: Deno.NetAddr;
  readonly #conn: DoorConn;
  readonly #decoder: WsFrameDecoder;
  readonly #closeMs: number;
  /** Data decoded but not yet read (only from bytes that came with the upgrade). */
  readonly #pending = new ChunkQueue();
  /** The socket read in flight and the buffer it fills. */
  #inFlight?: { buffer: Uint8Array; read: Promise<number | null> };
  #writes: Promise<unknown> = Promise.resolve();
  #pongWaiting = false;
  #failure?: PeerstreamError;
  #closeCode: number = WS_CLOSE.normal;
  /** No more data for the reader: closed by either side, or failed. */
  #ended = false;
  #closeSent = false;
  #peerClosed = false;
  #destroyed = false;
  #firstFrameTimer?: ReturnType<typeof setTimeout>;
  #interrupt!: () => void;
  readonly #interrupted: Promise<void>;
  #resolveClosed!: () => void;
  /** Resolves once the socket is closed (after the close handshake or its deadline). */
  readonly closed: Promise<void>;

  /**
   * @param conn The socket, after the 101 response; the transport owns it from now on.
   * @param options Bytes already received, deadlines and the message cap.
   */
  constructor(conn: DoorConn, options: WebSocketTransportOptions = {}) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.#decoder = new WsFrameDecoder({
      maxMessageBytes: options.maxMessageBytes ?? MAX_WS_MESSAGE_BYTES,
    });
    this.#closeMs = options.closeMs ?? 2000;
    this.#interrupted = new Promise((resolve) => this.#interrupt = resolve);
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    const firstFrameMs = options.firstFrameMs ?? 10_000;
    if (firstFrameMs > 0) {
      this.#firstFrameTimer = setTimeout(() => {
        this.#fail(
          protocolViolation(`No WebSocket frame within ${firstFrameMs} ms of the upgrade`, {
            code: "HANDSHAKE_TIMEOUT",
          }),
          WS_CLOSE.policyViolation,
        );
      }, firstFrameMs);
    }
    if (options.rest !== undefined && options.rest.length > 0) {
      try {
        for (const event of this.#decoder.push(options.rest)) {
          const data = this.#onEvent(event);
          if (data !== undefined) this.#pending.push(data);
        }
      } catch (error) {
        this.#failDecoding(error);
      }
    }
  }

  /**
   * Reads the next data bytes into `buffer`, answering pings and a close on the way.
   *
   * @returns How many bytes, or null once the peer closed (or the transport was closed).
   * @throws {PeerstreamError} A `protocolViolation` After a text message, a message over the cap, a malformed frame,
   * or no first frame in time.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    for (;;) {
      if (!this.#pending.empty) return this.#pending.take(buffer);
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) return null;
      const read = this.#conn.read(buffer).catch((error) => {
        if (this.#destroyed || this.#ended) return null;
        throw error;
      });
      this.#inFlight = { buffer, read };
      const n = await Promise.race([read, this.#interrupted.then(() => undefined)]);
      if (n === undefined) continue;
      this.#inFlight = undefined;
      if (n === null) {
        this.#ended = true;
        this.#destroy();
        continue;
      }
      const filled = this.#decode(buffer, n);
      if (filled > 0) return filled;
    }
  }

  /** Decodes `n` bytes read into `buffer`, and puts their data back at its start. */
  #decode(buffer: Uint8Array, n: number): number {
    let events: WsEvent[];
    try {
      events = this.#decoder.push(buffer.subarray(0, n));
    } catch (error) {
      this.#failDecoding(error);
      return 0;
    }
    // Data is never longer than the frames it came in: it fits where they were.
    let filled = 0;
    for (const event of events) {
      const data = this.#onEvent(event);
      if (data === undefined || this.#ended) continue;
      buffer.set(data, filled);
      filled += data.length;
    }
    return filled;
  }

  /** Handles a control event; returns a data event's bytes. */
  #onEvent(event: WsEvent): Uint8Array | undefined {
    clearTimeout(this.#firstFrameTimer);
    switch (event.kind) {
      case "data":
        if (event.text) {
          this.#fail(
            protocolViolation("Text WebSocket message; peerstream frames travel as binary"),
            WS_CLOSE.unsupportedData,
          );
          return undefined;
        }
        return event.payload;
      case "ping":
        this.#pong(event.payload);
        return undefined;
      case "pong":
        return undefined;
      case "close":
        this.#peerClosed = true;
        this.#ended = true;
        // Answer with the peer's code, then close the TCP connection (the server closes first).
        this.#sendClose(event.code ?? WS_CLOSE.normal).finally(() => this.#destroy());
        return undefined;
    }
  }

  #failDecoding(error: unknown) {
    if (error instanceof RangeError) {
      this.#fail(
        protocolViolation(error.message, { code: "FRAME_TOO_LARGE" }),
        WS_CLOSE.tooBig,
      );
    } else if (error instanceof SyntaxError) {
      this.#fail(protocolViolation(error.message), WS_CLOSE.protocolError);
    } else throw error;
  }

  #fail(violation: PeerstreamError, closeCode: number) {
    if (this.#failure !== undefined || this.#ended) return;
    clearTimeout(this.#firstFrameTimer);
    this.#failure = violation;
    this.#closeCode = closeCode;
    this.#pending.clear();
    this.#interrupt();
  }

  #pong(payload: Uint8Array) {
    // A peer pinging faster than it reads gets one pong waiting, not a growing queue.
    if (this.#pongWaiting || this.#closeSent) return;
    this.#pongWaiting = true;
    this.#enqueue(() => {
      this.#pongWaiting = false;
      return this.#writeAll(encodeWsFrame(WS_OPCODE.pong, payload));
    }).catch(() => {});
  }

  /**
   * Sends `bytes` as one binary message; resolves once the socket took all of it.
   *
   * @returns `bytes.length`.
   * @throws {Deno.errors.BrokenPipe} When the socket is closed or closing.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#closeSent || this.#destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("The WebSocket is closed"));
    }
    return this.#enqueue(async () => {
      if (this.#closeSent || this.#destroyed) {
        throw new Deno.errors.BrokenPipe("The WebSocket is closed");
      }
      if (bytes.length < COPY_BELOW_BYTES) {
        await this.#writeAll(encodeWsFrame(WS_OPCODE.binary, bytes));
      } else {
        // No copy of a large payload: the server's frames are not masked.
        await this.#writeAll(encodeWsHeader(WS_OPCODE.binary, bytes.length));
        await this.#writeAll(bytes);
      }
      return bytes.length;
    });
  }

  /** Runs writes one at a time, in order, so that frames never interleave. */
  #enqueue<T>(write: () => Promise<T>): Promise<T> {
    const next = this.#writes.then(write);
    this.#writes = next.catch(() => {});
    return next;
  }

  async #writeAll(bytes: Uint8Array) {
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Sends a close frame once, after the write in flight. */
  #sendClose(code: number): Promise<void> {
    if (this.#closeSent || this.#destroyed) return Promise.resolve();
    this.#closeSent = true;
    return this.#enqueue(() => this.#writeAll(encodeWsFrame(WS_OPCODE.close, closePayload(code))))
      .catch(() => {});
  }

  /**
   * Closes: a pending read ends, a close frame goes out (with the failure's code, if any), and the
   * socket is destroyed once the peer answers or after the close deadline.
   */
  close(): void {
    if (this.#destroyed) return;
    const wasEnded = this.#ended;
    this.#ended = true;
    clearTimeout(this.#firstFrameTimer);
    this.#interrupt();
    if (this.#peerClosed) return;
    const timer = setTimeout(() => this.#destroy(), this.#closeMs);
    this.#closing(wasEnded).finally(() => {
      clearTimeout(timer);
      this.#destroy();
    });
  }

  /** Sends the close frame and reads (discarding data) until the peer's close frame or EOF. */
  async #closing(eof: boolean) {
    await this.#sendClose(this.#closeCode);
    if (eof || this.#failure !== undefined) return;
    const scratch = new Uint8Array(1024);
    while (!this.#destroyed && !this.#peerClosed) {
      const inFlight = this.#inFlight;
      this.#inFlight = undefined;
      const buffer = inFlight?.buffer ?? scratch;
      const n = await (inFlight?.read ?? this.#conn.read(scratch)).catch(() => null);
      if (n === null) return;
      try {
        for (const event of this.#decoder.push(buffer.subarray(0, n))) {
          if (event.kind === "close") return;
        }
      } catch {
        return;
      }
    }
  }

  #destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#ended = true;
    clearTimeout(this.#firstFrameTimer);
    this.#interrupt();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#resolveClosed();
  }
}
