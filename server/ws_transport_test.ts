import { equal, ok, rejects } from "node:assert/strict";
import { encodeMessage } from "../protocol/messages.ts";
import { MAX_FRAME_BYTES } from "../protocol/frame.ts";
import { Connection, ProtocolViolation } from "./connection.ts";
import { WebSocketTransport } from "./ws_transport.ts";

/** A WebSocket server whose one connection becomes a transport, and a Deno WebSocket client. */
async function pair(): Promise<{
  transport: WebSocketTransport;
  client: WebSocket;
  received: Uint8Array[];
  close: () => Promise<void>;
}> {
  let resolve!: (t: WebSocketTransport) => void;
  const accepted = new Promise<WebSocketTransport>((r) => resolve = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    // Read before the upgrade: the request is gone after it.
    const remoteAddr = info.remoteAddr;
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    resolve(new WebSocketTransport(socket, { remoteAddr }));
    return response;
  });
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  client.binaryType = "arraybuffer";
  const received: Uint8Array[] = [];
  client.onmessage = (event) => received.push(new Uint8Array(event.data as ArrayBuffer));
  await new Promise((r) => client.onopen = r);
  const transport = await accepted;
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

Deno.test("WebSocketTransport.read() fails with BAD_FRAME on a text message", async () => {
  const { transport, client, close } = await pair();
  try {
    client.send("hello");
    await rejects(
      transport.read(new Uint8Array(16)),
      (error) => error instanceof ProtocolViolation && error.code === "BAD_FRAME",
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
      (error) => error instanceof ProtocolViolation && error.code === "FRAME_TOO_LARGE",
    );
  } finally {
    await close();
  }
});

Deno.test("WebSocketTransport.write() stays pending while the browser does not read, and resolves once it does", async () => {
  // A client that completes the upgrade, then reads nothing until told to.
  let resolve!: (t: WebSocketTransport) => void;
  const accepted = new Promise<WebSocketTransport>((r) => resolve = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    // Read before the upgrade: the request is gone after it.
    const remoteAddr = info.remoteAddr;
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    resolve(new WebSocketTransport(socket, { remoteAddr }));
    return response;
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  const transport = await accepted;
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
    const drain = (async () => {
      const buffer = new Uint8Array(1 << 20);
      while ((await conn.read(buffer)) !== null) { /* discard */ }
    })();
    equal(await pending, chunk.length);
    transport.close();
    conn.close();
    await drain.catch(() => {});
  } finally {
    transport.close();
    await server.shutdown();
  }
});
