/**
 * Support of `tests/chat_relay_test.ts`: waits and readers over in-process clients' events, a raw
 * protocol client that sends exactly what it is told, a man-in-the-middle proxy that can rewrite
 * what passes, and small builders for tampered frames and peer keys.
 * @module
 */

import { ok } from "node:assert/strict";
import { type ClientEvent, type TestClient } from "./_helpers.ts";
import {
  exportPublicKeys,
  type Identity,
  importPeerKeys,
  type PeerKeys,
  signChallenge,
} from "../protocol/e2e.ts";
import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import { encodeFrame, FrameDecoder } from "../protocol/frame.ts";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  PROTOCOL_VERSION,
} from "../protocol/messages.ts";
import { concatBytes, deadline, writeAll } from "./_util.ts";

/** A `rejects` validator: a PeerstreamError with one of the codes. */
export function hasCode(...codes: ErrorCode[]): (error: unknown) => boolean {
  return (error) => {
    ok(error instanceof PeerstreamError, `expected a PeerstreamError, got ${error}`);
    ok(codes.includes(error.code), `expected ${codes.join(" or ")}, got ${error.code}`);
    ok(error.message.length > 0);
    return true;
  };
}

/** Waits for an event that arrived at or after index `from`. */
export function waitForNew(
  client: TestClient,
  from: number,
  predicate: (event: ClientEvent) => boolean,
): Promise<ClientEvent> {
  return client.waitFor((e) => client.events.indexOf(e) >= from && predicate(e));
}

/** The texts of the messages `client` got from event `from` on. */
export function messagesOf(client: TestClient, from = 0): string[] {
  return client.events.slice(from).flatMap((e) => e.kind === "message" ? [e.message.text] : []);
}

/** The warnings `client` got from event `from` on. */
export function warningsOf(client: TestClient, from = 0): string[] {
  return client.events.slice(from).flatMap((e) => e.kind === "warning" ? [e.code] : []);
}

/** Quits every client that was connected. */
export async function quitAll(clients: readonly (TestClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => c?.session.quit()));
}

/** A protocol client without the ClientSession's checks: it sends exactly what it is told. */
export class RawClient {
  readonly #conn: Deno.TcpConn;
  readonly #decoder = new FrameDecoder();
  readonly #queue: Message[] = [];
  readonly #buffer = new Uint8Array(64 * 1024);
  #reading?: Promise<number | null>;
  #challenge?: Uint8Array;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** The next message from the server, within the deadline. */
  async next(timeoutMs = 5000): Promise<Message> {
    while (this.#queue.length === 0) {
      this.#reading ??= this.#conn.read(this.#buffer);
      const n = await deadline(this.#reading, timeoutMs, "raw read");
      this.#reading = undefined;
      if (n === null) throw new Error("The server closed the connection");
      for (const frame of this.#decoder.push(this.#buffer.subarray(0, n))) {
        this.#queue.push(decodeMessage(frame));
      }
    }
    return this.#queue.shift()!;
  }

  /** Skips messages until one of this type. */
  async nextOf<T extends Message["type"]>(
    type: T,
    timeoutMs = 5000,
  ): Promise<Extract<Message, { type: T }>> {
    const end = Date.now() + timeoutMs;
    while (true) {
      const message = await this.next(Math.max(1, end - Date.now()));
      if (message.type === type) return message as Extract<Message, { type: T }>;
    }
  }

  send(message: Message): Promise<void> {
    return writeAll(this.#conn, encodeMessage(message));
  }

  /** Reads the greeting and sends a signed hello for `name`, bypassing the client's name check. */
  async hello(name: string, identity: Identity): Promise<void> {
    const greeting = await this.nextOf("server-hello");
    this.#challenge = Uint8Array.fromBase64(greeting.challenge);
    await this.helloAgain(name, identity);
  }

  /** Sends another hello on the same connection (after a refusal). */
  async helloAgain(name: string, identity: Identity): Promise<void> {
    const keys = await exportPublicKeys(identity);
    const proof = await signChallenge(identity, this.#challenge!, name);
    await this.send({
      type: "hello",
      version: PROTOCOL_VERSION,
      name,
      encKey: keys.encKey,
      signKey: keys.signKey,
      proof: proof.toBase64(),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    await this.#reading?.catch(() => {});
  }
}

/**
 * A TCP man in the middle on 127.0.0.1: records every byte both ways and may rewrite the frames
 * clients send to the server.
 */
export class MitmProxy {
  readonly #listener: Deno.TcpListener;
  readonly #serverPort: number;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  /** Per proxied connection: bytes client to server (`up`) and server to client (`down`). */
  readonly links: { up: Uint8Array[]; down: Uint8Array[] }[] = [];
  /** Returns the frames to forward in place of a client's frame; forwards as is when unset. */
  rewrite?: (message: Message, frame: Uint8Array<ArrayBuffer>) => Uint8Array[];

  constructor(serverPort: number) {
    this.#serverPort = serverPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  async #accept() {
    while (true) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#serverPort });
      this.#conns.add(client);
      this.#conns.add(upstream);
      const link = { up: [] as Uint8Array[], down: [] as Uint8Array[] };
      this.links.push(link);
      this.#tasks.push(
        this.#pump(client, upstream, link.up, true),
        this.#pump(upstream, client, link.down, false),
      );
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, log: Uint8Array[], frames: boolean) {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        log.push(chunk);
        if (!frames) {
          await writeAll(to, chunk);
          continue;
        }
        for (const frame of decoder.push(chunk)) {
          const bytes = encodeFrame(frame.type, frame.payload);
          const out = this.rewrite?.(decodeMessage(frame), bytes) ?? [bytes];
          for (const part of out) await writeAll(to, part);
        }
      }
    } catch {
      // One side went away.
    } finally {
      this.#close(from);
      this.#close(to);
    }
  }

  #close(conn: Deno.Conn) {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Every byte seen, both directions, all connections. */
  allBytes(): Uint8Array[] {
    return this.links.flatMap((l) => [concatBytes(l.up), concatBytes(l.down)]);
  }

  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#accepting;
    for (const conn of [...this.#conns]) this.#close(conn);
    await Promise.all(this.#tasks);
  }
}

/** Returns a copy of a `send` frame whose body is replaced. */
export function withBody(message: Message, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return encodeMessage({ ...(message as Extract<Message, { type: "send" }>), body });
}

/** The peer keys of `identity`, as another client imports them. */
export async function peerKeysOf(identity: Identity): Promise<PeerKeys> {
  return await importPeerKeys(await exportPublicKeys(identity));
}

/** How long a send may take to be answered. */
export const SEND_MS = 10_000;
