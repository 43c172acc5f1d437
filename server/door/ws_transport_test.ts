import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { encodeMessage } from "../../protocol/messages.ts";
import { MAX_FRAME_BYTES } from "../../protocol/frame.ts";
import { Connection, isProtocolViolation } from "./connection.ts";
import { HttpDoor } from "./http_door.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import { ServerLog } from "../ops/server_log.ts";
import { websocketAccept, WS_OPCODE } from "./ws_frame.ts";
import { WebSocketTransport, type WebSocketTransportOptions } from "./ws_transport.ts";
import { clientFrame, rawUpgrade, readUntilClosed, writeAll } from "../../tests/_ws_client.ts";
import { until } from "../../tests/_util.ts";

/** A web door whose upgrades become transports. */
function wsServer(options: WebSocketTransportOptions = {}) {
  const accepted: WebSocketTransport[] = [];
  const waiters: ((t: WebSocketTransport) => void)[] = [];
  const door = new HttpDoor({
    hostname: "127.0.0.1",
    port: 0,
    log: new ServerLog(() => {}, { textChars: 100, linesPerSecond: 1, lineBurst: 1 }),
    limits: DEFAULT_LIMITS,
    handler: async (head) => ({
      status: 101,
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-accept": await websocketAccept(head.headers.get("sec-websocket-key")!),
      },
      takeOver: (socket) => {
        const transport = new WebSocketTransport(socket.conn, { rest: socket.rest, ...options });
        transport.closed.then(socket.release);
        accepted.push(transport);
        waiters.shift()?.(transport);
      },
    }),
  });
  const { port } = door.start();
  return {
    port,
    next: () =>
      accepted.length > 0
        ? Promise.resolve(accepted.shift()!)
        : new Promise<WebSocketTransport>((r) => waiters.push(r)),
    shutdown: async () => {
      for (const t of accepted) t.close();
      await door.shutdown();
    },
  };
}

/** A Deno WebSocket client and its server-side transport. */
async function pair() {
  const server = wsServer();
  const client = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  client.binaryType = "arraybuffer";
  const received: Uint8Array[] = [];
  client.onmessage = (event) => received.push(new Uint8Array(event.data as ArrayBuffer));
  await new Promise((r) => client.onopen = r);
  const transport = await server.next();
  return {
    transport,
    client,
    received,
    close: async () => {
      transport.close();
      if (client.readyState !== WebSocket.CLOSED) {
        await new Promise((r) => {
          client.onclose = r;
          client.close();
        });
      }
      await transport.closed;
      await server.shutdown();
    },
  };
}

Deno.test("WebSocketTransport.read() gives the frame stream whatever the message boundaries", async () => {
  const { transport, client, close } = await pair();
  try {
    const ping = encodeMessage({ type: "ping", id: 7 });
    const pong = encodeMessage({ type: "pong", id: 8 });
    // One frame cut across two messages, then two frames in one message.
    client.send(ping.subarray(0, 3));
    client.send(ping.subarray(3));
    const both = new Uint8Array(ping.length + pong.length);
    both.set(ping);
    both.set(pong, ping.length);
    client.send(both);
    const connection = new Connection(transport);
    const seen: string[] = [];
    for await (const message of connection.messages()) {
      seen.push(`${message.type} ${"id" in message ? message.id : ""}`);
      if (seen.length === 3) break;
    }
    equal(seen.join(", "), "ping 7, ping 7, pong 8");
    equal(transport.remoteAddr.hostname, "127.0.0.1");
  } finally {
    await close();
  }
});

Deno.test("WebSocketTransport.write() sends binary messages a browser-side WebSocket receives in order", async () => {
  const { transport, received, close } = await pair();
  try {
    const small = Uint8Array.of(1, 2, 3);
    const large = new Uint8Array(200_000).map((_, i) => i & 0xff);
    equal(await transport.write(small), 3);
    equal(await transport.write(large), large.length);
    await until(() => received.length >= 2, { ms: 10_000, what: "two messages" });
    deepEqual(received, [small, large]);
  } finally {
    await close();
  }
});

Deno.test("WebSocketTransport.read() fails with BAD_FRAME on a text message", async () => {
  const { transport, client, close } = await pair();
  try {
    client.send("hello");
    await rejects(
      transport.read(new Uint8Array(16)),
      (error) => isProtocolViolation(error) && error.code === "BAD_FRAME",
    );
  } finally {
    await close();
  }
});

