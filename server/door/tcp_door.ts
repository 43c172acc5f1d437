/**
 * The TCP port, plain or TLS: accepts (with {@linkcode Acceptor}'s back-off and refusals out of
 * descriptors), counts each connection against its address from its accept, runs the TLS
 * handshake and the PROXY header each with a deadline, and hands the transport on to be greeted.
 * Connections in those steps are "arriving": they hold a slot, and may be evicted to make room.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { encodeMessage } from "../../protocol/messages.ts";
import { within } from "../_async.ts";
import { errorText } from "../community/community.ts";
import type { ServerLog } from "../ops/server_log.ts";
import { Acceptor, closeQuietly } from "./acceptor.ts";
import { addressGroup } from "./address_group.ts";
import type { Admit } from "./admission.ts";
import { acceptProxied } from "./proxy_transport.ts";
import { acceptTls } from "./tls_conn.ts";
import type { SecureContext } from "node:tls";
import type { Transport } from "./transport.ts";

/** An accepted connection before its transport is served. */
export interface Arrival {
  /** The peer's address. */
  host: string;
  /** When it was accepted (ms, performance.now()). */
  since: number;
  /** The accepted socket. */
  conn: Deno.Conn;
  /** Stops counting it (idempotent): when it is evicted, or once it is served or closed. */
  release: () => void;
}

/** Who a connection is, for the admission log. */
export interface Arriving {
  /** The connection's number. */
  id: number;
  /** `host:port`. */
  remote: string;
  /** When it was accepted, ms: takes a token of its address's connect rate. */
  now?: number;
}

/** Options for {@linkcode TcpDoor}. */
export interface TcpDoorOptions {
  /** The TLS context; plain TCP when absent. */
  tls?: SecureContext;
  /** Load balancers whose PROXY protocol headers give each client's real address. */
  trustedProxies?: ReadonlySet<string>;
  /** How long a TLS handshake may take, ms. */
  tlsHandshakeMs: number;
  /** The log. */
  log: ServerLog;
  /** Counts a connection against an address (undefined: in all only), or says why not. */
  admit: (host: string | undefined, who: Arriving) => Admit;
  /** Releases what `admit` counted. */
  release: (host: string | undefined) => void;
  /** The next connection number. */
  nextId: () => number;
  /** Serves a transport ready for the greeting, accepted at `since` as connection `id`. */
  serve: (socket: Transport, accepted: { since: number; id: number }) => Promise<void>;
  /** Watches a connection's handling (logs what it throws). */
  track: (handling: Promise<void>) => void;
}

/** The TCP (or TLS) port of the server. */
export class TcpDoor {
  readonly #options: TcpDoorOptions;
  readonly #acceptor: Acceptor;
  /** Accepted connections in their TLS handshake or PROXY header, oldest first. */
  readonly #arriving = new Set<Arrival>();

