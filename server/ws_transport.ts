/**
 * A WebSocket as a {@linkcode Transport}: the browser's binary messages are the bytes of the same
 * frame stream a TCP client sends (a frame may span messages, a message may hold several frames),
 * so {@linkcode Connection} and the server see a client like any other.
 *
 * Backpressure: Deno's server-side `WebSocket.send` never blocks; its `bufferedAmount` counts what
 * the socket has not taken yet. {@linkcode WebSocketTransport.write} resolves while that stays
 * under a high-water mark (as a kernel socket buffer takes a write) and otherwise waits for it to
 * drain, so a browser that stops reading leaves a write pending: the connection's stall detection
 * and queue bound apply unchanged. Deno offers no event for the drain (no `bufferedamountlow`, and
 * `WebSocketStream` is client-side only), so the wait polls.
 *
 * Size bounds: the WebSocket API delivers whole messages, with no way to stop reading, so each
 * message is bounded (one largest frame) and so are the bytes received but not yet read by the
 * connection; going over either closes the connection with `FRAME_TOO_LARGE`, as a frame over the
 * cap does on TCP. A text message closes it with `BAD_FRAME`.
 * @module
 */

import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from "../protocol/frame.ts";
import { ProtocolViolation } from "./connection.ts";
import type { Transport } from "./transport.ts";

/** Options for {@linkcode WebSocketTransport}. */
export interface WebSocketTransportOptions {
  /** The client's address (from `Deno.serve`'s handler info). */
  remoteAddr: Deno.NetAddr;
  /** Bytes the socket may hold unsent before a write waits. @default {256 KiB} */
  highWaterBytes?: number;
  /** Bytes received and not yet read before the connection is closed. @default {2 frames} */
  maxUnreadBytes?: number;
  /** How often a waiting write looks at `bufferedAmount`, ms. @default {5} */
  pollMs?: number;
}

/** The largest WebSocket message: one frame of the largest size. */
export const MAX_WS_MESSAGE_BYTES = FRAME_HEADER_BYTES + MAX_FRAME_BYTES;

/** A server-side WebSocket adapted to the byte-stream {@linkcode Transport}. */
export class WebSocketTransport implements Transport {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: WebSocket;
  readonly #highWater: number;
  readonly #maxUnread: number;
  readonly #pollMs: number;
  readonly #opened: Promise<boolean>;
  #chunks: Uint8Array[] = [];
  #unread = 0;
  #failure?: ProtocolViolation;
  #ended = false;
  #wakeReader?: () => void;

  /**
   * @param socket From `Deno.upgradeWebSocket`; the transport owns it from now on.
   * @param options The client's address and the bounds.
   */
  constructor(socket: WebSocket, options: WebSocketTransportOptions) {
    this.#socket = socket;
    this.remoteAddr = options.remoteAddr;
    this.#highWater = options.highWaterBytes ?? 256 * 1024;
    this.#maxUnread = options.maxUnreadBytes ?? 2 * MAX_WS_MESSAGE_BYTES;
    this.#pollMs = options.pollMs ?? 5;
    socket.binaryType = "arraybuffer";
    this.#opened = new Promise((resolve) => {
      if (socket.readyState === WebSocket.OPEN) resolve(true);
      socket.addEventListener("open", () => resolve(true), { once: true });
      socket.addEventListener("close", () => resolve(false), { once: true });
    });
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", () => this.#end());
    socket.addEventListener("error", () => this.#end());
  }

  #receive(data: unknown) {
    if (this.#ended || this.#failure !== undefined) return;
    if (!(data instanceof ArrayBuffer)) {
      this.#fail(
        new ProtocolViolation("Text WebSocket message; peerstream frames travel as binary"),
      );
      return;
    }
    if (data.byteLength > MAX_WS_MESSAGE_BYTES) {
      this.#fail(
        new ProtocolViolation(
          `WebSocket message of ${data.byteLength} bytes exceeds the ${MAX_WS_MESSAGE_BYTES}-byte limit`,
          { code: "FRAME_TOO_LARGE" },
        ),
      );
      return;
    }
    if (this.#unread + data.byteLength > this.#maxUnread) {
      this.#fail(
        new ProtocolViolation(
          `More than ${this.#maxUnread} bytes sent ahead of the server's reading`,
          { code: "FRAME_TOO_LARGE" },
        ),
      );
      return;
    }
    if (data.byteLength === 0) return;
    this.#chunks.push(new Uint8Array(data));
    this.#unread += data.byteLength;
    this.#wake();
  }

  #fail(violation: ProtocolViolation) {
    this.#failure = violation;
    this.#chunks = [];
    this.#unread = 0;
    this.#wake();
  }

  #end() {
    this.#ended = true;
    this.#wake();
  }

  #wake() {
    const wake = this.#wakeReader;
    this.#wakeReader = undefined;
    wake?.();
  }

  /**
   * Copies received bytes into `buffer`, waiting for a message when none are left.
   *
   * @returns How many bytes, or null once the browser closed and everything was read.
   * @throws {ProtocolViolation} After a text message or a message over the bounds.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wakeReader = resolve);
    }
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, take), n);
      n += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#unread -= n;
    return n;
  }

  /**
   * Sends `bytes` as one binary message; resolves once the socket's unsent bytes are under the
   * high-water mark.
   *
   * @returns `bytes.length`.
   * @throws {Deno.errors.BrokenPipe} When the socket is closed.
   */
  async write(bytes: Uint8Array): Promise<number> {
    if (!(await this.#opened) || this.#socket.readyState !== WebSocket.OPEN) {
      throw new Deno.errors.BrokenPipe("The WebSocket is closed");
    }
    // A copy: the connection reuses its media buffer as soon as the write resolves.
    this.#socket.send(bytes.slice());
    while (this.#socket.bufferedAmount > this.#highWater) {
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      if (this.#socket.readyState !== WebSocket.OPEN) {
        throw new Deno.errors.BrokenPipe("The WebSocket closed with data unsent");
      }
    }
    return bytes.length;
  }

  /** Closes the socket; a pending read ends. */
  close(): void {
    this.#ended = true;
    this.#wake();
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    try {
      this.#socket.close(1000);
    } catch {
      // Already closing.
    }
  }
}