Deno.test("WebSocketTransport.read() fails with FRAME_TOO_LARGE on a message over one frame", async () => {
  const { transport, client, close } = await pair();
  try {
    client.send(new Uint8Array(MAX_FRAME_BYTES + 64));
    await rejects(
      transport.read(new Uint8Array(16)),
      (error) => isProtocolViolation(error) && error.code === "FRAME_TOO_LARGE",
    );
  } finally {
    await close();
  }
});

Deno.test("WebSocketTransport.read() refuses a 60 MiB declaration at its header, before any payload, and closes with 1009", async () => {
  const server = wsServer();
  const ws = await rawUpgrade(server.port);
  try {
    equal(ws.status, 101);
    const transport = await server.next();
    // Only the header and 1 KiB of the 60 MiB it declares.
    await writeAll(
      ws.conn,
      clientFrame(WS_OPCODE.binary, new Uint8Array(1024), { length: 60 * 2 ** 20 }),
    );
    await rejects(
      transport.read(new Uint8Array(64 * 1024)),
      (error) => isProtocolViolation(error) && error.code === "FRAME_TOO_LARGE",
    );
    transport.close();
    const { closed, data } = await readUntilClosed(ws.conn, 5000);
    ok(closed, "the server closed the socket");
    // A close frame with code 1009.
    deepEqual([...data.subarray(0, 1)], [0x88]);
    equal((data[2] << 8) | data[3], 1009);
    await transport.closed;
  } finally {
    await server.shutdown();
  }
});

Deno.test("WebSocketTransport answers a ping with a pong, and a peer's close with a close", async () => {
  const server = wsServer();
  const ws = await rawUpgrade(server.port);
  try {
    const transport = await server.next();
    const reading = transport.read(new Uint8Array(1024));
    await writeAll(ws.conn, clientFrame(WS_OPCODE.ping, Uint8Array.of(7, 8)));
    await writeAll(ws.conn, clientFrame(WS_OPCODE.close, Uint8Array.of(0x03, 0xe8)));
    equal(await reading, null);
    const { closed, data } = await readUntilClosed(ws.conn, 5000);
    ok(closed);
    deepEqual([...data], [0x8a, 2, 7, 8, 0x88, 2, 0x03, 0xe8]);
    await transport.closed;
  } finally {
    await server.shutdown();
  }
});

Deno.test("WebSocketTransport.close() destroys the socket within the close deadline when the peer never answers", async () => {
  const closeMs = 500;
  const server = wsServer({ closeMs });
  const ws = await rawUpgrade(server.port);
  try {
    const transport = await server.next();
    const started = performance.now();
    transport.close();
    // The peer reads (and so sees the close frame) but never answers it.
    const { closed, data } = await readUntilClosed(ws.conn, 10_000);
    const took = performance.now() - started;
    ok(closed, "the server destroyed the socket");
    equal(data[0], 0x88);
    ok(took >= closeMs - 50, `destroyed after ${took.toFixed(0)} ms, before the peer had its time`);
    await transport.closed;
  } finally {
    await server.shutdown();
  }
});

Deno.test("WebSocketTransport.read() fails when no frame comes within the first-frame deadline", async () => {
  const server = wsServer({ firstFrameMs: 300 });
  const ws = await rawUpgrade(server.port);
  try {
    const transport = await server.next();
    await rejects(
      transport.read(new Uint8Array(16)),
      (error) =>
        isProtocolViolation(error) && error.code === "HANDSHAKE_TIMEOUT" &&
        /No WebSocket frame within 300 ms/.test(error.message),
    );
    transport.close();
    ok((await readUntilClosed(ws.conn, 5000)).closed);
  } finally {
    await server.shutdown();
  }
});

Deno.test("WebSocketTransport.write() stays pending while the browser does not read, and resolves once it does", async () => {
  const server = wsServer();
  const ws = await rawUpgrade(server.port);
  const transport = await server.next();
  try {
    const chunk = new Uint8Array(64 * 1024);
    let pending: Promise<number> | undefined;
    let written = 0;
    // Fill the socket buffers until a write waits (bounded: at most 256 MiB).
    for (let i = 0; i < 4096 && pending === undefined; i++) {
      const write = transport.write(chunk);
      const settled = await Promise.race([
        write.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 1000)),
      ]);
      if (settled) written += chunk.length;
      else pending = write;
    }
    ok(pending !== undefined, `every write resolved (${written} bytes) though nothing was read`);
    // The client reads: the waiting write completes.
    const drain = readUntilClosed(ws.conn, 30_000);
    equal(await pending, chunk.length);
    transport.close();
    await drain;
    await transport.closed;
  } finally {
    transport.close();
    await server.shutdown();
  }
});
