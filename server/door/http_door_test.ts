import { equal, ok } from "node:assert/strict";
import { HttpDoor, type HttpDoorOptions } from "./http_door.ts";
import { MAX_HEAD_BYTES } from "./http_head.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import { ServerLog } from "../ops/server_log.ts";
import { readUntilClosed, writeAll } from "../../tests/_ws_client.ts";
import { until } from "../../tests/_util.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function door(options: Partial<HttpDoorOptions> = {}) {
  const lines: string[] = [];
  const web = new HttpDoor({
    hostname: "127.0.0.1",
    port: 0,
    log: new ServerLog((l) => lines.push(l), { textChars: 100, linesPerSecond: 1, lineBurst: 5 }),
    limits: DEFAULT_LIMITS,
    handler: (head) => ({ status: 200, body: `you asked for ${head.path}` }),
    ...options,
  });
  const { port } = web.start();
  return { web, port, lines };
}

async function connect(port: number): Promise<Deno.Conn> {
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

Deno.test("HttpDoor answers keep-alive requests in order and closes after the last one allowed", async () => {
  const limits = { ...DEFAULT_LIMITS, webRequestsPerConnection: 3 };
  const { web, port } = door({ limits });
  const conn = await connect(port);
  try {
    // Four pipelined requests: three answered, then the connection is closed.
    await writeAll(
      conn,
      new TextEncoder().encode(
        [1, 2, 3, 4].map((n) => `GET /${n} HTTP/1.1\r\nHost: a\r\n\r\n`).join(""),
      ),
    );
    const { closed, data } = await readUntilClosed(conn, 10_000);
    ok(closed);
    const answers = text(data).split("HTTP/1.1 200 OK").slice(1);
    equal(answers.length, 3);
    ok(answers[0].includes("connection: keep-alive") && answers[0].endsWith("/1"));
    ok(answers[2].includes("connection: close") && answers[2].endsWith("/3"));
  } finally {
    await web.shutdown();
  }
});

Deno.test("HttpDoor closes a connection whose head does not arrive within its deadline, counted from accept", async () => {
  const limits = { ...DEFAULT_LIMITS, webRequestHeadMs: 400 };
  const { web, port } = door({ limits });
  const conn = await connect(port);
  try {
    const started = performance.now();
    // A head trickled a byte at a time never completes in time.
    const trickle = (async () => {
      for (const byte of new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n")) {
        if (!(await conn.write(Uint8Array.of(byte)).then(() => true, () => false))) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const { closed, bytes } = await readUntilClosed(conn, 10_000);
    await trickle;
    ok(closed);
    equal(bytes, 0, "no answer to a head that never came");
    ok(performance.now() - started >= 350);
  } finally {
    await web.shutdown();
  }
});

Deno.test("HttpDoor answers 431 to a head over the limit and 400 to a malformed one, logging each once", async () => {
  const { web, port, lines } = door();
  try {
    const big = await connect(port);
    await writeAll(
      big,
      new TextEncoder().encode(`GET / HTTP/1.1\r\nX: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`),
    ).catch(() => {});
    ok(text((await readUntilClosed(big, 10_000)).data).startsWith("HTTP/1.1 431 "));
    const bad = await connect(port);
    await writeAll(bad, new TextEncoder().encode("HELLO\r\n\r\n"));
    ok(text((await readUntilClosed(bad, 10_000)).data).startsWith("HTTP/1.1 400 "));
    equal(lines.filter((l) => /web: bad request from 127\.0\.0\.1/.test(l)).length, 2);
  } finally {
    await web.shutdown();
  }
});

Deno.test("HttpDoor admits each connection from accept until it closes, and answers 503 when refused", async () => {
  let counted = 0;
  const { web, port } = door({
    admit: () => {
      if (counted >= 1) return undefined;
      counted++;
      return () => counted--;
    },
  });
  try {
    const first = await connect(port);
    // Accepted and counted before it sent anything.
    await until(() => counted === 1, { ms: 10_000, what: "the first connection to be counted" });
    const second = await connect(port);
    await writeAll(second, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    const refused = await readUntilClosed(second, 10_000);
    ok(text(refused.data).startsWith("HTTP/1.1 503 "), text(refused.data));
    equal(counted, 1);
    first.close();
    await until(() => counted === 0, { ms: 10_000, what: "the place to be released once closed" });
  } finally {
    await web.shutdown();
  }
});
