/**
 * The operator's HTTP endpoints as plain functions: `/metrics` (Prometheus text), `/healthz` (the
 * process is alive) and `/readyz` (the video library is open and, in a cluster, Redis is
 * reachable). {@linkcode operatorHandler} maps a method and a path to an answer, so that it can be
 * mounted on any HTTP server (the web door, or the small listener of `metrics_listener.ts`);
 * {@linkcode parseRequestHead} reads the head of an HTTP/1.x request within a size bound. Pure.
 * @module
 */

import type { Readiness } from "./server_stats.ts";

/** An HTTP answer. */
export interface HttpAnswer {
  /** The status code. */
  status: number;
  /** Response headers, lower case. */
  headers: Record<string, string>;
  /** The body (also for `HEAD`: the HTTP layer leaves it out). */
  body: string;
}

/** What the endpoints read. */
export interface OperatorSource {
  /** The metrics text and its content type. */
  scrape(): Promise<{ text: string; contentType: string }>;
  /** Whether the server is ready, and why not. */
  readiness(): Readiness;
}

/** The paths served. */
export const OPERATOR_PATHS = ["/metrics", "/healthz", "/readyz"] as const;

/**
 * Makes the handler of the operator's endpoints.
 *
 * @param source The metrics and the readiness.
 * @returns `(method, path) => answer`; `path` may carry a query, which is ignored.
 */
export function operatorHandler(
  source: OperatorSource,
): (method: string, path: string) => Promise<HttpAnswer> {
  return async (method, path) => {
    const route = path.split("?")[0];
    if (!(OPERATOR_PATHS as readonly string[]).includes(route)) {
      return text(404, "Not found: use /metrics, /healthz or /readyz");
    }
    if (method !== "GET" && method !== "HEAD") {
      return { ...text(405, "Method not allowed: use GET"), headers: allow() };
    }
    // A HEAD answer keeps its body: the server writing it leaves it out (and keeps its length).
    return await answerFor(route, source);
  };
}

async function answerFor(route: string, source: OperatorSource): Promise<HttpAnswer> {
  if (route === "/healthz") return text(200, "ok");
  if (route === "/readyz") {
    const { ready, reason } = source.readiness();
    return ready ? text(200, "ready") : text(503, `not ready: ${oneLine(reason ?? "starting")}`);
  }
  const { text: body, contentType } = await source.scrape();
  return { status: 200, headers: { "content-type": contentType, ...NO_STORE }, body };
}

const NO_STORE = { "cache-control": "no-store" };

function allow(): Record<string, string> {
  return { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD", ...NO_STORE };
}

function text(status: number, body: string): HttpAnswer {
  return {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...NO_STORE },
    body: `${body}\n`,
  };
}

function oneLine(reason: string): string {
  // deno-lint-ignore no-control-regex -- a reason is one line of visible text
  return reason.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 300);
}

/** The longest request head read, bytes (request line and headers). */
export const MAX_HEAD_BYTES = 8 * 1024;

/** A request head, read. */
export interface RequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target, e.g. `/metrics`. */
  path: string;
}

/**
 * Reads the head of an HTTP/1.x request from the bytes received so far.
 *
 * @param bytes The bytes received.
 * @returns The method and path once the head (up to the empty line) is complete, or `null` while
 * it is not.
 * @throws {RangeError} When the head is longer than {@linkcode MAX_HEAD_BYTES}.
 * @throws {SyntaxError} When the request line is not `METHOD PATH HTTP/1.x`.
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead | null {
  const end = indexOfBlankLine(bytes);
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) {
      throw new RangeError(
        `Cannot read the request: its head exceeds ${MAX_HEAD_BYTES} bytes; send a shorter one`,
      );
    }
    return null;
  }
  if (end > MAX_HEAD_BYTES) {
    throw new RangeError(
      `Cannot read the request: its head exceeds ${MAX_HEAD_BYTES} bytes; send a shorter one`,
    );
  }
  const head = new TextDecoder().decode(bytes.subarray(0, end));
  const line = head.split("\n", 1)[0].replace(/\r$/, "");
  const match = /^([A-Z]{1,16}) (\/[\x21-\x7e]*) HTTP\/1\.[01]$/.exec(line);
  if (match === null) {
    throw new SyntaxError(
      "Cannot read the request: expected METHOD /PATH HTTP/1.1; send e.g. GET /metrics HTTP/1.1",
    );
  }
  return { method: match[1], path: match[2] };
}

/** Where the head ends (`\r\n\r\n` or `\n\n`), or -1. */
function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length - 1; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i + 1] === 0x0a) return i;
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i;
  }
  return -1;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/**
 * An answer as HTTP/1.1 response bytes, closing the connection after it.
 *
 * @param answer The answer.
 * @param method The request's method (`HEAD` keeps the length of the body it leaves out).
 * @returns The bytes.
 */
export function encodeAnswer(answer: HttpAnswer, method = "GET"): Uint8Array {
  const body = new TextEncoder().encode(answer.body);
  const headers = { ...answer.headers, "content-length": String(body.length), connection: "close" };
  const head = `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? "Status"}\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
  const headBytes = new TextEncoder().encode(head);
  if (method === "HEAD") return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}
