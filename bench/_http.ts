/**
 * A minimal HTTP/1.1 client over one `Deno.connect` socket, for the HLS load viewers: one request
 * at a time on a keep-alive connection of its own. `fetch` pools connections across requests, so a
 * thousand viewers would share a handful of sockets; a real audience has one connection each.
 * It reads `Content-Length` bodies only (what a static file server sends) and hands body bytes to
 * a callback as they arrive, without collecting them.
 * @module
 */

/** Largest response head accepted, bytes. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A response once its body has been read. */
export interface HttpResponse {
  /** The status code. */
  status: number;
  /** Body bytes read. */
  bytes: number;
}

/** Receives body bytes as they arrive: the chunk, when it was read, and the bytes still due. */
export type BodyCallback = (chunk: Uint8Array, now: number, remaining: number) => void;

interface _Pending {
  path: string;
  onBody: BodyCallback;
  resolve: (response: HttpResponse) => void;
  reject: (error: Error) => void;
  head: Uint8Array[];
  headBytes: number;
  status: number;
  remaining: number;
  bytes: number;
  closeAfter: boolean;
}

const CRLFCRLF = [13, 10, 13, 10];

/**
 * Finds the end of an HTTP head (`\r\n\r\n`) in `bytes`.
 *
 * @param bytes The bytes.
 * @returns The index just past it, or -1.
 */
export function headEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + 4 <= bytes.length; i++) {
    for (let j = 0; j < 4; j++) if (bytes[i + j] !== CRLFCRLF[j]) continue outer;
    return i + 4;
  }
  return -1;
}

/**
 * Parses a response head: the status code, `Content-Length` (required) and whether the server
 * closes the connection after this response.
 *
 * @param text The head, up to the blank line.
 * @returns The parsed fields.
 * @throws {SyntaxError} On a malformed status line, a missing or invalid `Content-Length`, or a
 * chunked body.
 */
export function parseHead(text: string): { status: number; length: number; close: boolean } {
  const lines = text.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]);
  if (status === null) throw new SyntaxError(`Invalid HTTP status line "${lines[0].slice(0, 80)}"`);
  let length = -1;
  let close = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value)) throw new SyntaxError(`Invalid Content-Length "${value}"`);
      length = Number(value);
    } else if (name === "transfer-encoding" && value.toLowerCase() !== "identity") {
      throw new SyntaxError(`Cannot read a "${value}" body; the client reads Content-Length only`);
    } else if (name === "connection" && value.toLowerCase() === "close") {
      close = true;
    }
  }
  if (length < 0) throw new SyntaxError("Invalid HTTP response: no Content-Length");
  return { status: Number(status[1]), length, close };
}

/** One keep-alive HTTP/1.1 connection; requests go one at a time. */
export class HttpConnection {
  readonly #conn: Deno.Conn;
  readonly #host: string;
  #pending: _Pending | null = null;
  #closed = false;
  /** Resolves when the read loop ends. */
  readonly done: Promise<void>;

  private constructor(conn: Deno.Conn, host: string, readBytes: number) {
    this.#conn = conn;
    this.#host = host;
    this.done = this.#readLoop(readBytes);
  }

  /**
   * Opens a connection.
   *
   * @param port The server's port.
   * @param options Host and read size (64 KiB, as the peerstream load clients read).
   * @returns The connection.
   */
  static async connect(
    port: number,
    options: { hostname?: string; readBytes?: number } = {},
  ): Promise<HttpConnection> {
    const hostname = options.hostname ?? "127.0.0.1";
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new HttpConnection(conn, `${hostname}:${port}`, options.readBytes ?? 64 * 1024);
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `GET path` and resolves once the whole body has been read.
   *
   * @param path The request path.
   * @param onBody Receives the body bytes as they arrive.
   * @returns The status and body size.
   */
  get(path: string, onBody: BodyCallback): Promise<HttpResponse> {
    if (this.#closed) return Promise.reject(new Error(`Cannot GET "${path}": connection closed`));
    if (this.#pending !== null) {
      return Promise.reject(new Error(`Cannot GET "${path}": a request is in flight`));
    }
    return new Promise((resolve, reject) => {
      this.#pending = {
        path,
        onBody,
        resolve,
        reject,
        head: [],
        headBytes: 0,
        status: 0,
        remaining: -1,
        bytes: 0,
        closeAfter: false,
      };
      const request =
        `GET ${path} HTTP/1.1\r\nHost: ${this.#host}\r\nUser-Agent: peerstream-bench\r\n\r\n`;
      this.#write(new TextEncoder().encode(request));
    });
  }

  /** Closes the socket; a request in flight fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #write(bytes: Uint8Array) {
    try {
      let at = 0;
      while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #fail(error: Error) {
    const pending = this.#pending;
    this.#pending = null;
    this.close();
    pending?.reject(error);
  }

  async #readLoop(readBytes: number) {
    const buffer = new Uint8Array(readBytes);
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#consume(buffer.subarray(0, n), performance.now());
      }
    } catch (error) {
      if (!this.#closed) this.#fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#fail(new Error("Connection closed by the server"));
    }
  }

  #consume(chunk: Uint8Array, now: number) {
    const p = this.#pending;
    if (p === null) {
      this.#fail(new Error(`Unexpected ${chunk.length} bytes with no request in flight`));
      return;
    }
    let body = chunk;
    if (p.remaining < 0) {
      // Still reading the head: keep its pieces (heads are small) until the blank line.
      p.head.push(chunk.slice());
      p.headBytes += chunk.length;
      const all = p.head.length === 1 ? p.head[0] : concat(p.head, p.headBytes);
      const end = headEnd(all);
      if (end < 0) {
        if (p.headBytes > MAX_HEAD_BYTES) this.#fail(new Error("HTTP response head too large"));
        return;
      }
      const head = parseHead(new TextDecoder().decode(all.subarray(0, end - 4)));
      p.status = head.status;
      p.remaining = head.length;
      p.closeAfter = head.close;
      body = all.subarray(end);
    }
    if (body.length > p.remaining) {
      this.#fail(new Error(`Server sent ${body.length - p.remaining} bytes past the body`));
      return;
    }
    p.remaining -= body.length;
    p.bytes += body.length;
    if (body.length > 0 || p.remaining === 0) p.onBody(body, now, p.remaining);
    if (p.remaining === 0) {
      this.#pending = null;
      if (p.closeAfter) this.close();
      p.resolve({ status: p.status, bytes: p.bytes });
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
