/**
 * A loopback TCP relay in front of `serve --web` that reads what the server sends a page over its
 * WebSocket and can slip in messages of its own: on that link it is the server, so a test can play
 * a server that makes up a membership change. HTTP passes through as bytes; on the connection the
 * server answers `101 Switching Protocols`, its WebSocket frames (unmasked, server to client) are
 * parsed, their payloads decoded as peerstream frames, and each frame passed on as it came. An
 * injected message goes as a WebSocket message of its own between two of the server's, which carry
 * whole peerstream frames.
 * @module
 */

import { FrameDecoder } from "../protocol/frame.ts";
import { decodeMessage, encodeMessage, type Message } from "../protocol/messages.ts";

/** A running tap. */
export interface WsTap {
  /** The port the browser opens instead of the server's web port. */
  port: number;
  /** Every message the server sent over the WebSocket, in order. */
  received: Message[];
  /** Sends the page a message as if the server had sent it. */
  inject(message: Message): Promise<void>;
  /** Stops accepting and closes every relayed connection. */
  close(): Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** An unmasked binary WebSocket frame, as a server sends it. */
function wsBinary(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? [0x82, n] : n < 65536 ? [0x82, 126, n >> 8, n & 255] : [
    0x82,
    127,
    ...new Array(4).fill(0),
    (n >>> 24) & 255,
    (n >>> 16) & 255,
    (n >>> 8) & 255,
    n & 255,
  ];
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** Parses WebSocket frames from the server's bytes, one chunk at a time. */
class WsFrames {
  #buffer = new Uint8Array(0);

  /** Adds bytes; returns the whole frames found, as bytes and their binary payloads. */
  push(chunk: Uint8Array): { raw: Uint8Array; payload?: Uint8Array }[] {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    const out = [];
    let at = 0;
    while (joined.length - at >= 2) {
      const opcode = joined[at] & 0x0f;
      let length = joined[at + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (joined.length - at < 4) break;
        length = (joined[at + 2] << 8) | joined[at + 3];
        header = 4;
      } else if (length === 127) {
        if (joined.length - at < 10) break;
        length = new DataView(joined.buffer, at + 2, 8).getUint32(4);
        header = 10;
      }
      if (joined.length - at < header + length) break;
      const raw = joined.slice(at, at + header + length);
      const payload = opcode === 2 ? raw.subarray(header) : undefined;
      out.push({ raw, ...(payload === undefined ? {} : { payload }) });
      at += header + length;
    }
    this.#buffer = joined.slice(at);
    return out;
  }
}

/**
 * Starts a tap in front of a server's web port.
 *
 * @param webPort The server's web port.
 * @returns The tap.
 */
export function startWsTap(webPort: number): WsTap {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Message[] = [];
  const conns = new Set<Deno.Conn>();
  const relays: Promise<void>[] = [];
  /** Writes to the page on the upgraded connection, in order. */
  let toPage: ((bytes: Uint8Array) => Promise<void>) | undefined;
  const accepting = (async () => {
    for await (const client of listener) {
      conns.add(client);
      relays.push(
        relay(client, webPort, conns, received, (write) => toPage = write).catch(() => {}),
      );
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    async inject(message) {
      if (toPage === undefined) throw new Error("The tap has no WebSocket to the page yet");
      await toPage(wsBinary(encodeMessage(message)));
    },
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await Promise.all(relays);
    },
  };
}

async function relay(
  client: Deno.Conn,
  webPort: number,
  conns: Set<Deno.Conn>,
  received: Message[],
  upgraded: (write: (bytes: Uint8Array) => Promise<void>) => void,
): Promise<void> {
  const server = await Deno.connect({ hostname: "127.0.0.1", port: webPort });
  conns.add(server);
  let writing = Promise.resolve();
  const write = (bytes: Uint8Array) => {
    writing = writing.then(() => writeAll(client, bytes)).catch(() => {});
    return writing;
  };
  const up = client.readable.pipeTo(server.writable).catch(() => {});
  let head = new Uint8Array(0);
  let frames: WsFrames | undefined;
  const decoder = new FrameDecoder();
  try {
    for await (const chunk of server.readable) {
      if (frames === undefined) {
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        const text = new TextDecoder().decode(joined);
        const end = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/1.1 101") || end < 0) {
          // Plain HTTP (or a 101 header not complete yet, kept until it is).
          if (text.startsWith("HTTP/1.1 101")) head = joined;
          else await write(chunk);
          continue;
        }
        const headerBytes = new TextEncoder().encode(text.slice(0, end + 4)).length;
        await write(joined.subarray(0, headerBytes));
        frames = new WsFrames();
        upgraded(write);
        head = joined.slice(headerBytes);
        if (head.length === 0) continue;
      }
      const bytes = head.length > 0 ? head : chunk;
      head = new Uint8Array(0);
      for (const frame of frames.push(bytes)) {
        if (frame.payload !== undefined) {
          for (const f of decoder.push(frame.payload)) received.push(decodeMessage(f));
        }
        await write(frame.raw);
      }
    }
  } finally {
    for (const conn of [client, server]) {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
    await up;
  }
}
