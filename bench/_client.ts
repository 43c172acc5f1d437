/**
 * A lightweight load client that speaks the wire protocol directly with `protocol/`: it registers,
 * sends requests and hands every server message to a callback. It never decodes video and never
 * opens sealed bodies, so that one process can drive thousands of connections.
 * @module
 */

import { exportPublicKeys, type Identity, signChallenge } from "../protocol/e2e.ts";
import {
  type ClientMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  type WelcomeMessage,
} from "../protocol/messages.ts";
import { WireReader } from "./_wire_reader.ts";

/** An identity with its public keys exported once, shared by many load clients. */
export interface BenchIdentity {
  /** The key pairs. */
  identity: Identity;
  /** The public keys as they travel. */
  encKey: string;
  /** The Ed25519 public key as it travels. */
  signKey: string;
}

/**
 * Exports an identity's keys once so that every load client can reuse them (with its own name).
 *
 * @param identity The identity.
 * @returns The identity and its exported keys.
 */
export async function benchIdentity(identity: Identity): Promise<BenchIdentity> {
  return { identity, ...(await exportPublicKeys(identity)) };
}

/** Options for {@linkcode LoadClient.connect}. */
export interface LoadClientOptions {
  /** Server host. @default {"127.0.0.1"} */
  hostname?: string;
  /** Read buffer size; smaller reads make throttling smoother. @default {65536} */
  readBytes?: number;
}

/** One connection to the server, driven by the benchmark. */
export class LoadClient {
  readonly #conn: Deno.Conn;
  readonly #reader = new WireReader();
  #queue: Uint8Array[] = [];
  #writing = false;
  #closed = false;
  #challenge: Uint8Array | null = null;
  #greeted: Promise<void>;
  #onGreeting: () => void = () => {};
  #welcome: ((m: WelcomeMessage | Error) => void) | null = null;
  /** Resolves when the read loop ends. */
  readonly done: Promise<void>;
  /**
   * Called for every server message with the time it was read (`performance.now()`). A media
   * frame comes as one or more `media` messages, one per piece of it in a read, whose `data` is a
   * view of the read buffer, valid only during the call (see {@linkcode WireReader}).
   */
  onMessage: (message: ServerMessage, now: number) => void = () => {};
  /** Called when the connection ends, with the error if it failed. */
  onClose: (error?: unknown) => void = () => {};
  /** When set, the read loop waits for it before every read (for throttling). */
  beforeRead: ((lastBytes: number) => Promise<void> | void) | null = null;
  /** Bytes read from the socket. */
  bytesRead = 0;
  /** Id for the next request. */
  nextId = 1;

  private constructor(conn: Deno.Conn, readBytes: number) {
    this.#conn = conn;
    this.#greeted = new Promise((resolve) => (this.#onGreeting = resolve));
    this.done = this.#readLoop(readBytes);
  }

  /**
   * Connects; the server's greeting is awaited by {@linkcode LoadClient.register}.
   *
   * @param port The server's port.
   * @param options Host and read size.
   * @returns The client.
   */
  static async connect(port: number, options: LoadClientOptions = {}): Promise<LoadClient> {
    const conn = await Deno.connect({ hostname: options.hostname ?? "127.0.0.1", port });
    conn.setNoDelay(true);
    return new LoadClient(conn, options.readBytes ?? 64 * 1024);
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Registers a name with a shared identity.
   *
   * @param name A fresh name (the server binds a name to the first key that uses it).
   * @param who The identity and its exported keys.
   * @returns The welcome.
   */
  async register(name: string, who: BenchIdentity): Promise<WelcomeMessage> {
    await this.#greeted;
    if (this.#challenge === null) throw new Error(`Cannot register "${name}": no greeting`);
    const proof = await signChallenge(who.identity, this.#challenge, name);
    const welcome = new Promise<WelcomeMessage | Error>((resolve) => (this.#welcome = resolve));
    this.send({
      type: "hello",
      version: PROTOCOL_VERSION,
      name,
      encKey: who.encKey,
      signKey: who.signKey,
      proof: proof.toBase64(),
    });
    const answer = await welcome;
    if (answer instanceof Error) throw answer;
    return answer;
  }

  /**
   * Queues a message; writes are batched, one write in flight.
   *
   * @param message The message.
   */
  send(message: ClientMessage): void {
    this.sendBytes(encodeMessage(message));
  }

  /**
   * Queues encoded frames.
   *
   * @param bytes One or more whole frames.
   */
  sendBytes(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#queue.push(bytes);
    if (!this.#writing) this.#pump();
  }

  /** Closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #pump() {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const parts = this.#queue;
        this.#queue = [];
        let bytes: Uint8Array;
        if (parts.length === 1) {
          bytes = parts[0];
        } else {
          bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            bytes.set(p, at);
            at += p.length;
          }
        }
        let at = 0;
        while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(readBytes: number) {
    const buffer = new Uint8Array(readBytes);
    let failure: unknown;
    let last = 0;
    try {
      while (!this.#closed) {
        if (this.beforeRead !== null) await this.beforeRead(last);
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        last = n;
        this.bytesRead += n;
        const now = performance.now();
        this.#reader.push(buffer.subarray(0, n), (message) => this.#handle(message, now));
      }
    } catch (error) {
      if (!this.#closed) failure = error;
    } finally {
      const error = failure ?? new Error("connection closed");
      this.#welcome?.(error instanceof Error ? error : new Error(String(error)));
      this.#onGreeting();
      this.close();
      this.onClose(failure);
    }
  }

  #handle(message: ServerMessage, now: number) {
    if (message.type === "server-hello") {
      this.#challenge = Uint8Array.fromBase64(message.challenge);
      this.#onGreeting();
      return;
    }
    if (this.#welcome !== null) {
      if (message.type === "welcome") {
        const resolve = this.#welcome;
        this.#welcome = null;
        resolve(message);
        return;
      }
      if (message.type === "error") {
        const resolve = this.#welcome;
        this.#welcome = null;
        resolve(new Error(`Registration refused: ${message.code}: ${message.message}`));
        return;
      }
    }
    if (message.type === "ping") {
      this.send({ type: "pong", id: message.id });
      return;
    }
    this.onMessage(message, now);
  }
}

/**
 * Connects and registers many clients, at most `batch` connections being opened at once (the
 * listen backlog is 511: an overflowing SYN is retried only after 1 s).
 *
 * @param port The server's port.
 * @param options Names, the shared identity, the batch size and a per-client setup hook.
 * @returns The clients, in the order of `names`.
 */
export async function connectMany(
  port: number,
  options: {
    names: readonly string[];
    who: BenchIdentity;
    batch?: number;
    setup?: (client: LoadClient, index: number) => void;
    readBytes?: number;
  },
): Promise<{ clients: LoadClient[]; welcomes: WelcomeMessage[] }> {
  const batch = options.batch ?? 200;
  const clients: LoadClient[] = [];
  const welcomes: WelcomeMessage[] = [];
  for (let at = 0; at < options.names.length; at += batch) {
    const names = options.names.slice(at, at + batch);
    const done = await Promise.all(names.map(async (name, i) => {
      const client = await LoadClient.connect(port, { readBytes: options.readBytes });
      options.setup?.(client, at + i);
      const welcome = await client.register(name, options.who);
      return { client, welcome };
    }));
    for (const { client, welcome } of done) {
      clients.push(client);
      welcomes.push(welcome);
    }
  }
  return { clients, welcomes };
}
