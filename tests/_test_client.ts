/**
 * In-process clients for the end-to-end tests: a `ClientSession` that records every event, an
 * optional throttled or tapped transport (what the server sent, decoded), and a wait until a
 * server has prepared every title.
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
