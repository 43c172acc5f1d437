/**
 * The server's log under attack (issue 16, item 3): floods of refused connections and peers
 * sending garbage cost a handful of lines with aggregated counts, never a stack trace; and
 * `--log-format json` for log collectors, hostile text still escaped.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { connectClient, type LineReader, startServer } from "./_helpers.ts";
import { deadline, until } from "./_util.ts";
import { RawClient } from "./_raw_client.ts";
import { generateIdentity } from "../protocol/e2e.ts";
import { type FloodSocket, loopbacks, openMany } from "./_flood.ts";

/** A summary line's count: `… (1,998 more like this in the last 10 s)`. */
const SUMMARY = /\(([\d,]+) more like this in the last \d+ s\)$/;

/**
 * How many events of a kind the log accounts for: each line written counts one, a summary the
 * count it gives.
 */
function accounted(lines: readonly string[], kind: RegExp): { events: number; lines: string[] } {
  const matching = lines.filter((line) => kind.test(line));
  let events = 0;
  for (const line of matching) {
    const summary = SUMMARY.exec(line);
    events += summary === null ? 1 : Number(summary[1].replaceAll(",", ""));
  }
  return { events, lines: matching };
}

/** Waits until the log accounts for `events` events of a kind (the summaries have come). */
async function waitAccounted(out: LineReader, kind: RegExp, events: number) {
  await until(() => accounted(out.lines, kind).events >= events, {
    ms: 60_000,
    what: () =>
      `the log to account for ${events} events ${kind} (${accounted(out.lines, kind).events}):\n${
        out.lines.join("\n")
      }`,
    everyMs: 100,
  });
}

/** Opens a connection, optionally writes bytes, reads until the server closes it. */
async function touch(port: number, bytes?: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    if (bytes !== undefined) await conn.write(bytes);
    const buffer = new Uint8Array(4096);
    while (await conn.read(buffer) !== null) {
      // Drain until the server closes.
    }
  } catch {
    // Reset by the server: closed too.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }
}

/** `count` connections, `batch` at a time (below the listen backlog). */
async function touchMany(port: number, count: number, bytes?: Uint8Array, batch = 50) {
  for (let at = 0; at < count; at += batch) {
    await deadline(
      Promise.all(Array.from({ length: Math.min(batch, count - at) }, () => touch(port, bytes))),
      60_000,
      "a batch of connections",
    );
  }
}

