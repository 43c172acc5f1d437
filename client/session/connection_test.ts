import { deepEqual, equal, ok } from "node:assert/strict";
import { FrameDecoder, MAX_FRAME_BYTES } from "../../protocol/frame.ts";
import { encodeMessage, type Message, PROTOCOL_VERSION } from "../../protocol/messages.ts";
import {
  Connection,
  type ConnectionEnd,
  type ConnectionLimits,
  isConnectionLost,
  lostConnectionError,
} from "./connection.ts";
import { FakeClock, FakeTransport, settle } from "./_testing.ts";

const LIMITS: ConnectionLimits = {
  maxQueuedBytes: 8 * 1024 * 1024,
  keepaliveMs: 30_000,
  silenceMs: 90_000,
};

function connect(
  options: { limits?: Partial<ConnectionLimits>; stuck?: boolean; rest?: Message[] } = {},
) {
  const clock = new FakeClock();
  const transport = new FakeTransport({ stuck: options.stuck });
  const received: Message[] = [];
  let id = 1;
  let ended!: (end: ConnectionEnd) => void;
  const end = new Promise<ConnectionEnd>((resolve) => ended = resolve);
  const connection = new Connection(transport, {
    greeting: {
      type: "server-hello",
      version: PROTOCOL_VERSION,
      server: "test",
      challenge: "AAAA",
    },
    decoder: new FrameDecoder(),
    rest: (options.rest ?? []).flatMap((m) => new FrameDecoder().push(encodeMessage(m))),
  }, {
    limits: { ...LIMITS, ...options.limits },
    clock,
    receive: (message) => received.push(message),
    nextId: () => id++,
    ended,
  });
  const done = connection.start();
  return { clock, transport, received, connection, end, done };
}

Deno.test("Connection pings after keepaliveMs of silence, once, and gives up after silenceMs", async () => {
  const { clock, transport, end, connection } = connect({
    limits: { keepaliveMs: 3_000, silenceMs: 9_000 },
  });
  // The check runs every keepaliveMs / 3: at 3 s exactly the server is not yet "silent for more".
  clock.advance(3_000);
  await settle();
  deepEqual(transport.types(), []);
  clock.advance(1_000);
  await settle();
  deepEqual(transport.sent, [{ type: "ping", id: 1 }]);
  clock.advance(4_000);
  await settle();
  deepEqual(transport.types(), ["ping"], "one ping per silence");
  // Anything read ends the silence: the next silence gets its own ping.
  transport.push({ type: "pong", id: 1 });
  await settle();
  clock.advance(4_000);
  await settle();
  deepEqual(transport.types(), ["ping", "ping"]);
  equal(connection.closed, false);
  clock.advance(6_000);
  const info = await end;
  equal(connection.closed, true);
  equal(info.expected, false);
  equal(info.message, "the server sent nothing for 10 s");
  equal(clock.pending, 0, "the keepalive stopped");
});

Deno.test("Connection leaves a server that does not read once more than maxQueuedBytes wait", async () => {
  const ping = encodeMessage({ type: "pong", id: 1 }).length;
  const { connection, end } = connect({ stuck: true, limits: { maxQueuedBytes: 3 * ping } });
  for (let i = 0; i < 3; i++) connection.send({ type: "pong", id: 1 });
  await settle();
  equal(connection.closed, false, "exactly at the bound");
  connection.send({ type: "pong", id: 1 });
  const info = await end;
  equal(info.expected, false);
  equal(
    info.message,
    `the server does not read what this client sends (${4 * ping} bytes waiting)`,
  );
});

Deno.test("Connection reads frames split anywhere, byte by byte, in order", async () => {
  const { transport, received, connection, end } = connect({
    rest: [{ type: "ping", id: 1 }],
  });
  const frames = [
    encodeMessage({ type: "ping", id: 2 }),
    encodeMessage({ type: "shutdown", message: "bye" }),
    encodeMessage({ type: "pong", id: 3 }),
  ];
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) all.set(f, (at += f.length) - f.length);
  for (let i = 0; i < all.length; i++) transport.pushBytes(all.subarray(i, i + 1));
  transport.end();
  const info = await end;
  deepEqual(received.map((m) => m.type), ["ping", "ping", "shutdown", "pong"]);
  equal(connection.bytesRead, all.length);
  deepEqual(info, {
    expected: false,
    message: "the server closed the connection",
    broken: undefined,
  });
});

Deno.test("Connection says a frame over the cap is the server's fault, a whole sentence", async () => {
  const { transport, end } = connect();
  const header = new Uint8Array(5);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  transport.pushBytes(header);
  const info = await end;
  ok(info.broken?.startsWith("Cannot read from the server: it sent a frame of"), info.broken);
  const error = lostConnectionError(info);
  equal(error.code, "BAD_FRAME");
  equal(isConnectionLost(error), true);
  equal(isConnectionLost(new Error(error.message)), false);
});

Deno.test("Connection.quit() says goodbye and ends as expected; close() after it does nothing", async () => {
  const { transport, connection, end, done } = connect();
  await connection.quit();
  await done;
  deepEqual(transport.types(), ["quit"]);
  const info = await end;
  equal(info.expected, true);
  equal(lostConnectionError(info).code, "UNAVAILABLE");
  connection.close();
  await connection.quit();
  deepEqual(transport.types(), ["quit"]);
});

Deno.test("Connection after the server's shutdown notice ends as expected", async () => {
  const { transport, connection, end } = connect();
  connection.expectEnd();
  transport.end();
  equal((await end).expected, true);
});
