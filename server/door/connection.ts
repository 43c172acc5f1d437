/**
 * One client connection over a {@linkcode Transport} (TCP, TLS, WebSocket): a read loop that
 * yields decoded messages, and a writer with one write in flight, control frames ahead of media,
 * and a bound on queued bytes. Frames queued while the connection is corked (see
 * {@linkcode Connection.batch}) leave in one write.
 *
 * Media is queued as whole media frames, usually a segment framed once and shared by every viewer
 * (see `framed_segments.ts`): the writer hands the transport all that is left of it in one write,
 * copies nothing, and keeps no buffer per connection. A control frame queued meanwhile goes right
 * after the write in flight (what the socket took at once), finishing at most the frame in
 * progress first; so does a drop (STOP, SEEK).
 * @module
 */

import { FrameDecoder } from "../../protocol/frame.ts";
import { encodeMessage, type Message } from "../../protocol/messages.ts";
import { ControlQueue } from "./control_queue.ts";
import { advance, dropStream, type MediaItem, mediaItem } from "./media_queue.ts";
import {
  decodeRead,
  isPeerGone,
  isProtocolViolation,
  peerFault,
  protocolViolation,
  type ViolationCode,
} from "./peer_errors.ts";
import type { Transport } from "./transport.ts";

// Re-exported: the connection's callers tell its failures apart with these.
export { isPeerGone, isProtocolViolation, peerFault, protocolViolation, type ViolationCode };

/** Options for {@linkcode Connection}. */
export interface ConnectionOptions {
  /** The most control bytes that may wait to be written before the peer is dropped. @default {8 MiB} */
  maxQueuedControlBytes?: number;
}

/** The first read buffer: an idle or handshaking peer costs this much, not 64 KiB. */
const MIN_READ_BYTES = 4 * 1024;
const MAX_READ_BYTES = 64 * 1024;

