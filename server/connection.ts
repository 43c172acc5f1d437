/**
 * One TCP (or TLS) connection: a read loop that yields decoded messages, and a writer with one
 * write in flight, control frames ahead of media, and a bound on queued bytes.
 * @module
 */

import { FRAME_HEADER_BYTES, FrameDecoder } from "../protocol/frame.ts";
import {
  decodeMessage,
  encodeMessage,
  MEDIA_HEADER_BYTES,
  type Message,
  writeMediaFrameHeader,
} from "../protocol/messages.ts";

/** Options for {@linkcode Connection}. */
export interface ConnectionOptions {
  /** The most control bytes that may wait to be written before the peer is dropped. @default {8 MiB} */
  maxQueuedControlBytes?: number;
}

/** A media chunk waiting to be written. */
interface MediaItem {
  streamId: number;
  index: number;
  data: Uint8Array;
  /** Resolves once written, or dropped. */
  done: () => void;
}

const COALESCE_BYTES = 64 * 1024;

/**
 * Whether an error means the peer simply went away.
 *
 * @param error Anything thrown by a read or write.
 * @returns True for a reset, broken pipe, closed resource or unexpected EOF.
 */
export function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof;
}

/** Thrown out of {@linkcode Connection.messages} when the peer sends something undecodable. */
export class ProtocolViolation extends Error {
  /** `FRAME_TOO_LARGE` when a frame header declared too many bytes, else `BAD_FRAME`. */
  readonly code: "BAD_FRAME" | "FRAME_TOO_LARGE";

  /**
   * @param message What was wrong.
   * @param options The decode error, and the code (default `BAD_FRAME`).
   */
  constructor(
    message: string,
    options?: ErrorOptions & { code?: "BAD_FRAME" | "FRAME_TOO_LARGE" },
  ) {
    super(message, options);
    this.name = "ProtocolViolation";
    this.code = options?.code ?? "BAD_FRAME";
  }
}

