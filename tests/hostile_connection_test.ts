/**
 * Hostile connections against a real `serve`: slow handshakes, byte-trickling, frames declared
 * and never sent, idle connections from one address and from many (127.0.0.2, 127.0.0.3, …), hello
 * proof storms, and log floods. Each asserts behaviour (closed at the deadline, refused, rate
 * limited) and at most a generous memory ceiling; the figures are in docs/benchmarks-history.md. Issue 9,
 * findings 3 and 4.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { exportPublicKeys, generateIdentity } from "../protocol/e2e.ts";
import { encodeFrame, MAX_FRAME_BYTES } from "../protocol/frame.ts";
import { encodeMessage, type ErrorMessage, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { readProc } from "./_proc.ts";
import { connectClient, startCli, startServer } from "./_helpers.ts";
import { type FloodSocket, loopbacks, openFrom, openMany } from "./_flood.ts";
import { RawClient } from "./_raw_client.ts";
import { until } from "./_util.ts";

const MIB = 2 ** 20;

function errorsOf(socket: { messages: { type: string }[] }): ErrorMessage[] {
  return socket.messages.filter((m): m is ErrorMessage => m.type === "error");
}

function limitsEnv(limits: Record<string, number>): Record<string, string> {
  return { PEERSTREAM_LIMITS: JSON.stringify(limits) };
}

Deno.test("slow handshakes: silence and trickled bytes end at the deadline counted from connect; a ping before hello closes at once", async () => {
  const handshakeMs = 1500;
  const server = await startServer({ env: limitsEnv({ handshakeMs }) });
  const silent = await RawClient.connect(server.port);
  const trickler = await RawClient.connect(server.port);
  const pinger = await RawClient.connect(server.port);
  try {
    const connectedAt = performance.now();
    // One byte of a hello every 100 ms: the server always has fresh bytes, never a whole frame.
    const hello = encodeMessage({
      type: "hello",
      version: PROTOCOL_VERSION,
      name: "slowpoke",
      ...(await exportPublicKeys(await generateIdentity())),
      proof: "AAAA",
    });
    let sent = 0;
    const trickling = (async () => {
      while (!trickler.closed && sent < hello.length) {
        await trickler.write(hello.subarray(sent, sent + 1));
        sent++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await pinger.write({ type: "ping", id: 1 });
    equal((await pinger.nextError()).code, "NOT_REGISTERED");
    ok(await pinger.waitClosed(5000), "a ping before hello closes the connection");

    for (const client of [silent, trickler]) {
      equal((await client.nextError(0, handshakeMs + 10_000)).code, "HANDSHAKE_TIMEOUT");
      ok(await client.waitClosed(5000));
    }
    ok(performance.now() - connectedAt >= handshakeMs, "never before the deadline");
    await trickling;
    ok(sent < hello.length, `the trickle was cut off after ${sent} of ${hello.length} bytes`);
    // Meanwhile an honest client registers as usual.
    const honest = await connectClient(server.port, "honest");
    await honest.session.quit();
    const drops = server.out.lines.filter((l) => /disconnect #\d+ .*HANDSHAKE_TIMEOUT/.test(l));
    equal(drops.length, 2, server.out.lines.join("\n"));
    await server.out.waitFor(/disconnect #\d+ .*NOT_REGISTERED: "ping" before hello/);
  } finally {
    for (const c of [silent, trickler, pinger]) {
      c.close();
      await c.done;
    }
    await server.stop();
  }
});

Deno.test("frames declared but never sent: 200 connections declaring 1 MiB cost little and close at the deadline", async () => {
  const handshakeMs = 3000;
  const server = await startServer({ env: limitsEnv({ handshakeMs }) });
  const pid = server.child.pid;
  const sockets: FloodSocket[] = [];
  try {
    const before = (await readProc(pid)).rssBytes;
    // 4 addresses × 50, under the per-address limit of 64.
    sockets.push(...await openMany(server.port, { addresses: loopbacks(20, 4), perAddress: 50 }));
    const header = new Uint8Array(5 + 100);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES);
    header[4] = 1;
    for (const socket of sockets) socket.write(header);
    await until(() => sockets.every((s) => s.messages.length > 0), {
      ms: 10_000,
      what: "greetings",
    });
    await new Promise((r) => setTimeout(r, 500));
    const held = (await readProc(pid)).rssBytes;
    console.log(
      `RSS ${(before / MIB).toFixed(1)} MiB, with 200 connections declaring 1 MiB ${
        (held / MIB).toFixed(1)
      } MiB`,
    );
    // Generous: buffers follow the 105 bytes each sent (frame_test.ts checks the allocation).
    ok(held - before < 64 * MIB, `RSS grew ${((held - before) / MIB).toFixed(1)} MiB`);
    for (const socket of sockets) ok(await socket.waitClosed(handshakeMs + 15_000));
    ok(sockets.every((s) => errorsOf(s).some((e) => e.code === "HANDSHAKE_TIMEOUT")));
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
  }
});

Deno.test("idle connections from one address: 64 are held, the rest get SERVER_FULL; a client from another address joins and chats", async () => {
  const server = await startServer({
    env: limitsEnv({ handshakeMs: 60_000, maxConnectionsPerAddress: 64 }),
  });
  const sockets: FloodSocket[] = [];
  try {
    sockets.push(...await openMany(server.port, { addresses: ["127.0.0.2"], perAddress: 300 }));
    await until(() => sockets.every((s) => s.messages.length > 0), {
      ms: 20_000,
      what: "greetings",
    });
    const held = sockets.filter((s) => s.messages[0].type === "server-hello");
    equal(held.length, 64);
    for (const socket of sockets.filter((s) => !held.includes(s))) {
      equal(errorsOf(socket)[0]?.code, "SERVER_FULL");
      ok(await socket.waitClosed(5000));
    }
    ok(held.every((s) => !s.closed));
    // Refusals are logged, but rate-limited per address.
    const refused = server.out.lines.filter((l) => /refused #\d+ 127\.0\.0\.2:/.test(l)).length;
    ok(refused >= 1 && refused <= 25, `${refused} refusal lines`);
    const cli = await startCli(server.port, "honest");
    const friend = await connectClient(server.port, "friend");
    await friend.session.sendText("honest", "hello there");
    await cli.out.waitFor(/^<friend> hello there$/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
    await friend.session.quit();
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
  }
});

Deno.test("thousands of idle connections from 40 addresses fill the server; an honest client still joins and chats, memory stays bounded", async () => {
  const maxConnections = 2000;
  const server = await startServer({
    env: limitsEnv({ maxConnections, maxConnectionsPerAddress: 64, handshakeMs: 60_000 }),
  });
  const pid = server.child.pid;
  const bystander = await connectClient(server.port, "bystander");
  const sockets: FloodSocket[] = [];
  try {
    const before = (await readProc(pid)).rssBytes;
    sockets.push(...await openMany(server.port, { addresses: loopbacks(10, 40), perAddress: 60 }));
    // Each is greeted or refused, and at most the cap is held. A connection past the cap evicts
    // the oldest squatter (greeted before, then told SERVER_FULL and closed), and a refusal is read
    // before its close: until the last ones land, the sockets see more open than the server
    // holds (2,060 of 1,999 once on a busy machine). A server over its cap for good fails here.
    const open = () => sockets.filter((s) => !s.closed).length;
    const settled = (s: FloodSocket) => s.closed || s.messages[0]?.type === "server-hello";
    await until(() => sockets.every(settled) && open() <= maxConnections - 1, {
      ms: 30_000,
      what: () =>
        `each greeted or closed (${sockets.filter((s) => !settled(s)).length} neither), at most ${
          maxConnections - 1
        } held (${open()})`,
    });
    ok(open() >= maxConnections / 2, `${open()} hostile connections held`);
    const rss = (await readProc(pid)).rssBytes;
    console.log(
      `${open()} idle connections from 40 addresses: RSS ${(before / MIB).toFixed(1)} -> ${
        (rss / MIB).toFixed(1)
      } MiB`,
    );
    ok(rss - before < 512 * MIB, `RSS grew ${((rss - before) / MIB).toFixed(1)} MiB`);
    // The server is full of connections that never registered: the oldest makes room.
    const cli = await startCli(server.port, "honest");
    await bystander.session.sendText("honest", "made it?");
    await cli.out.waitFor(/^<bystander> made it\?$/);
    await cli.type("MESSAGE bystander yes");
    await bystander.waitFor((e) => e.kind === "message" && e.message.text === "yes");
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
    // Waited for, not looked up: the line is written when the evicted connection is forgotten.
    await server.out.waitFor(/disconnect #\d+ .*SERVER_FULL: the server is full/);
    deepEqual(bystander.events.filter((e) => e.kind === "closed"), []);
    await bystander.session.quit();
  } finally {
    for (const socket of sockets) socket.destroy();
    bystander.session.close();
    await bystander.session.done;
    await server.stop();
  }
});

Deno.test("a hello proof storm: each connection closes at its third refusal and the address is rate-limited; an honest client is served", async () => {
  const limits = { hellosPerAddressPerSecond: 10, helloBurstPerAddress: 30, maxRefusedHellos: 3 };
  const server = await startServer({ env: limitsEnv(limits) });
  try {
    const keys = await exportPublicKeys(await generateIdentity());
    const bad = encodeMessage({
      type: "hello",
      version: PROTOCOL_VERSION,
      name: "storm",
      ...keys,
      proof: btoa("x".repeat(64)),
    });
    const five = new Uint8Array(bad.length * 5);
    for (let i = 0; i < 5; i++) five.set(bad, i * bad.length);
    const started = performance.now();
    const stormMs = 3000;
    const seen: FloodSocket[] = [];
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (performance.now() - started < stormMs) {
        const socket = await openFrom(server.port, "127.0.0.7");
        seen.push(socket);
        socket.write(five);
        ok(await socket.waitClosed(10_000), "every storm connection is closed");
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const verified = seen.flatMap(errorsOf).filter((e) => e.code === "KEY_INVALID").length;
    const limited = seen.flatMap(errorsOf).filter((e) => e.code === "RATE_LIMITED").length;
    for (const socket of seen) {
      ok(errorsOf(socket).filter((e) => e.code === "KEY_INVALID").length <= 3);
    }
    console.log(
      `storm: ${seen.length} connections in ${
        seconds.toFixed(1)
      } s, ${verified} proofs checked, ${limited} rate-limited`,
    );
    // The burst, then the rate: never the thousands per second of an unlimited server.
    ok(verified <= 30 + 10 * (seconds + 2), `${verified} proofs checked`);
    ok(limited > 0);
    // Connections that never register are logged per address, rate-limited: a few lines in all.
    ok(server.out.lines.length < 200, `${server.out.lines.length} log lines`);
    const honest = await connectClient(server.port, "honest");
    await honest.session.quit();
  } finally {
    await server.stop();
  }
});

Deno.test("logs cannot be flooded or forged: a 1 MiB unknown key gets a short error, titles and names are escaped, repeats are rate-limited", async () => {
  const server = await startServer({ waitReady: true, env: limitsEnv({}) });
  const raw: RawClient[] = [];
  try {
    const key = "k".repeat(MAX_FRAME_BYTES - 64);
    const frame = encodeFrame(1, new TextEncoder().encode(`{"type":"list","id":1,"${key}":1}`));
    const logBytes = () => server.out.lines.reduce((n, l) => n + l.length + 1, 0);
    const before = logBytes();
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(server.port);
      raw.push(c);
      await c.write(frame);
      const error = await c.nextError();
      equal(error.code, "BAD_FRAME");
      ok(error.message.length < 200, `${error.message.length} characters`);
      ok(await c.waitClosed(5000));
    }
    // A title and a name meant to forge lines: refused, and logged on one escaped line each.
    const forger = await RawClient.connect(server.port);
    raw.push(forger);
    await forger.register("forger", await generateIdentity());
    // Its join line comes after every line about the 20 frames.
    await server.out.waitFor(/join #\d+ "forger"/);
    ok(logBytes() - before < 20 * 600, `log grew ${logBytes() - before} bytes for 20 frames`);
    const forged = 'x\n2026-01-01 00:00:00.000 join #1 "admin" key 0000\x1b[2J';
    await forger.write({ type: "play", id: 1, title: forged, quality: "auto" });
    equal((await forger.nextError()).code, "VIDEO_NOT_FOUND");
    const namer = await RawClient.connect(server.port);
    raw.push(namer);
    await namer.hello('eve\njoin #1 "admin"', await generateIdentity());
    equal((await namer.nextError()).code, "NAME_INVALID");

    // One connection starting and stopping streams as fast as it may: its lines are rate-limited.
    for (let i = 0; i < 60; i++) {
      await forger.write({ type: "play", id: 100 + i, title: "testcard", quality: 240 });
    }
    await forger.next((m) => m.type === "stream-start" && m.re === 159, { timeoutMs: 10_000 });
    await forger.write({ type: "quit" });
    await server.out.waitFor(/leave #\d+ "forger" \(quit: quit; \d+ log lines suppressed\)/);
    const forgerLines = server.out.lines.filter((l) => /"forger"/.test(l));
    ok(forgerLines.length <= 30, `${forgerLines.length} lines for one connection`);

    for (const line of server.out.lines) {
      ok(/^(Listening on |\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )/.test(line), line);
      // deno-lint-ignore no-control-regex -- no control character may reach the log
      ok(!/[\u0000-\u001f\u007f-\u009f]/.test(line), JSON.stringify(line));
    }
    ok(!server.out.lines.some((l) => /^\S+ \S+ join #1 "admin"/.test(l)), "no forged join line");
  } finally {
    for (const c of raw) {
      c.close();
      await c.done;
    }
    await server.stop();
  }
});