/** The transport seam: logic sees messages in, `send`, `sendMedia` and `close`. */
export class Connection {
  /** Connections corked by the running {@linkcode Connection.batch}, or null outside one. */
  static #batch: Connection[] | null = null;
  readonly #conn: Transport;
  readonly #maxControl: number;
  readonly #control = new ControlQueue();
  #media: MediaItem[] = [];
  #writing = false;
  #closed = false;
  #corks = 0;
  #inBatch = false;
  /** The media item a transport write is taking bytes of right now, if any. */
  #inFlight: MediaItem | null = null;
  #decoder = new FrameDecoder();
  /** The read buffer: small until the peer fills it, then doubled up to 64 KiB. */
  #readBuffer = new Uint8Array(MIN_READ_BYTES);
  #flushWaiters: (() => void)[] = [];
  #writeStartedAt: number | null = null;
  #closeReason: string | undefined;
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
   * @param conn The socket (a `Deno.Conn`) or another transport; the connection owns it from now on.
   * @param options Limits.
   */
  constructor(conn: Transport, options: ConnectionOptions = {}) {
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

  /** Why the connection was closed, for the log; undefined while open. */
  get closeReason(): string | undefined {
    return this.#closeReason;
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

  /** Bytes this connection holds for reading: the read buffer and a partial frame. */
  get bufferedBytes(): number {
    return this.#readBuffer.length + this.#decoder.bufferedBytes;
  }

  /** The size of the next read, bytes. */
  get readBufferBytes(): number {
    return this.#readBuffer.length;
  }

  /** Bytes of control and media waiting to be written. */
  get queuedBytes(): number {
    return this.#control.bytes + this.#media.reduce((n, m) => n + m.frames.length - m.at, 0);
  }

  /**
   * Runs `fn` with every connection it sends to corked, then uncorks them: each connection
   * writes what `fn` queued in one write instead of one per frame. Only the synchronous part of
   * `fn` is covered; a call inside another batch joins the outer one.
   *
   * @example
   * ```ts
   * // One write per recipient for all the replies to one read.
   * Connection.batch(() => { for (const message of batch) handle(message); });
   * ```
   *
   * @param fn The work that sends.
   * @returns What `fn` returned.
   */
  static batch<T>(fn: () => T): T {
    if (Connection.#batch !== null) return fn();
    const corked: Connection[] = [];
    Connection.#batch = corked;
    try {
      return fn();
    } finally {
      Connection.#batch = null;
      for (const connection of corked) {
        connection.#inBatch = false;
        connection.uncork();
      }
    }
  }

  /**
   * Holds queued frames back from the socket until a matching {@linkcode Connection.uncork}, so
   * that many small frames leave in one write. Calls nest; {@linkcode Connection.flush} writes
   * anyway. The queue bound still applies.
   */
  cork(): void {
    this.#corks++;
  }

  /** Undoes one {@linkcode Connection.cork}; the last one starts writing what was queued. */
  uncork(): void {
    if (this.#corks === 0) return;
    this.#corks--;
    this.#pump();
  }

  /**
   * Reads messages until the peer closes.
   *
   * @throws {PeerstreamError} A {@linkcode protocolViolation} When a frame or message is malformed; the caller should report it
   * and close.
   */
  async *messages(): AsyncGenerator<Message> {
    for await (const batch of this.readBatches()) {
      for (const message of batch) {
        yield message;
        if (this.#closed) return;
      }
    }
  }

  /**
   * Reads messages until the peer closes, yielding the messages that each read completed
   * together, so that the caller can answer them in one {@linkcode Connection.batch}.
   *
   * @throws {PeerstreamError} A {@linkcode protocolViolation} When a frame or message is malformed, after yielding the good
   * messages ahead of it; the caller should report it and close.
   */
  async *readBatches(): AsyncGenerator<Message[]> {
    while (!this.#closed) {
      const buffer = this.#readBuffer;
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        if (isPeerGone(error) || this.#closed) return;
        const fault = peerFault(error);
        if (fault === undefined) throw error;
        this.close(fault);
        return;
      }
      if (n === null) return;
      this.bytesRead += n;
      this.lastReadAt = performance.now();
      // A read that filled the buffer says more is waiting: read more at a time from now on.
      if (n === buffer.length && buffer.length < MAX_READ_BYTES) {
        this.#readBuffer = new Uint8Array(buffer.length * 2);
      }
      const { messages, violation } = decodeRead(this.#decoder, buffer.subarray(0, n));
      if (messages.length > 0) yield messages;
      if (violation !== undefined) throw violation;
      if (this.#closed) return;
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
    return this.sendEncoded(encodeMessage(message));
  }

  /**
   * Queues an encoded control frame ahead of any media. Encode a broadcast once and pass the same
   * bytes to every recipient: they are never modified.
   *
   * @param frame One or more whole frames from `encodeMessage`.
   * @returns False when the connection is closed or was dropped for not reading.
   */
  sendEncoded(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#control.bytes + frame.length > this.#maxControl) {
      this.close(`SLOW_CONSUMER: over ${this.#maxControl} bytes of control data queued`);
      return false;
    }
    this.#control.push(frame);
    this.#joinBatch();
    this.#pump();
    return true;
  }

  /**
   * Queues one media frame behind every control message, framed here (a copy). For bytes many
   * viewers share, frame them once and use {@linkcode Connection.sendMediaFrames}.
   *
   * @param streamId The stream.
   * @param options The segment index and the media (one frame's worth at most).
   * @returns A promise that resolves when the media is written or dropped.
   * @throws {RangeError} When the media does not fit in one frame.
   */
  sendMedia(streamId: number, options: { index: number; data: Uint8Array }): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.sendMediaFrames(
      streamId,
      encodeMessage({ type: "media", streamId, index: options.index, data: options.data }),
    );
  }

  /**
   * Queues whole media frames of a stream behind every control message, as they are: the bytes
   * may be shared with other connections and are never modified or copied.
   *
   * @param streamId The stream the frames belong to (for {@linkcode Connection.dropMedia}).
   * @param frames Whole media frames, e.g. from `encodeMediaFrames`.
   * @returns A promise that resolves when they are written or dropped.
   */
  sendMediaFrames(streamId: number, frames: Uint8Array): Promise<void> {
    if (this.#closed || frames.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#media.push(mediaItem(streamId, { frames, done: resolve }));
      this.#joinBatch();
      this.#pump();
    });
  }

  /**
   * Drops the queued media of a stream. Media being written ends with the frame in progress,
   * which goes out whole, ahead of any control frame queued after this call.
   *
   * @param streamId The stream.
   */
  dropMedia(streamId: number): void {
    this.#media = dropStream(this.#media, { streamId, inFlight: this.#inFlight });
  }

  /**
   * Resolves when everything queued so far has been written (or the connection closed). Writes
   * even while corked.
   */
  flush(): Promise<void> {
    if (!this.#writing && this.#control.length === 0 && this.#media.length === 0) {
      return Promise.resolve();
    }
    const flushed = new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    this.#pump(true);
    return flushed;
  }

  /**
   * Closes the socket; queued data is dropped. Safe to call twice: the first reason stays.
   *
   * @param reason Why, for the log.
   */
  close(reason = "closed by the server"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    // The item being written resolves when its write settles (the write loop sees it).
    for (const item of this.#media) if (item !== this.#inFlight) item.done();
    this.#media = [];
    this.#control.clear();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
    this.onClose?.();
  }

  /** Corks this connection until the running {@linkcode Connection.batch} ends, if any. */
  #joinBatch() {
    if (Connection.#batch === null || this.#inBatch) return;
    this.#inBatch = true;
    this.#corks++;
    Connection.#batch.push(this);
  }

  /**
   * Starts the writer unless it runs already, or the connection is corked and `force` is false.
   * Once started it drains both queues, taking frames queued while corked too: a cork only
   * delays the start of a write, never the bytes behind one in flight.
   */
  #pump(force = false) {
    if (this.#writing || this.#closed || (this.#corks > 0 && !force)) return;
    this.#writing = true;
    this.#writeLoop().finally(() => {
      this.#writing = false;
      if (!this.#closed && (this.#control.length > 0 || this.#media.length > 0)) {
        // Frames queued after the loop's last look; a pending flush() writes them even corked.
        this.#pump(this.#flushWaiters.length > 0);
      } else {
        for (const resolve of this.#flushWaiters.splice(0)) resolve();
      }
    });
  }

  /**
   * Writes until both queues are empty: control first, except that a media frame in progress is
   * always finished first (frames never interleave). Media goes in one transport write for all
   * that is left of an item, or up to the end of the current frame when control waits or the
   * item was dropped; the transport takes what it can, and the loop looks again.
   */
  async #writeLoop() {
    while (!this.#closed) {
      const media = this.#media[0] as MediaItem | undefined;
      const midFrame = media !== undefined && media.at > media.frameStart;
      if (!midFrame && this.#control.length > 0) {
        const bytes = this.#control.take();
        try {
          // Usually one write takes it all: no subarray, no extra async step.
          let at = await this.#writeSome(bytes);
          while (at < bytes.length) at += await this.#writeSome(bytes.subarray(at));
        } catch (error) {
          this.#writeFailed(error);
          return;
        }
        continue;
      }
      if (media === undefined) return;
      if (media.dropped && !midFrame) {
        this.#finishMedia(media);
        continue;
      }
      const end = media.dropped || this.#control.length > 0 ? media.frameEnd : media.frames.length;
      this.#inFlight = media;
      let n: number;
      try {
        n = await this.#writeSome(media.frames.subarray(media.at, end));
      } catch (error) {
        this.#inFlight = null;
        media.done();
        this.#writeFailed(error);
        return;
      }
      this.#inFlight = null;
      if (this.#closed) {
        // close() left this item to resolve once its write settled.
        media.done();
        return;
      }
      if (advance(media, n)) this.#finishMedia(media);
    }
  }

  /** Takes a written (or dropped) media item off the queue and resolves its promise. */
  #finishMedia(media: MediaItem) {
    const at = this.#media.indexOf(media);
    if (at >= 0) this.#media.splice(at, 1);
    media.done();
  }

  #writeFailed(error: unknown) {
    const gone = isPeerGone(error);
    const fault = peerFault(error);
    if (!gone && fault === undefined) this.onWriteError?.(error);
    this.close(
      gone ? "the peer went away" : fault ?? `write failed: ${(error as Error).message}`,
    );
  }

  /** One transport write: as many of `bytes` as it takes. */
  async #writeSome(bytes: Uint8Array): Promise<number> {
    this.#writeStartedAt = performance.now();
    try {
      const n = await this.#conn.write(bytes);
      this.bytesWritten += n;
      return n;
    } finally {
      this.#writeStartedAt = null;
    }
  }
}
