/**
 * A raw WebSocket client for attack tests: it sends the upgrade request it is told to, then
 * frames byte for byte as written (masked, or not), and can ignore the server's close frame.
 * @module
 */

import { encodeWsHeader } from "../server/door/ws_frame.ts";

/** An upgraded (or refused) raw socket. */
export interface RawWebSocket {
  /** The socket. */
  conn: Deno.Conn;
  /** The response's status code. */
  status: number;
  /** The response head, as text. */
  head: string;
  /** Bytes received after the response head. */
  rest: Uint8Array;
}

/** Options for {@linkcode rawUpgrade}. */
export interface RawUpgradeOptions {
  /** The `Origin` header. @default {`http://127.0.0.1:PORT`} (or https with TLS) */
  origin?: string;
  /** TLS, trusting these CA certificates. */
  tls?: { caCerts: string[] };
  /** The path. @default {"/ws"} */
  path?: string;
  /** How long the answer may take, ms. @default {10000} */
  timeoutMs?: number;
}

/**
 * Connects to 127.0.0.1:`port` and asks for a WebSocket upgrade.
 *
 * @param port The web port.
 * @param options Origin, TLS, path.
 * @returns The socket and the answer's status.
 */
export async function rawUpgrade(
  port: number,
  options: RawUpgradeOptions = {},
): Promise<RawWebSocket> {
  const conn = options.tls
    ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: options.tls.caCerts })
    : await Deno.connect({ hostname: "127.0.0.1", port });
  const host = `127.0.0.1:${port}`;
  const origin = options.origin ?? `${options.tls ? "https" : "http"}://${host}`;
  await writeAll(
    conn,
    new TextEncoder().encode(
      `GET ${options.path ?? "/ws"} HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ),
  );
  const timer = setTimeout(() => conn.close(), options.timeoutMs ?? 10_000);
  try {
    let received = new Uint8Array(0);
    const buffer = new Uint8Array(4096);
    for (;;) {
      const end = indexOfBlankLine(received);
      if (end >= 0) {
        const head = new TextDecoder().decode(received.subarray(0, end));
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        return { conn, status, head, rest: received.slice(end) };
      }
      const n = await conn.read(buffer);
      if (n === null) throw new Error("The server closed before answering the upgrade");
      const grown = new Uint8Array(received.length + n);
      grown.set(received);
      grown.set(buffer.subarray(0, n), received.length);
      received = grown;
    }
  } finally {
    clearTimeout(timer);
  }
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * A client frame (masked unless told otherwise), optionally declaring a length other than the
 * payload's (to send a header and only part of what it declares).
 *
 * @param opcode The opcode.
 * @param payload The payload sent.
 * @param options `fin` (default true), `mask` (default true), the declared `length`.
 * @returns The bytes.
 */
export function clientFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; mask?: boolean; length?: number } = {},
): Uint8Array<ArrayBuffer> {
  const header = encodeWsHeader(opcode, options.length ?? payload.length);
  if (options.fin === false) header[0] &= 0x7f;
  const mask = options.mask === false ? undefined : Uint8Array.of(0x11, 0x22, 0x33, 0x44);
  if (mask !== undefined) header[1] |= 0x80;
  const frame = new Uint8Array(header.length + (mask ? 4 : 0) + payload.length);
  frame.set(header);
  let at = header.length;
  if (mask !== undefined) {
    frame.set(mask, at);
    at += 4;
  }
  for (let i = 0; i < payload.length; i++) frame[at + i] = payload[i] ^ (mask?.[i & 3] ?? 0);
  return frame;
}

/**
 * Writes all of `bytes`.
 *
 * @param conn The socket.
 * @param bytes The bytes.
 */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/**
 * Reads until the server closes the socket (EOF or reset), or `ms` passes.
 *
 * @param conn The socket.
 * @param ms The deadline.
 * @returns The bytes read, and whether the server closed it in time.
 */
export async function readUntilClosed(
  conn: Deno.Conn,
  ms: number,
): Promise<{ closed: boolean; bytes: number; data: Uint8Array }> {
  const buffer = new Uint8Array(64 * 1024);
  const kept: number[] = [];
  let bytes = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }, ms);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytes += n;
      if (kept.length < 4096) kept.push(...buffer.subarray(0, Math.min(n, 4096 - kept.length)));
    }
  } catch {
    // Reset by the server, or closed by the timer.
  } finally {
    clearTimeout(timer);
  }
  if (!timedOut) {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }
  return { closed: !timedOut, bytes, data: Uint8Array.from(kept) };
}

/**
 * One `GET` on a fresh connection (no pooling), for checking the door answers.
 *
 * @param port The web port on 127.0.0.1.
 * @param options The path, and TLS trusting these CA certificates.
 * @returns The status code, or 0 when the connection failed or closed without an answer.
 */
export async function rawGet(
  port: number,
  options: { path?: string; tls?: { caCerts: string[] } } = {},
): Promise<number> {
  try {
    const answer = await rawUpgrade(port, { ...options, path: options.path ?? "/", origin: "" });
    answer.conn.close();
    return answer.status;
  } catch {
    return 0;
  }
}
