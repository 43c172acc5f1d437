/**
 * The socket factory under a {@linkcode ClientSession}: TCP or TLS with `Deno.connect`, the only
 * part of the session that needs Deno. A page would make a WebSocket transport instead.
 * @module
 */

import { PeerstreamError } from "../protocol/errors.ts";
import { ClientSession, type SessionOptions } from "./session.ts";
import type { ByteTransport } from "./transport.ts";

/** Options for {@linkcode connectSession}. */
export interface ConnectOptions extends SessionOptions {
  /** Server host. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Use TLS; `caCerts` adds trusted certificates (PEM). */
  tls?: { caCerts?: string[] };
  /**
   * Wraps the socket before the session uses it (tests throttle or observe the bytes).
   * @default {undefined}
   */
  wrap?: (transport: ByteTransport) => ByteTransport;
}

/**
 * Connects over TCP or TLS and waits for the server's greeting.
 *
 * @param options Address, TLS, callbacks and the known-peers table.
 * @returns The session, not yet registered.
 * @throws {PeerstreamError} When the server cannot be reached, does not greet in time, or
 * speaks another protocol version.
 */
export async function connectSession(options: ConnectOptions): Promise<ClientSession> {
  const where = `${options.hostname}:${options.port}`;
  let conn: Deno.Conn;
  try {
    conn = options.tls
      ? await Deno.connectTls({
        hostname: options.hostname,
        port: options.port,
        caCerts: options.tls.caCerts,
      })
      : await Deno.connect({ hostname: options.hostname, port: options.port });
  } catch (error) {
    throw new PeerstreamError(
      "INTERNAL",
      `Cannot connect to ${where}: ${(error as Error).message}; check that the server is running`,
      { cause: error },
    );
  }
  // Receipts, pings and messages are small writes: with Nagle on, one waits for the ACK of the
  // last (up to the server's 40 ms delayed ACK) whenever the client writes while it receives, as
  // a recipient confirming a stream of messages does.
  if (!options.tls) (conn as Deno.TcpConn).setNoDelay(true);
  const transport = options.wrap ? options.wrap(conn) : conn;
  try {
    return await ClientSession.open(transport, options);
  } catch (error) {
    if (error instanceof PeerstreamError) throw error;
    const text = (error as Error).message;
    const tlsHint = options.tls
      ? "the server may not use TLS; try without --tls"
      : "is it a peerstream server? if it uses TLS, add --tls";
    throw new PeerstreamError("BAD_FRAME", `Cannot talk to ${where}: ${text}; ${tlsHint}`, {
      cause: error,
    });
  }
}
