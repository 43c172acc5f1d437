/**
 * The folder `server/door/`: how bytes arrive and who may come in. Every door (TCP, TLS, the web
 * port's HTTP and WebSocket, a trusted balancer's PROXY header) is admitted here from its accept,
 * within the connection limits and a deadline per phase, and ends as a {@linkcode Transport}.
 *
 * The transport seam under a {@linkcode Connection}: a byte stream that reads into a buffer,
 * writes with backpressure (the promise resolves once the bytes are taken) and closes. A TCP or
 * TLS `Deno.Conn` is one as it is; a WebSocket or a PROXY-protocol wrapper adapts to it. Framing,
 * the write queue, backpressure bounds, stall detection and limits live above it, in
 * `connection.ts` and `server.ts`, so they hold for every transport.
 * @module
 */

/** A bidirectional byte stream to one client. */
export interface Transport {
  /**
   * Reads the next bytes into `buffer`.
   *
   * @returns How many bytes were read, or null at the end of the stream.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `bytes`; resolves once they are handed on (a slow reader makes it wait).
   *
   * @returns How many bytes were written, at least 1.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; pending reads end. */
  close(): void;
  /** The client's address, as per-address limits and logs see it. */
  readonly remoteAddr: Deno.Addr;
}
