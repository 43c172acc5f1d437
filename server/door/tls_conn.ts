/**
 * Server-side TLS over a plain accepted TCP socket, for the web door and the TCP port: `node:tls`
 * runs the TLS on top of the `Deno.Conn`, and the result reads and writes like a socket.
 *
 * Why not `Deno.listenTls`: a connection it accepted cannot be closed before its handshake ends
 * (checked on Deno 2.9.6: after `close()`, a peer that never sends a ClientHello keeps the socket
 * open for as long as it likes, a file descriptor each). Here the TCP socket stays ours, so the
 * handshake deadline really closes it.
 * @module
 */

import { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";

/** A byte stream the web door reads and writes: a TCP socket, or TLS over one. */
export interface DoorConn {
  /** Reads into `buffer`; null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; resolves with how many once taken. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; pending reads end. */
  close(): void;
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
}

let tlsModule: Promise<typeof import("node:tls")> | undefined;

/**
 * A TLS context for a certificate and key (PEM), made once per server.
 *
 * @param tls The certificate and key.
 * @returns The context.
 */
export async function secureContext(tls: { cert: string; key: string }): Promise<SecureContext> {
  // Loaded only by servers that serve https: `node:tls` costs memory the others need not pay.
  tlsModule ??= import("node:tls");
  return (await tlsModule).createSecureContext({ cert: tls.cert, key: tls.key });
}

/**
 * Runs a TLS handshake as the server on an accepted TCP socket.
 *
 * @param conn The socket; owned from now on (closed on failure).
 * @param options The context, and how long the handshake may take, ms.
 * @returns The TLS connection.
 * @throws {Error} When the handshake fails (its message says why) or the deadline passes
 * (`TimedOut`); the socket is closed either way.
 */
export async function acceptTls(
  conn: Deno.Conn,
  options: { context: SecureContext; timeoutMs: number },
): Promise<DoorConn> {
  tlsModule ??= import("node:tls");
  const { TLSSocket } = await tlsModule;
  const duplex = duplexOf(conn);
  const socket = new TLSSocket(duplex, { isServer: true, secureContext: options.context });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Deno.errors.TimedOut(`no TLS handshake within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      socket.once("secure", () => resolve());
      socket.once("error", reject);
      socket.once("close", () => reject(new Deno.errors.UnexpectedEof("closed in the handshake")));
    });
  } catch (error) {
    socket.destroy();
    duplex.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return new TlsDoorConn(socket, duplex, conn.remoteAddr as Deno.NetAddr);
}

/** A `Deno.Conn` as the Node stream `node:tls` runs over; reads pull one chunk at a time. */
function duplexOf(conn: Deno.Conn): Duplex {
  return new Duplex({
    read() {
      // Small: an idle connection holds one pending read; a TLS record spans several reads.
      const buffer = new Uint8Array(4 * 1024);
      conn.read(buffer).then(
        (n) => this.push(n === null ? null : buffer.subarray(0, n)),
        (error) => this.destroy(error),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      writeAll(conn, chunk).then(() => done(), done);
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(error, done) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      done(error);
    },
  });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** A TLS socket read by pulling, as the door reads a TCP one. */
class TlsDoorConn implements DoorConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: TLSSocket;
  readonly #duplex: Duplex;
  #rest: Uint8Array | null = null;
  #ended = false;
  #error?: Error;
  #wake?: () => void;

  constructor(socket: TLSSocket, duplex: Duplex, remoteAddr: Deno.NetAddr) {
    this.#socket = socket;
    this.#duplex = duplex;
    this.remoteAddr = remoteAddr;
    const wake = () => {
      const w = this.#wake;
      this.#wake = undefined;
      w?.();
    };
    socket.on("readable", wake);
    socket.on("end", () => {
      this.#ended = true;
      wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      wake();
    });
    socket.on("error", (error) => {
      this.#error = error;
      wake();
    });
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    for (;;) {
      const chunk = this.#rest ?? (this.#socket.read() as Uint8Array | null);
      this.#rest = null;
      if (chunk !== null && chunk.length > 0) {
        const n = Math.min(chunk.length, buffer.length);
        buffer.set(chunk.subarray(0, n));
        if (n < chunk.length) this.#rest = chunk.subarray(n);
        return n;
      }
      if (this.#error !== undefined) {
        throw new Deno.errors.ConnectionReset(this.#error.message);
      }
      if (this.#ended || this.#socket.destroyed) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("The TLS connection is closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => {
        if (error) reject(new Deno.errors.BrokenPipe(error.message));
        else resolve(bytes.length);
      });
    });
  }

  close(): void {
    this.#ended = true;
    this.#socket.destroy();
    // The TCP socket underneath: closed now, whatever TLS still wanted to say.
    this.#duplex.destroy();
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }
}
