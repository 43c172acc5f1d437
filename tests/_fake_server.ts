/**
 * A fake peerstream server written with `protocol/`, for tests of how the client treats a server
 * it cannot trust: each test scripts what the server says and reads what the client sends.
 * @module
 */

import { FrameDecoder } from "../protocol/frame.ts";
import {
  type ClientMessage,
  decodeMessage,
  encodeMessage,
  type HelloMessage,
  type Message,
  PROTOCOL_VERSION,
} from "../protocol/messages.ts";
import { isPeerGone } from "../server/door/connection.ts";

/** One client connection, as the fake server sees it. */
export class FakeConnection {
  /** The accepted socket. */
  readonly conn: Deno.Conn;
  /** Everything the client sent, in order. */
  readonly received: ClientMessage[] = [];
  /** Set once the client closed (or the connection failed). */
  closed = false;
  /** Resolves when reading ends. */
  readonly done: Promise<void>;
  #waiters: { test: (m: ClientMessage) => boolean; resolve: (m: ClientMessage) => void }[] = [];
  #closeWaiters: (() => void)[] = [];
  #writes: Promise<void> = Promise.resolve();

  /** @param conn The accepted socket; reading starts at once unless `read` is false. */
  constructor(conn: Deno.Conn, read = true) {
    this.conn = conn;
    this.done = read ? this.#read() : Promise.resolve();
  }

  async #read() {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        for (const frame of decoder.push(buffer.subarray(0, n))) {
          const message = decodeMessage(frame) as ClientMessage;
          this.received.push(message);
          for (const waiter of [...this.#waiters]) {
            if (waiter.test(message)) {
              this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
              waiter.resolve(message);
            }
          }
        }
      }
    } catch (error) {
      if (!isPeerGone(error)) throw error;
    } finally {
      this.closed = true;
      for (const resolve of this.#closeWaiters.splice(0)) resolve();
    }
  }

  /**
   * Sends messages or raw frames, in order; resolves once written (or the client is gone).
   *
   * @param parts Messages or encoded bytes.
   */
  send(...parts: (Message | Uint8Array)[]): Promise<void> {
    for (const part of parts) {
      const bytes = part instanceof Uint8Array ? part : encodeMessage(part);
      this.#writes = this.#writes.then(async () => {
        let at = 0;
        while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
      }).catch(() => {});
    }
    return this.#writes;
  }

  /**
   * Waits for a client message (past ones count).
   *
   * @param test Which message.
   * @param timeoutMs Deadline. @default {10000}
   * @returns The message.
   */
  next<T extends ClientMessage>(
    test: (m: ClientMessage) => m is T,
    timeoutMs = 30_000,
  ): Promise<T> {
    const found = this.received.find(test);
    if (found !== undefined) return Promise.resolve(found as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `No matching client message within ${timeoutMs} ms; got ${
              JSON.stringify(this.received.map((m) => m.type))
            }`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        test,
        resolve: (m: ClientMessage) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Waits for the next request of a type sent after the ones already answered. */
  request<K extends ClientMessage["type"]>(
    type: K,
    timeoutMs = 30_000,
  ): Promise<Extract<ClientMessage, { type: K }>> {
    const seen = this.received.length;
    return this.next(
      (m): m is Extract<ClientMessage, { type: K }> =>
        m.type === type && this.received.indexOf(m) >= seen,
      timeoutMs,
    );
  }

  /**
   * Greets the client and waits for its hello.
   *
   * @returns The hello.
   */
  async greet(): Promise<HelloMessage> {
    await this.send({
      type: "server-hello",
      version: PROTOCOL_VERSION,
      server: "fake",
      challenge: crypto.getRandomValues(new Uint8Array(32)).toBase64(),
    });
    return await this.next((m): m is HelloMessage => m.type === "hello");
  }

  /**
   * Greets, waits for hello and welcomes the client.
   *
   * @param peers The names said to be online.
   * @returns The hello.
   */
  async welcome(peers: string[] = []): Promise<HelloMessage> {
    const hello = await this.greet();
    await this.send({ type: "welcome", name: hello.name, peers, maxSealedBytes: 96 * 1024 });
    return hello;
  }

  /** Resolves once the client closed, or after `ms` (false). */
  waitClosed(ms = 10_000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Closes the socket. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** A listening fake server; each accepted connection goes to `onConnection`. */
export class FakeServer {
  readonly #listener: Deno.Listener;
  readonly #accepting: Promise<void>;
  /** Every connection accepted, in order. */
  readonly connections: FakeConnection[] = [];
  readonly #tasks: Promise<unknown>[] = [];

  /**
   * @param onConnection Scripts one connection; its failure fails {@linkcode FakeServer.close}.
   * @param options `read: false` leaves the client's bytes unread (a server that never reads).
   */
  constructor(
    onConnection: (connection: FakeConnection) => Promise<void>,
    options: { read?: boolean } = {},
  ) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#accepting = (async () => {
      for await (const conn of listener) {
        const connection = new FakeConnection(conn, options.read ?? true);
        this.connections.push(connection);
        this.#tasks.push(onConnection(connection), connection.done);
      }
    })();
  }

  /** The port on 127.0.0.1. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Stops listening, closes every connection and waits for the scripts. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting.catch(() => {});
    for (const connection of this.connections) connection.close();
    await Promise.all(this.#tasks);
  }
}
