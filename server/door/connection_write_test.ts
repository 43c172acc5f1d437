/**
 * `Connection` writing to real sockets on 127.0.0.1: control ahead of queued media and in order,
 * media dropped per stream, flush, an idempotent close, the bound on queued control bytes, and
 * `bufferedBytes` for an idle and a sending peer.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { FRAME_HEADER_BYTES } from "../../protocol/frame.ts";
import { encodeMessage } from "../../protocol/messages.ts";
import { Connection } from "./connection.ts";
import { deadline, readUntilEof, socketPair, until, writeAll } from "../../tests/_util.ts";
import { collect, media } from "../../tests/_connection.ts";

// Real sockets on 127.0.0.1; Deno's resource and op sanitizers stay on, so every test closes
// both ends and awaits every promise it starts.

Deno.test("Connection.send() writes control messages ahead of queued media", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const chunks = 6;
  const written: Promise<void>[] = [];
  for (let i = 0; i < chunks; i++) {
    written.push(connection.sendMedia(1, { index: i, data: media(1, i, 32 * 1024) }));
  }
  ok(connection.send({ type: "ping", id: 42 }));
  ok(connection.send({ type: "pong", id: 43 }));
  await deadline(Promise.all(written));
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  equal(messages.length, chunks + 2);
  const order = messages.map((m) => m.type === "media" ? `m${m.index}` : m.type);
  const ping = order.indexOf("ping");
  // At most the one media chunk already in flight may precede the control messages.
  ok(ping >= 0 && ping <= 1, order.join(","));
  equal(order[ping + 1], "pong", order.join(","));
  // Media keeps its own order.
  deepEqual(
    order.filter((o) => o.startsWith("m")),
    Array.from({ length: chunks }, (_, i) => `m${i}`),
  );
  for (const message of messages) {
    if (message.type === "media") deepEqual(message.data, media(1, message.index, 32 * 1024));
  }
});

Deno.test("Connection.send() keeps the order of many control messages written together", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  for (let id = 0; id < 200; id++) ok(connection.send({ type: "ping", id }));
  await deadline(connection.flush());
  equal(connection.queuedBytes, 0);
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  deepEqual(messages, Array.from({ length: 200 }, (_, id) => ({ type: "ping", id })));
});

Deno.test("Connection.dropMedia() drops queued media of one stream only", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const written: Promise<void>[] = [];
  for (let i = 0; i < 4; i++) {
    written.push(connection.sendMedia(1, { index: i, data: media(1, i, 1000) }));
    written.push(connection.sendMedia(2, { index: i, data: media(2, i, 1000) }));
  }
  connection.dropMedia(1);
  // Dropped chunks resolve too, so a sender never waits forever.
  await deadline(Promise.all(written));
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  const got = messages.map((m) => m.type === "media" ? `${m.streamId}:${m.index}` : m.type);
  // Stream 1's first chunk was already being written when dropMedia() ran.
  deepEqual(got, ["1:0", "2:0", "2:1", "2:2", "2:3"]);
});

Deno.test("Connection.dropMedia() does nothing for a stream with no queued media", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  connection.dropMedia(5);
  const done = connection.sendMedia(2, { index: 0, data: media(2, 0, 10) });
  connection.dropMedia(5);
  await deadline(done);
  await deadline(connection.flush());
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  equal(messages.length, 1);
});

Deno.test("Connection.flush() resolves at once when idle, and after all queued bytes are written", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  await deadline(connection.flush());
  equal(connection.bytesWritten, 0);
  const ping = encodeMessage({ type: "ping", id: 1 });
  connection.send({ type: "ping", id: 1 });
  const done = connection.sendMedia(3, { index: 0, data: media(3, 0, 100_000) });
  connection.sendMedia(3, { index: 1, data: media(3, 1, 10) });
  ok(connection.queuedBytes > 0);
  await deadline(connection.flush());
  await done;
  equal(connection.queuedBytes, 0);
  equal(
    connection.bytesWritten,
    ping.length + 2 * (FRAME_HEADER_BYTES + 8) + 100_000 + 10,
  );
  connection.close();
  const messages = await deadline(readUntilEof(client));
  client.close();
  deepEqual(messages.map((m) => m.type), ["ping", "media", "media"]);
});

Deno.test("Connection.close() is idempotent and calls onClose once", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  let closes = 0;
  connection.onClose = () => closes++;
  equal(connection.closed, false);
  ok(connection.remote.startsWith("127.0.0.1:"));
  equal(connection.remoteHost, "127.0.0.1");
  connection.close();
  connection.close();
  equal(closes, 1);
  equal(connection.closed, true);
  // After close, sends are refused and nothing waits.
  equal(connection.send({ type: "ping", id: 1 }), false);
  await deadline(connection.sendMedia(1, { index: 0, data: new Uint8Array(4) }));
  await deadline(connection.flush());
  equal(connection.queuedBytes, 0);
  connection.close();
  equal(closes, 1);
  equal(connection.closeReason, "closed by the server", "the first reason given stays");
  // The peer sees EOF.
  equal(await deadline(client.read(new Uint8Array(16))), null);
  client.close();
});

Deno.test("Connection.send() closes the connection when queued control bytes pass the bound", async () => {
  const { server, client } = await socketPair();
  const size = encodeMessage({ type: "ping", id: 1 }).length;
  const connection = new Connection(server, { maxQueuedControlBytes: size });
  let closes = 0;
  connection.onClose = () => closes++;
  // The first is taken for writing at once; the second waits (exactly at the bound).
  equal(connection.send({ type: "ping", id: 1 }), true);
  equal(connection.send({ type: "ping", id: 2 }), true);
  equal(connection.closeReason, undefined);
  equal(connection.send({ type: "ping", id: 3 }), false);
  equal(connection.closed, true);
  equal(closes, 1);
  equal(connection.closeReason, `SLOW_CONSUMER: over ${size} bytes of control data queued`);
  await deadline(connection.flush());
  await deadline(readUntilEof(client));
  client.close();
});

Deno.test("Connection.bufferedBytes stays small for an idle peer and grows with what it sends", async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server);
  const reading = collect(connection);
  // An idle or handshaking peer costs a few kilobytes: no 64 KiB read or write buffer up front.
  ok(connection.bufferedBytes <= 8 * 1024, `${connection.bufferedBytes} bytes idle`);
  // A peer that declared a frame of almost 1 MiB and sent 40 bytes of it costs about as much again.
  const big = encodeMessage({ type: "send", id: 1, to: "bob", body: new Uint8Array(1_000_000) });
  await writeAll(client, big.subarray(0, 40));
  // Judged once the header was read (the decoder holds a frame begun), not after a pause.
  await until(() => connection.bufferedBytes > connection.readBufferBytes, {
    ms: 10_000,
    what: "the header to be read",
  });
  ok(connection.bufferedBytes <= 8 * 1024, `${connection.bufferedBytes} bytes after a header`);
  // A busy peer gets bigger reads.
  await writeAll(client, big.subarray(40));
  await new Promise((r) => setTimeout(r, 50));
  client.close();
  equal((await deadline(reading)).length, 1);
  ok(connection.readBufferBytes === 64 * 1024, `${connection.readBufferBytes}-byte reads`);
  connection.close();
});