Deno.test("serve logs a flood of refused connections as a handful of lines with the count", async () => {
  const server = await startServer({
    args: ["--max-per-address", "2"],
    env: { PEERSTREAM_LIMITS: JSON.stringify({ handshakeMs: 120_000, logWindowMs: 2000 }) },
  });
  const held = await RawClient.connect(server.port);
  // The second connection the address may have: it registers, and leaves after the flood.
  const alice = await connectClient(server.port, "alice");
  try {
    await touchMany(server.port, 200);
    const refused = /refused #\d+ 127\.0\.0\.1:\d+: SERVER_FULL: 2 connections from this address/;
    // The summaries close the window: every refusal is accounted for, written or counted.
    await waitAccounted(server.out, refused, 200);
    const { lines } = accounted(server.out.lines, refused);
    ok(lines.length <= 25, `${lines.length} lines for 200 refusals:\n${lines.join("\n")}`);
    ok(
      lines.some((line) => Number(SUMMARY.exec(line)?.[1].replaceAll(",", "") ?? 0) >= 50),
      `an aggregated count of at least 50:\n${lines.join("\n")}`,
    );
    // The log still has room for everyone else.
    await alice.session.quit();
    await server.out.waitFor(/leave #\d+ "alice" \(quit/);
  } finally {
    held.close();
    await held.done;
    await server.stop();
  }
});

Deno.test("serve logs no stack trace when 200 peers send plain text to its TLS port", async () => {
  const server = await startServer({
    args: ["--tls-self-signed"],
    // All 200 get to their TLS handshake: the connect rate per address is not what this tests.
    env: {
      PEERSTREAM_LIMITS: JSON.stringify({
        logWindowMs: 2000,
        connectsPerAddressPerSecond: 1000,
        connectBurstPerAddress: 1000,
      }),
    },
  });
  try {
    await touchMany(
      server.port,
      200,
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    // The TLS handshake fails before the protocol greets it: one line each, a disconnect.
    const events = /disconnect #\d+ 127\.0\.0\.1:\d+/;
    await waitAccounted(server.out, events, 200);
    const { lines } = accounted(server.out.lines, events);
    ok(lines.length <= 40, `${lines.length} lines for 200 connections:\n${lines.join("\n")}`);
    const bad = server.out.lines.filter((line) => /internal error|stack| at |←/.test(line));
    equal(bad.length, 0, `no stack trace, no internal error:\n${bad.join("\n")}`);
    ok(
      lines.some((line) => /disconnect .*\(TLS failed: /.test(line)),
      `the reason is told:\n${lines.join("\n")}`,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("serve --log-format json writes one JSON object per line, hostile text escaped", async () => {
  const server = await startServer({ args: ["--log-format", "json"] });
  try {
    const namer = await RawClient.connect(server.port);
    await namer.hello("eve\n\u202e\u200bx", await generateIdentity());
    equal((await namer.nextError()).code, "NAME_INVALID");
    namer.close();
    await namer.done;
    const alice = await connectClient(server.port, "alice");
    await alice.session.quit();
    await server.out.waitFor(/"event":"leave"/);
  } finally {
    equal(await server.stop(), 0);
  }
  const records = server.out.lines.map((line) => {
    ok(!/[\u202e\u200b]/.test(line), `no raw bidi or invisible character: ${line}`);
    const record = JSON.parse(line);
    ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(record.time), line);
    ok(["info", "warn", "error"].includes(record.level), line);
    ok(typeof record.event === "string" && typeof record.msg === "string", line);
    return record;
  });
  const events = new Set(records.map((record) => record.event));
  for (const event of ["listening", "connect", "reject", "join", "leave", "shutdown", "stopped"]) {
    ok(events.has(event), `an "${event}" line among ${[...events].join(", ")}`);
  }
  const reject = records.find((record) => record.event === "reject");
  equal(reject.code, "NAME_INVALID");
  const connect = records.find((record) => record.event === "connect");
  equal(typeof connect.id, "number");
  ok(/^127\.0\.0\.1:\d+$/.test(connect.remote), connect.remote);
  equal(connect.door, "tcp");
  for (const escaped of ["\\n", "\\u202e", "\\u200b"]) {
    ok(reject.msg.includes(escaped), `${escaped} shown escaped in ${reject.msg}`);
  }
});

Deno.test("serve caps log lines in all: 200 addresses connecting at once cost a bounded number", async () => {
  // Ready first: the library's lines would be held back and counted with the flood's otherwise.
  const server = await startServer({
    waitReady: true,
    env: {
      PEERSTREAM_LIMITS: JSON.stringify({
        logTotalLinesPerSecond: 5,
        logTotalLineBurst: 20,
        logWindowMs: 2000,
      }),
    },
  });
  const sockets: FloodSocket[] = [];
  try {
    // One connection from each of 200 addresses: every address is within its own budget.
    sockets.push(...await openMany(server.port, { addresses: loopbacks(40, 200), perAddress: 1 }));
    await until(() => sockets.every((s) => s.messages.length > 0), {
      ms: 30_000,
      what: "greetings",
    });
    for (const socket of sockets) socket.destroy();
    // The flood's addresses only (127.0.0.40 to .239), not the readiness probe's.
    const kind = /(?:connect|disconnect) #\d+ 127\.0\.0\.(?:[4-9]\d|1\d\d|2[0-3]\d):\d+/;
    const total = () => {
      const { events } = accounted(server.out.lines, kind);
      const rest = server.out.lines.map((line) => / ([\d,]+) more lines from /.exec(line))
        .reduce((sum, m) => sum + (m === null ? 0 : Number(m[1].replaceAll(",", ""))), 0);
      return events + rest;
    };
    await until(() => total() >= 400, {
      ms: 60_000,
      what: () => `400 events accounted for (${total()}):\n${server.out.lines.join("\n")}`,
    });
    equal(total(), 400, `every event accounted for:\n${server.out.lines.join("\n")}`);
    const lines = server.out.lines.filter((l) => kind.test(l) || / more lines from /.test(l));
    ok(lines.length <= 80, `${lines.length} lines for 400 events from 200 addresses`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
  }
});

Deno.test("serve --web logs 200 refused WebSocket upgrades as a handful of lines with the count", async () => {
  const server = await startServer({
    args: ["--web", "127.0.0.1:0"],
    env: { PEERSTREAM_LIMITS: JSON.stringify({ logWindowMs: 2000 }) },
  });
  try {
    const line = await server.out.waitFor(/Web page at http:\/\/127\.0\.0\.1:\d+\//);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
    for (let at = 0; at < 200; at += 20) {
      await deadline(
        Promise.all(Array.from({ length: 20 }, async (_, i) => {
          const response = await fetch(`http://127.0.0.1:${port}/ws`, {
            headers: {
              upgrade: "websocket",
              connection: "Upgrade",
              "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
              "sec-websocket-version": "13",
              origin: `http://evil${at + i}.example`,
            },
          });
          await response.body?.cancel();
          equal(response.status, 403);
        })),
        60_000,
        "refused upgrades",
      );
    }
    const refused = /web: refused WebSocket from 127\.0\.0\.1:\d+: Origin "http:\/\/evil\d+/;
    await waitAccounted(server.out, refused, 200);
    const { lines } = accounted(server.out.lines, refused);
    ok(lines.length <= 25, `${lines.length} lines for 200 refusals:\n${lines.join("\n")}`);
  } finally {
    await server.stop();
  }
});
