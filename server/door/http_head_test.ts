import { deepEqual, equal, throws } from "node:assert/strict";
import {
  encodeResponse,
  headEnd,
  keepsAlive,
  MAX_HEAD_BYTES,
  parseRequestHead,
} from "./http_head.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("headEnd() finds the blank line wherever the bytes were cut", () => {
  const head = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest");
  equal(headEnd(head), head.length - 4);
  for (let cut = 0; cut < head.length - 4; cut++) equal(headEnd(head.subarray(0, cut)), -1);
  // Resuming the search near the end of what was searched still finds a blank line split there.
  equal(headEnd(head, head.length - 8), head.length - 4);
  equal(headEnd(bytes("\n\n\r\n")), -1);
  equal(MAX_HEAD_BYTES, 16 * 1024);
});

Deno.test("parseRequestHead() reads the request line, fields and a normalised path", () => {
  const head = parseRequestHead(
    bytes("GET /a/../ws?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Two: a\r\nx-two:  b \r\n\r\n"),
  );
  equal(head.method, "GET");
  equal(head.target, "/a/../ws?x=1");
  equal(head.path, "/ws");
  equal(head.version, "HTTP/1.1");
  equal(head.headers.get("host"), "127.0.0.1:8080");
  equal(head.headers.get("x-two"), "a, b");
  equal(parseRequestHead(bytes("HEAD / HTTP/1.0\r\n\r\n")).version, "HTTP/1.0");
});

Deno.test("parseRequestHead() refuses malformed heads with a SyntaxError", () => {
  const table: [string, RegExp][] = [
    ["\u0016\u0003\u0001 TLS garbage\r\n\r\n", /request line/],
    ["GET /\r\n\r\n", /request line/],
    ["GET / HTTP/2.0\r\n\r\n", /HTTP\/1\.0 and HTTP\/1\.1/],
    ["G(T / HTTP/1.1\r\n\r\n", /bad method/],
    ["GET http://evil/ HTTP/1.1\r\n\r\n", /must be a path/],
    ["GET /a b HTTP/1.1\r\n\r\n", /request line/],
    ["GET / HTTP/1.1\r\nno colon\r\n\r\n", /no name and colon/],
    ["GET / HTTP/1.1\r\n folded: x\r\n\r\n", /bad name/],
    ["GET / HTTP/1.1\r\nbad name: x\r\n\r\n", /bad name/],
    ["GET / HTTP/1.1\r\nx: a\u0001b\r\n\r\n", /control character/],
  ];
  for (const [text, message] of table) {
    throws(
      () => parseRequestHead(bytes(text)),
      (e) => e instanceof SyntaxError && message.test(e.message),
      JSON.stringify(text),
    );
  }
});

Deno.test("keepsAlive() keeps HTTP/1.1 open unless told to close or a body follows", () => {
  const table: [string, boolean][] = [
    ["GET / HTTP/1.1\r\n\r\n", true],
    ["GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", false],
    ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false],
    ["GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true],
    ["POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", false],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false],
  ];
  for (const [text, alive] of table) equal(keepsAlive(parseRequestHead(bytes(text))), alive, text);
});

Deno.test("encodeResponse() writes the length and connection, and no body for HEAD or 101", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  equal(
    text(encodeResponse({ status: 200, headers: { "x-a": "1" }, body: "hi" }, {
      head: false,
      keepAlive: true,
    })),
    "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nhi",
  );
  equal(
    text(encodeResponse({ status: 404, body: "no" }, { head: true, keepAlive: false })),
    "HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\nconnection: close\r\n\r\n",
  );
  deepEqual(
    text(encodeResponse({ status: 101, headers: { upgrade: "websocket" } }, {
      head: false,
      keepAlive: false,
    })),
    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
  );
});
