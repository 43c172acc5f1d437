/**
 * The PROXY-protocol adapter of the transport seam. Behind a TCP load balancer every client comes
 * from the balancer's address; a balancer listed with `serve --trust-proxy` sends a PROXY header
 * first (v1 or v2), and this adapter reads it and reports the client's real address as
 * `remoteAddr`, so that per-address limits and logs see real clients.
 *
 * The rules:
 * - From a trusted address, a header is required: a connection that sends anything else, or
 *   nothing within the deadline, is refused (closed before the handshake). A `LOCAL`/`UNKNOWN`
 *   header (the balancer's own health check) keeps the balancer's address.
 * - From any other address, nothing is read ahead: the bytes go to the protocol as they are, so
 *   a header sent by an untrusted client is not honoured; it fails framing like any other bad
 *   frame (the connection is closed with `FRAME_TOO_LARGE` or `BAD_FRAME`).
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import { MAX_PROXY_HEADER_BYTES, parseProxyHeader } from "./proxy_protocol.ts";
import type { Transport } from "./transport.ts";

/**
 * Parses `--trust-proxy ADDR[,ADDR]`.
 *
 * @param text Comma-separated IPv4 or IPv6 addresses.
 * @returns The addresses, in the form `Deno.Conn.remoteAddr` reports them.
 * @throws {TypeError} When an entry is not an IP address.
 */
export function parseTrustedProxies(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(item) && item.split(".").every((o) => Number(o) <= 255)) {
      out.add(item);
    } else if (/^[0-9A-Fa-f:.]{2,45}$/.test(item) && URL.canParse(`http://[${item}]/`)) {
      out.add(new URL(`http://[${item}]/`).hostname.slice(1, -1));
    } else {
      throw new TypeError(
        `Invalid --trust-proxy "${item.slice(0, 50)}": use IP addresses such as 10.0.0.5,::1`,
      );
    }
  }
  return out;
}

/** Options for {@linkcode acceptProxied}. */
export interface ProxyOptions {
  /** Addresses of trusted balancers. */
  trusted: ReadonlySet<string>;
  /** How long a trusted balancer has to send the header, ms. @default {5000} */
  timeoutMs?: number;
}

/**
 * Reads the PROXY header of a connection from a trusted balancer.
 *
 * @param conn The accepted connection.
 * @param options The trusted addresses and the deadline.
 * @returns `conn` itself when it is not from a trusted address; otherwise a transport whose
 * `remoteAddr` is the client's and whose first reads give the bytes that followed the header.
 * @throws {PeerstreamError} When a trusted address sends no valid header (`BAD_FRAME`), none in
 * time (`HANDSHAKE_TIMEOUT`), or fails or closes first (`UNAVAILABLE`); the caller closes the
 * connection.
 */
export async function acceptProxied(conn: Transport, options: ProxyOptions): Promise<Transport> {
  const addr = conn.remoteAddr;
  if (addr.transport !== "tcp" || !options.trusted.has(addr.hostname)) return conn;
  const timeoutMs = options.timeoutMs ?? 5000;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }, timeoutMs);
  const buffer = new Uint8Array(MAX_PROXY_HEADER_BYTES);
  let filled = 0;
  try {
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buffer.subarray(filled));
      } catch (error) {
        throw late ? _late(timeoutMs, error) : _refused("UNAVAILABLE", "read failed", error);
      }
      if (n === null) {
        throw late ? _late(timeoutMs) : _refused("UNAVAILABLE", "closed before a PROXY header");
      }
      filled += n;
      let parsed;
      try {
        parsed = parseProxyHeader(buffer.subarray(0, filled));
      } catch (error) {
        throw _refused("BAD_FRAME", (error as Error).message, error);
      }
      if (parsed.state === "none") {
        throw _refused("BAD_FRAME", `no PROXY header from trusted proxy ${addr.hostname}`);
      }
      if (parsed.state === "done") {
        const remoteAddr: Deno.NetAddr = parsed.header.kind === "proxy"
          ? { transport: "tcp", ...parsed.header.source }
          : addr;
        return new ProxiedTransport(conn, remoteAddr, buffer.slice(parsed.length, filled));
      }
      if (filled === buffer.length) throw _refused("BAD_FRAME", "PROXY header too long");
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A transport whose address came from a PROXY header. */
class ProxiedTransport implements Transport {
  readonly #inner: Transport;
  readonly remoteAddr: Deno.Addr;
  #early: Uint8Array;

  constructor(inner: Transport, remoteAddr: Deno.Addr, early: Uint8Array) {
    this.#inner = inner;
    this.remoteAddr = remoteAddr;
    this.#early = early;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#early.length === 0) return this.#inner.read(buffer);
    const n = Math.min(buffer.length, this.#early.length);
    buffer.set(this.#early.subarray(0, n));
    this.#early = this.#early.subarray(n);
    return Promise.resolve(n);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#inner.write(bytes);
  }

  close(): void {
    this.#inner.close();
  }
}

/** A refused balancer connection: the message is the log's reason. */
function _refused(
  code: "BAD_FRAME" | "UNAVAILABLE" | "HANDSHAKE_TIMEOUT",
  why: string,
  cause?: unknown,
): PeerstreamError {
  return new PeerstreamError(code, why, { cause });
}

function _late(timeoutMs: number, cause?: unknown): PeerstreamError {
  return _refused("HANDSHAKE_TIMEOUT", `no PROXY header within ${timeoutMs} ms`, cause);
}