  /**
   * Starts accepting on a listener.
   *
   * @param listener The bound TCP listener; the door closes it on {@linkcode TcpDoor.stop}.
   * @param options TLS, proxies, admission and where transports go.
   */
  constructor(listener: Deno.Listener, options: TcpDoorOptions) {
    this.#options = options;
    const log = options.log;
    this.#acceptor = new Acceptor(listener, {
      serve: (conn) => options.track(this.#accepted(conn)),
      failed: (_error, step) => {
        if (step.log !== undefined) log.line(step.log, { event: "accept-failed", level: "warn" });
      },
      recovered: (line) => log.line(line),
      refuse: (conn) => refuseAccepted(conn, { tls: options.tls !== undefined }),
    });
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#acceptor.addr;
  }

  /** Connections in their TLS handshake or PROXY header, oldest first. */
  arrivals(): Iterable<Arrival> {
    return this.#arriving;
  }

  /** Stops accepting and closes the connections still arriving. */
  stop(): void {
    this.#acceptor.stop();
    for (const arrival of this.#arriving) closeQuietly(arrival.conn);
  }

  /** Settles once the accept loop has ended. */
  done(): Promise<void> {
    return this.#acceptor.done();
  }

  /**
   * A connection from the listener: counted against its address from this moment, so that
   * connections still in their TLS handshake or PROXY header hold a slot of their address's share
   * and nothing more; each of those steps has a deadline, then the protocol's own greeting does.
   */
  async #accepted(accepted: Deno.Conn) {
    const since = performance.now();
    // Every write is already one batch (see Connection.batch): waiting for the peer's ACK before a
    // small frame (Nagle) only delays chat, receipts and pings behind media in flight.
    if (isTcpConn(accepted)) accepted.setNoDelay(true);
    const id = this.#options.nextId();
    const from = accepted.remoteAddr as Deno.NetAddr;
    // A trusted balancer's connections count in all but not against its address: the client's
    // real address, read from the PROXY header, is what counts.
    const trusted = this.#options.trustedProxies?.has(from.hostname) ?? false;
    const host = trusted ? undefined : from.hostname;
    const verdict = this.#options.admit(host, {
      id,
      remote: `${from.hostname}:${from.port}`,
      now: since,
    });
    if (verdict !== "ok") {
      await refuseAccepted(accepted, { why: verdict, tls: this.#options.tls !== undefined });
      return;
    }
    let counted = true;
    const arrival: Arrival = {
      host: from.hostname,
      since,
      conn: accepted,
      release: () => {
        if (counted) this.#options.release(host);
        counted = false;
      },
    };
    this.#arriving.add(arrival);
    let socket: Transport | undefined;
    try {
      socket = await this.#open(arrival, id);
    } finally {
      this.#arriving.delete(arrival);
      arrival.release();
    }
    if (socket === undefined) return;
    // Counted again by its real address (the same one unless behind a balancer), at once.
    await this.#options.serve(socket, { since, id });
  }

  /**
   * The TLS handshake (with its deadline) and the PROXY header of an accepted connection.
   *
   * @returns The transport to serve, or undefined when it was closed.
   */
  async #open(arrival: Arrival, id: number): Promise<Transport | undefined> {
    const conn = arrival.conn;
    const context = this.#options.tls;
    if (context === undefined) return await this.#unwrapProxy(conn);
    const timeoutMs = this.#options.tlsHandshakeMs;
    let secured: Transport;
    try {
      // On failure or past the deadline the TCP socket is closed: the peer sees its end at once.
      secured = await acceptTls(conn, { context, timeoutMs });
    } catch (error) {
      const from = conn.remoteAddr as Deno.NetAddr;
      const remote = `${from.hostname}:${from.port}`;
      const why = error instanceof Deno.errors.TimedOut ? "TLS_HANDSHAKE_TIMEOUT" : "TLS failed";
      const log = this.#options.log;
      log.limited(
        `tls ${addressGroup(from.hostname)}`,
        `disconnect #${id} ${remote} (${why}: ${log.text(errorText(error))})`,
        { event: "disconnect", fields: { id, remote, door: "tls" } },
      );
      return undefined;
    }
    return await this.#unwrapProxy(secured);
  }

  /**
   * Behind a trusted load balancer, reads its PROXY header so that limits and logs see the real
   * client; a trusted address that sends none is refused before the handshake.
   *
   * @returns The transport to use, or undefined when the connection was refused (and closed).
   */
  async #unwrapProxy(accepted: Transport): Promise<Transport | undefined> {
    const trusted = this.#options.trustedProxies;
    if (trusted === undefined || trusted.size === 0) return accepted;
    try {
      return await acceptProxied(accepted, { trusted });
    } catch (error) {
      // acceptProxied refuses with a PeerstreamError; anything else is a fault.
      if (!(error instanceof PeerstreamError)) throw error;
      const from = accepted.remoteAddr as Deno.NetAddr;
      this.#options.log.limited(
        `refused ${from.hostname}`,
        `refused ${from.hostname}:${from.port}: ${error.message}`,
        { event: "refused", level: "warn", fields: { reason: "proxy" } },
      );
      // Closed already if its deadline passed.
      closeQuietly(accepted);
      return undefined;
    }
  }
}

/** The errors a refused plain TCP connection gets, encoded once. */
const REFUSAL_FRAMES = {
  full: encodeMessage({
    type: "error",
    code: "SERVER_FULL",
    message: "Cannot connect: the server has reached its connection limit; try again later",
  }),
  rate: encodeMessage({
    type: "error",
    code: "RATE_LIMITED",
    message: "Cannot connect: your address opens connections too fast; wait a second and retry",
  }),
};

/**
 * Refuses a connection right after accept: on a plain TCP port it gets `SERVER_FULL` or
 * `RATE_LIMITED` (one write, not awaited long); on a TLS port it is closed before any handshake
 * work.
 */
async function refuseAccepted(
  conn: Deno.Conn,
  options: { why?: Admit; tls?: boolean } = {},
) {
  if (!options.tls) {
    await within(
      conn.write(options.why === "rate-limited" ? REFUSAL_FRAMES.rate : REFUSAL_FRAMES.full),
      200,
    );
  }
  closeQuietly(conn);
}

/** Whether an accepted connection is a plain TCP one (TLS connections have no Nagle switch). */
function isTcpConn(conn: Deno.Conn): conn is Deno.TcpConn {
  return typeof (conn as Partial<Deno.TcpConn>).setNoDelay === "function";
}
