import { deepEqual, equal, throws } from "node:assert/strict";
import { encodeAnswer, MAX_HEAD_BYTES, operatorHandler, parseRequestHead } from "./metrics_http.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function handlerWith(ready: { ready: boolean; reason?: string }) {
  return operatorHandler({
    scrape: () =>
      Promise.resolve({ text: "x_total 1\n", contentType: "text/plain; version=0.0.4" }),
    readiness: () => ready,
  });
}

Deno.test("operatorHandler() answers /metrics, /healthz and /readyz, 404 and 405 otherwise", async () => {
  const handle = handlerWith({ ready: true });
  const rows: [string, string, number, string][] = [
    ["GET", "/metrics", 200, "x_total 1\n"],
    ["GET", "/metrics?x=1", 200, "x_total 1\n"],
    ["HEAD", "/healthz", 200, "ok\n"],
    ["GET", "/healthz", 200, "ok\n"],
    ["GET", "/readyz", 200, "ready\n"],
    ["GET", "/", 404, "Not found: use /metrics, /healthz or /readyz\n"],
    ["GET", "/metricsx", 404, "Not found: use /metrics, /healthz or /readyz\n"],
    ["POST", "/metrics", 405, "Method not allowed: use GET\n"],
  ];
  for (const [method, path, status, body] of rows) {
    const answer = await handle(method, path);
    deepEqual([answer.status, answer.body], [status, body], `${method} ${path}`);
  }
  equal((await handle("GET", "/metrics")).headers["content-type"], "text/plain; version=0.0.4");
  equal((await handle("POST", "/metrics")).headers.allow, "GET, HEAD");
});

Deno.test("operatorHandler() says 503 with one line of reason while not ready", async () => {
  const answer = await handlerWith({ ready: false, reason: "Redis is\nunreachable" })(
    "GET",
    "/readyz",
  );
  deepEqual([answer.status, answer.body], [503, "not ready: Redis is unreachable\n"]);
});

Deno.test("parseRequestHead() waits for the blank line and reads METHOD PATH HTTP/1.x", () => {
  equal(parseRequestHead(bytes("")), null);
  equal(parseRequestHead(bytes("GET /metrics HTTP/1.1\r\nHost: x\r\n")), null);
  deepEqual(parseRequestHead(bytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")), {
    method: "GET",
    path: "/metrics",
  });
  deepEqual(parseRequestHead(bytes("HEAD /readyz HTTP/1.0\n\n")), {
    method: "HEAD",
    path: "/readyz",
  });
  throws(() => parseRequestHead(bytes("garbage\r\n\r\n")), SyntaxError);
  throws(() => parseRequestHead(bytes("GET metrics HTTP/1.1\r\n\r\n")), SyntaxError);
  throws(() => parseRequestHead(bytes("GET / HTTP/2\r\n\r\n")), SyntaxError);
});

Deno.test("parseRequestHead() refuses a head over MAX_HEAD_BYTES, complete or not", () => {
  const at = (n: number) => `GET /${"x".repeat(n - 20)} HTTP/1.1`;
  const fits = `${at(MAX_HEAD_BYTES - 4)}`;
  equal(parseRequestHead(bytes(`${fits}\r\n\r\n`))?.method, "GET");
  throws(() => parseRequestHead(bytes(`${at(MAX_HEAD_BYTES + 10)}\r\n\r\n`)), RangeError);
  throws(() => parseRequestHead(bytes("G".repeat(MAX_HEAD_BYTES + 1))), RangeError);
  equal(parseRequestHead(bytes("G".repeat(MAX_HEAD_BYTES))), null, "at the limit: still waiting");
});

Deno.test("encodeAnswer() writes status, length and close; HEAD keeps the length, not the body", () => {
  const answer = { status: 503, headers: { "content-type": "text/plain" }, body: "not ready: x\n" };
  const text = new TextDecoder().decode(encodeAnswer(answer));
  equal(
    text,
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nconnection: close\r\n\r\nnot ready: x\n",
  );
  const head = new TextDecoder().decode(encodeAnswer(answer, "HEAD"));
  equal(head.endsWith("content-length: 13\r\nconnection: close\r\n\r\n"), true);
});
