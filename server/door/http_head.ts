/**
 * HTTP/1.1 request heads and responses as pure functions over bytes, for the web door
 * (`http_door.ts`): where a head ends, what it says (strictly: a malformed head is refused, never
 * guessed at), and a response's bytes. Nothing here calls `Deno.*`.
 * @module
 */

/** The largest request head, bytes: past it the request is refused with 431. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A parsed request head. */
export interface RequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target as sent, e.g. `/ws?x=1`. */
  target: string;
  /** The target's path, normalised as a URL's (`/a/../b` is `/b`), percent escapes kept. */
  path: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: "HTTP/1.1" | "HTTP/1.0";
  /** The header fields. */
  headers: Headers;
}

/** A response to write. */
export interface HttpResponse {
  /** The status code. */
  status: number;
  /** Header fields (lower case names); `content-length` and `connection` are set here. */
  headers?: Record<string, string>;
  /** The body, if any (not written for HEAD). */
  body?: Uint8Array | string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * Where a request head ends in `bytes`: the offset after its blank line.
 *
 * @param bytes The bytes received so far.
 * @param from Where to start looking (bytes before it were searched already).
 * @returns The offset after `\r\n\r\n`, or -1 when the head is not complete yet.
 */
export function headEnd(bytes: Uint8Array, from = 0): number {
  for (let i = Math.max(3, from); i < bytes.length; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d
    ) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Parses a request head (the bytes up to and including its blank line).
 *
 * @param bytes The head.
 * @returns What it says.
 * @throws {SyntaxError} When it is not a well-formed HTTP/1.0 or 1.1 request head: a bad request
 * line, a field without a colon, a folded line, a bad name or value, or a control character.
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead {
  // latin1 keeps every byte one character: nothing a peer sends can fail to decode.
  const text = new TextDecoder("latin1").decode(bytes);
  const lines = text.split("\r\n");
  // The head ends with an empty line, which split() gives as two empty strings at the end.
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  const [requestLine, ...fields] = lines;
  const parts = (requestLine ?? "").split(" ");
  if (parts.length !== 3) {
    throw new SyntaxError("Invalid request line: expected METHOD TARGET HTTP/1.1");
  }
  const [method, target, version] = parts;
  if (!TOKEN.test(method)) throw new SyntaxError("Invalid request line: bad method");
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new SyntaxError("Invalid request line: only HTTP/1.0 and HTTP/1.1 are served");
  }
  // deno-lint-ignore no-control-regex -- no control character or space may be in a target
  if (!target.startsWith("/") || /[\u0000-\u0020\u007f-\u00ff]/.test(target)) {
    throw new SyntaxError("Invalid request line: the target must be a path");
  }
  const headers = new Headers();
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon <= 0) throw new SyntaxError("Invalid header field: no name and colon");
    const name = field.slice(0, colon);
    const value = field.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!TOKEN.test(name)) throw new SyntaxError("Invalid header field: bad name");
    // deno-lint-ignore no-control-regex -- field values may not hold control characters
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
      throw new SyntaxError("Invalid header field: a control character in a value");
    }
    try {
      headers.append(name, value);
    } catch (error) {
      // Whatever else `Headers` refuses is a malformed request, not an internal error.
      throw new SyntaxError("Invalid header field: refused by Headers", { cause: error });
    }
  }
  const path = new URL(target, "http://door.invalid").pathname;
  return { method, target, path, version, headers };
}

/**
 * Whether the connection may stay open after answering this request (HTTP/1.1 without
 * `Connection: close`, and no request body the door would have to skip).
 *
 * @param head The request.
 * @returns True to keep it alive.
 */
export function keepsAlive(head: RequestHead): boolean {
  const connection = (head.headers.get("connection") ?? "").toLowerCase();
  if (head.version !== "HTTP/1.1" || /(^|,)\s*close\s*(,|$)/.test(connection)) return false;
  const length = head.headers.get("content-length");
  return head.headers.get("transfer-encoding") === null && (length === null || length === "0");
}

/**
 * A response's bytes: status line, fields, `content-length` (not for 101), `connection`, and the
 * body unless the request was HEAD.
 *
 * @param response What to say.
 * @param options Whether the request was HEAD, and whether the connection stays open.
 * @returns The bytes to write.
 */
export function encodeResponse(
  response: HttpResponse,
  options: { head: boolean; keepAlive: boolean },
): Uint8Array<ArrayBuffer> {
  const body = typeof response.body === "string"
    ? new TextEncoder().encode(response.body)
    : response.body ?? new Uint8Array(0);
  const fields = { ...response.headers };
  if (response.status !== 101) {
    fields["content-length"] = String(body.length);
    fields["connection"] = options.keepAlive ? "keep-alive" : "close";
  }
  let text = `HTTP/1.1 ${response.status} ${REASONS[response.status] ?? "Unknown"}\r\n`;
  for (const [name, value] of Object.entries(fields)) text += `${name}: ${value}\r\n`;
  text += "\r\n";
  const head = new TextEncoder().encode(text);
  const sent = options.head || response.status === 101 ? new Uint8Array(0) : body;
  const out = new Uint8Array(head.length + sent.length);
  out.set(head);
  out.set(sent, head.length);
  return out;
}
