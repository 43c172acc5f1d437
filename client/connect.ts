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
    throw connectFailure(where, error);
  }
  // Receipts, pings and messages are small writes: with Nagle on, one waits for the ACK of the
  // last (up to the server's 40 ms delayed ACK) whenever the client writes while it receives, as
  // a recipient confirming a stream of messages does.
  if (!options.tls) (conn as Deno.TcpConn).setNoDelay(true);
  const transport = options.wrap ? options.wrap(conn) : conn;
  const remedy = options.tls
    ? "the server may not use TLS; try without --tls"
    : "is it a peerstream server? if it uses TLS, add --tls";
  return await ClientSession.open(transport, { ...options, greeting: { server: where, remedy } });
}

/** The remedy when nothing answers at an address. */
export const NOT_RUNNING_REMEDY = "is `peerstream serve` running there?";

/**
 * What a person sees when a connection cannot be made: `UNAVAILABLE`, the address, why in plain
 * words, and what to do.
 *
 * @example
 * ```ts
 * connectFailure("127.0.0.1:7878", new Deno.errors.ConnectionRefused("os error 111")).message;
 * // "Cannot connect to 127.0.0.1:7878: connection refused; is `peerstream serve` running there?"
 * ```
 *
 * @param where `HOST:PORT` as the person gave it.
 * @param error What `Deno.connect` or `Deno.connectTls` threw.
 * @returns The error to show.
 */
export function connectFailure(where: string, error: unknown): PeerstreamError {
  const [why, remedy] = _connectWhy(error);
  return new PeerstreamError("UNAVAILABLE", `Cannot connect to ${where}: ${why}; ${remedy}`, {
    cause: error,
  });
}

function _connectWhy(error: unknown): [string, string] {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return ["connection refused", NOT_RUNNING_REMEDY];
  }
  if (error instanceof Deno.errors.TimedOut) {
    return ["no answer in time", "check the address and that the server is reachable from here"];
  }
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.ConnectionAborted
  ) {
    return ["the connection was cut while opening", NOT_RUNNING_REMEDY];
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.InvalidData) {
    return [`TLS failed (${message})`, "if the certificate is self-signed, pass it with --ca FILE"];
  }
  if (/failed to lookup address|Name or service not known|No address associated/i.test(message)) {
    return ["no such host", "check the host name"];
  }
  return [message, NOT_RUNNING_REMEDY];
}
