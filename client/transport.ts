/**
 * The byte stream under a {@linkcode ClientSession}: whatever carries the frames (a TCP or TLS
 * socket in the terminal client, a WebSocket in a page). The session never touches `Deno.*`; a
 * thin factory (`connect.ts`) makes the transport.
 * @module
 */

/** A bidirectional byte stream to the server. A `Deno.Conn` is one as it is. */
export interface ByteTransport {
  /**
   * Reads the next bytes into `buffer`.
   *
   * @returns How many bytes were read, or null at the end of the stream.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `bytes`; resolves once they are handed on.
   *
   * @returns How many bytes were written, at least 1.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; a pending read ends. */
  close(): void;
}
