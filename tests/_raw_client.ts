/**
 * A raw protocol client for robustness, trust and fuzz tests: it speaks frames directly (no
 * ClientSession checks), can send arbitrary bytes, and can stop reading its socket.
 * @module
 */

import { exportPublicKeys, type Identity, signChallenge } from "../protocol/e2e.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  PROTOCOL_VERSION,
  type ServerHelloMessage,
} from "../protocol/messages.ts";
import { readProc } from "./_proc.ts";

/** Options for {@linkcode RawClient.connect}. */
export interface RawClientOptions {
  /** Keep decoded messages (media is always only counted). @default {true} */
  keep?: boolean;
  /** TLS with these CA certificates. */
  tls?: { caCerts: string[] };
  /** Deadline for the server's greeting, ms. @default {5000} */
  timeoutMs?: number;
}

/** A socket that speaks the wire protocol without any client-side checks. */
export class RawClient {
  readonly conn: Deno.Conn;
  readonly messages: Message[] = [];
  /** Messages seen, media included. */
  count = 0;
  /** Media payload bytes received. */
  mediaBytes = 0;
  /** Set when the server closed the connection (EOF or reset). */
  closed = false;
  /** A decode error, if the server sent something undecodable. */
  decodeError?: Error;
  greeting!: ServerHelloMessage;
  /** Called with every message but media, as it arrives (kept or not). */
  onMessage?: (message: Message) => void;
  readonly done: Promise<void>;
  readonly #keep: boolean;
  #waiters: { test: (m: Message) => boolean; from: number; resolve: (m: Message) => void }[] = [];
  #closeWaiters: (() => void)[] = [];
  #paused: Promise<void> | null = null;
  #resume: (() => void) | null = null;
  #writeChain: Promise<void> = Promise.resolve();

  private constructor(conn: Deno.Conn, keep: boolean) {
    this.conn = conn;
    this.#keep = keep;
    this.done = this.#read();
  }

  /**
   * Connects and waits for `server-hello`.
   *
   * @param port The server port on 127.0.0.1.
   * @param options Keep messages, TLS, deadline.
   * @returns The client.
   */
  static async connect(port: number, options: RawClientOptions = {}): Promise<RawClient> {
    const conn = options.tls
      ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: options.tls.caCerts })
      : await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new RawClient(conn, options.keep ?? true);
    try {
      client.greeting = await client.next((m) => m.type === "server-hello", {
        timeoutMs: options.timeoutMs ?? 5000,
      }) as ServerHelloMessage;
    } catch (error) {
      client.close();
      await client.done;
      throw error;
    }
    return client;
  }

  /** The local port, to find this connection in the server log. */
  get localPort(): number {
    return (this.conn.localAddr as Deno.NetAddr).port;
  }

  async #read() {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (true) {
        if (this.#paused) await this.#paused;
        const n = await this.conn.read(buffer);
        if (n === null) break;
        for (const frame of decoder.push(buffer.subarray(0, n))) {
          const message = decodeMessage(frame);
          this.count++;
          if (message.type === "media") {
            this.mediaBytes += message.data.length;
            continue;
          }
          if (this.#keep) this.messages.push(message);
          this.onMessage?.(message);
          for (const waiter of [...this.#waiters]) {
            if (waiter.test(message)) {
              this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
              waiter.resolve(message);
            }
          }
        }
      }
    } catch (error) {
      if (
        !(error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)
      ) {
        this.decodeError = error as Error;
      }
    } finally {
      this.closed = true;
      this.close();
      for (const resolve of this.#closeWaiters.splice(0)) resolve();
    }
  }

  /**
   * Waits for a message matching `test` (past ones count when `keep` is on).
   *
   * @param test The predicate.
   * @param options Deadline and the index of the first kept message to consider.
   * @returns The message.
   */
  next(
    test: (m: Message) => boolean,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<Message> {
    const found = this.messages.slice(options.from ?? 0).find(test);
    if (found !== undefined) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `No matching message within ${timeoutMs} ms; got ${
              JSON.stringify(this.messages.slice(-10))
            }${this.closed ? " (closed)" : ""}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        test,
        from: options.from ?? 0,
        resolve: (m: Message) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Waits for the first error message from index `from` on. */
  nextError(from = 0, timeoutMs = 5000): Promise<Extract<Message, { type: "error" }>> {
    return this.next((m) => m.type === "error", { from, timeoutMs }) as Promise<
      Extract<Message, { type: "error" }>
    >;
  }

  /**
   * Waits until the server closes the connection.
   *
   * @param timeoutMs Deadline.
   * @returns Whether it closed in time.
   */
  waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Writes messages or raw bytes, in order; resolves when written. Write errors (the server
   * closed) are swallowed: check {@linkcode RawClient.closed}.
   */
  write(...parts: (Message | Uint8Array)[]): Promise<void> {
    const chunks = parts.map((p) => p instanceof Uint8Array ? p : encodeMessage(p));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    this.#writeChain = this.#writeChain.then(async () => {
      let done = 0;
      while (done < bytes.length) done += await this.conn.write(bytes.subarray(done));
    }).catch(() => {});
    return this.#writeChain;
  }

  /**
   * Sends a hello signed for this connection's challenge.
   *
   * @param name The name.
   * @param identity Keys; the proof is made with its signing key.
   * @param options Overrides to build bad hellos.
   */
  async hello(
    name: string,
    identity: Identity,
    options: { proof?: string; signKey?: string; encKey?: string; version?: number } = {},
  ): Promise<void> {
    const keys = await exportPublicKeys(identity);
    const proof = options.proof ??
      (await signChallenge(identity, Uint8Array.fromBase64(this.greeting.challenge), name))
        .toBase64();
    await this.write({
      type: "hello",
      version: options.version ?? PROTOCOL_VERSION,
      name,
      encKey: options.encKey ?? keys.encKey,
      signKey: options.signKey ?? keys.signKey,
      proof,
    });
  }

  /** Sends a valid hello and waits for `welcome`. */
  async register(name: string, identity: Identity): Promise<void> {
    const from = this.messages.length;
    await this.hello(name, identity);
    const answer = await this.next((m) => m.type === "welcome" || m.type === "error", { from });
    if (answer.type !== "welcome") {
      throw new Error(`Cannot register "${name}": ${JSON.stringify(answer)}`);
    }
  }

  /** Stops reading the socket (the kernel buffers fill, then the server's writes block). */
  pauseReading(): void {
    if (this.#paused) return;
    this.#paused = new Promise((resolve) => (this.#resume = resolve));
  }

  /** Reads again. */
  resumeReading(): void {
    this.#paused = null;
    this.#resume?.();
    this.#resume = null;
  }

  /** Closes the socket. Safe to call twice. */
  close(): void {
    this.resumeReading();
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * The resident memory of a process (see `tests/_proc.ts`: read through `cat`, since Deno asks for
 * `--allow-all` to read `/proc` itself).
 *
 * @param pid The process.
 * @returns VmRSS in bytes.
 */
export async function rssBytes(pid: number): Promise<number> {
  const { rssBytes } = await readProc(pid);
  if (rssBytes === 0) throw new Error(`No VmRSS for process ${pid}`);
  return rssBytes;
}
