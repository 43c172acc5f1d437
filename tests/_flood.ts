/**
 * Many cheap raw connections for flood tests, from any loopback address (`node:net` with
 * `localAddress`, which works under Deno): the server sees 127.0.0.2, 127.0.0.3, … as different
 * clients. Each keeps only the first few messages it receives.
 * @module
 */

import net from "node:net";
import { FrameDecoder } from "../protocol/frame.ts";
import { decodeMessage, type Message } from "../protocol/messages.ts";

/** Messages a flood socket keeps, at most. */
const KEPT = 8;

/** One raw connection of a flood. */
export interface FloodSocket {
  /** The local address it connected from. */
  readonly from: string;
  /** When it connected (ms, performance.now()). */
  readonly openedAt: number;
  /** The first messages received. */
  readonly messages: Message[];
  /** Whether the server closed it (or it failed). */
  readonly closed: boolean;
  /** When it closed (ms, performance.now()). */
  readonly closedAt: number | undefined;
  /** Writes bytes; ignored once closed. */
  write(bytes: Uint8Array): void;
  /** Resolves true once closed, false after `ms`. */
  waitClosed(ms: number): Promise<boolean>;
  /** Closes it. */
  destroy(): void;
}

/**
 * Connects once from `from` and waits until connected.
 *
 * @param port The server's port on 127.0.0.1.
 * @param from The local address, e.g. `127.0.0.2`.
 * @returns The socket.
 */
export function openFrom(port: number, from: string): Promise<FloodSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    const decoder = new FrameDecoder();
    const messages: Message[] = [];
    const closeWaiters: (() => void)[] = [];
    let closedAt: number | undefined;
    let connected = false;
    const flood: FloodSocket = {
      from,
      openedAt: performance.now(),
      messages,
      get closed() {
        return closedAt !== undefined;
      },
      get closedAt() {
        return closedAt;
      },
      write(bytes) {
        if (closedAt === undefined) socket.write(bytes);
      },
      waitClosed(ms) {
        if (closedAt !== undefined) return Promise.resolve(true);
        return new Promise((done) => {
          const timer = setTimeout(() => done(false), ms);
          closeWaiters.push(() => {
            clearTimeout(timer);
            done(true);
          });
        });
      },
      destroy() {
        socket.destroy();
      },
    };
    socket.on("data", (chunk: Uint8Array) => {
      if (messages.length >= KEPT) return;
      try {
        for (const frame of decoder.push(chunk)) {
          if (messages.length < KEPT) messages.push(decodeMessage(frame));
        }
      } catch {
        // Only the first messages matter here.
      }
    });
    socket.on("error", (error: Error) => {
      if (!connected) reject(error);
    });
    socket.on("close", () => {
      closedAt ??= performance.now();
      for (const done of closeWaiters.splice(0)) done();
    });
    socket.on("connect", () => {
      connected = true;
      resolve(flood);
    });
  });
}

/**
 * Opens `perAddress` connections from each address, in batches below the listen backlog (511).
 *
 * @param port The server's port.
 * @param options The addresses, how many from each, and the batch size.
 * @returns Every socket, in order of address.
 */
export async function openMany(
  port: number,
  options: { addresses: string[]; perAddress: number; batch?: number },
): Promise<FloodSocket[]> {
  const targets = options.addresses.flatMap((a) => Array(options.perAddress).fill(a) as string[]);
  const batch = options.batch ?? 400;
  const out: FloodSocket[] = [];
  for (let at = 0; at < targets.length; at += batch) {
    out.push(...await Promise.all(targets.slice(at, at + batch).map((a) => openFrom(port, a))));
  }
  return out;
}

/**
 * Loopback addresses 127.0.0.`first` … 127.0.0.`first + count - 1`.
 *
 * @param first The last byte of the first address.
 * @param count How many.
 * @returns The addresses.
 */
export function loopbacks(first: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${first + i}`);
}