/** The transport seam: logic sees messages in, `send`, `sendMedia` and `close`. */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #maxControl: number;
  #control: Uint8Array[] = [];
  #controlBytes = 0;
  #media: MediaItem[] = [];
  #writing = false;
  #closed = false;
  #scratch = new Uint8Array(FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES + 64 * 1024);
  #flushWaiters: (() => void)[] = [];
  #writeStartedAt: number | null = null;
  /** Bytes written to the socket. */
  bytesWritten = 0;
  /** Bytes read from the socket. */
  bytesRead = 0;
  /** When the last bytes arrived (ms, performance.now()). */
  lastReadAt = performance.now();
  /** Called once when the connection closes. */
  onClose?: () => void;
  /** Called when a write fails for a reason other than the peer going away. */
  onWriteError?: (error: unknown) => void;

  /**
   * @param conn The socket; the connection owns it from now on.
   * @param options Limits.
   */
  constructor(conn: Deno.Conn, options: ConnectionOptions = {}) {
    this.#conn = conn;
    this.#maxControl = options.maxQueuedControlBytes ?? 8 * 1024 * 1024;
  }

  /** The remote address as `host:port`. */
  get remote(): string {
    const addr = this.#conn.remoteAddr;
    return addr.transport === "tcp" ? `${addr.hostname}:${addr.port}` : addr.transport;
  }

  /** The remote host. */
  get remoteHost(): string {
    const addr = this.#conn.remoteAddr;
    return addr.transport === "tcp" ? addr.hostname : addr.transport;
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * How long the socket write in flight has made no progress, ms; 0 when no write waits. A peer
   * that stops reading makes this grow once the socket buffers are full.
   *
   * @param now The current time (ms, performance.now()).
   * @returns Milliseconds.
   */
  writeStalledFor(now: number): number {
    return this.#writeStartedAt === null ? 0 : Math.max(0, now - this.#writeStartedAt);
  }

  /** Bytes of control and media waiting to be written. */
  get queuedBytes(): number {
    return this.#controlBytes + this.#media.reduce((n, m) => n + m.data.length, 0);
  }

  /**
   * Reads messages until the peer closes.
   *
   * @throws {ProtocolViolation} When a frame or message is malformed; the caller should report it
   * and close.
   */
  async *messages(): AsyncGenerator<Message> {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    while (!this.#closed) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        if (isPeerGone(error) || this.#closed) return;
        throw error;
      }
      if (n === null) return;
      this.bytesRead += n;
      this.lastReadAt = performance.now();
      let frames;
      try {
        frames = decoder.push(buffer.subarray(0, n));
      } catch (error) {
        // The frame layer only fails on a declared length over the cap.
        throw new ProtocolViolation((error as Error).message, {
          cause: error,
          code: error instanceof RangeError ? "FRAME_TOO_LARGE" : "BAD_FRAME",
        });
      }
      for (const frame of frames) {
        let message: Message;
        try {
          message = decodeMessage(frame);
        } catch (error) {
          throw new ProtocolViolation((error as Error).message, { cause: error });
        }
        yield message;
        if (this.#closed) return;
      }
    }
  }

  /**
   * Queues a control message ahead of any media.
   *
   * @param message The message.
   * @returns False when the connection is closed or was dropped for not reading.
   */
  send(message: Message): boolean {
    if (this.#closed) return false;
    const bytes = encodeMessage(message);
    if (this.#controlBytes + bytes.length > this.#maxControl) {
      this.close();
      return false;
    }
    this.#control.push(bytes);
    this.#controlBytes += bytes.length;
    this.#pump();
    return true;
  }

  /**
   * Queues a media chunk behind every control message.
   *
   * @param streamId The stream.
   * @param options The segment index and up to 64 KiB of media.
   * @returns A promise that resolves when the chunk is written or dropped.
   */
  sendMedia(streamId: number, options: { index: number; data: Uint8Array }): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#media.push({ streamId, index: options.index, data: options.data, done: resolve });
      this.#pump();
    });
  }

  /**
   * Drops queued media of a stream that was not written yet.
   *
   * @param streamId The stream.
   */
  dropMedia(streamId: number): void {
    const keep: MediaItem[] = [];
    for (const item of this.#media) {
      if (item.streamId === streamId) item.done();
      else keep.push(item);
    }
    this.#media = keep;
  }

  /** Resolves when everything queued so far has been written (or the connection closed). */
  flush(): Promise<void> {
    if (!this.#writing && this.#control.length === 0 && this.#media.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Closes the socket; queued data is dropped. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const item of this.#media) item.done();
    this.#media = [];
    this.#control = [];
    this.#controlBytes = 0;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
    this.onClose?.();
  }

  #pump() {
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    this.#writeLoop().finally(() => {
      this.#writing = false;
      if (!this.#closed && (this.#control.length > 0 || this.#media.length > 0)) this.#pump();
      else for (const resolve of this.#flushWaiters.splice(0)) resolve();
    });
  }

  async #writeLoop() {
    while (!this.#closed) {
      let bytes: Uint8Array;
      let media: MediaItem | undefined;
      if (this.#control.length > 0) {
        bytes = this.#takeControl();
      } else if (this.#media.length > 0) {
        media = this.#media.shift()!;
        const size = FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES + media.data.length;
        if (this.#scratch.length < size) this.#scratch = new Uint8Array(size);
        writeMediaFrameHeader(this.#scratch, media.streamId, media.index, media.data.length);
        this.#scratch.set(media.data, FRAME_HEADER_BYTES + MEDIA_HEADER_BYTES);
        bytes = this.#scratch.subarray(0, size);
      } else {
        return;
      }
      try {
        await this.#writeAll(bytes);
      } catch (error) {
        if (!isPeerGone(error)) this.onWriteError?.(error);
        media?.done();
        this.close();
        return;
      }
      media?.done();
    }
  }

  #takeControl(): Uint8Array {
    if (this.#control.length === 1 || this.#control[0].length >= COALESCE_BYTES) {
      const first = this.#control.shift()!;
      this.#controlBytes -= first.length;
      return first;
    }
    let size = 0;
    let count = 0;
    while (count < this.#control.length && size + this.#control[count].length <= COALESCE_BYTES) {
      size += this.#control[count].length;
      count++;
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of this.#control.splice(0, count)) {
      out.set(part, at);
      at += part.length;
    }
    this.#controlBytes -= size;
    return out;
  }

  async #writeAll(bytes: Uint8Array) {
    let at = 0;
    while (at < bytes.length) {
      this.#writeStartedAt = performance.now();
      try {
        at += await this.#conn.write(bytes.subarray(at));
      } finally {
        this.#writeStartedAt = null;
      }
    }
    this.bytesWritten += bytes.length;
  }
}
