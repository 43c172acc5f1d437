/**
 * Robustness end to end: a table of bad inputs with their error codes (logged once, never
 * flooding), slow readers, faults (killed client, killed player, no ffmpeg, segments removed,
 * shutdown) and delivery under load.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity, type Identity, signChallenge } from "../protocol/e2e.ts";
import { encodeFrame, FrameType, MAX_FRAME_BYTES } from "../protocol/frame.ts";
import { type ErrorCode, PeerstreamError } from "../protocol/errors.ts";
import { encodeMessage, type Message, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { Connection } from "../server/door/connection.ts";
import { makeClip } from "../video/_test_media.ts";
import {
  type ClientEvent,
  connectClient,
  startCli,
  startServer,
  TEST_CACHE,
  type TestClient,
} from "./_helpers.ts";
import { RawClient, rssBytes } from "./_raw_client.ts";
import { until } from "./_util.ts";

const te = new TextEncoder();

function frame(type: number, payload: Uint8Array | string): Uint8Array {
  return encodeFrame(type, typeof payload === "string" ? te.encode(payload) : payload);
}
function header(length: number, type: number): Uint8Array {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(0, length);
  out[4] = type;
  return out;
}
function bodyFrame(json: object, body: Uint8Array): Uint8Array {
  const j = te.encode(JSON.stringify(json));
  const payload = new Uint8Array(4 + j.length + body.length);
  new DataView(payload.buffer).setUint32(0, j.length);
  payload.set(j, 4);
  payload.set(body, 4 + j.length);
  return frame(FrameType.ControlWithBody, payload);
}

interface Row {
  name: string;
  /** State the connection is in before the input. */
  state: "greeting" | "registered";
  /** The bad input; a function for inputs that need the connection (its challenge). */
  input: (c: RawClient) => Promise<Uint8Array> | Uint8Array;
  code: ErrorCode;
  /** The server closes the connection after it. */
  closes?: boolean;
  /** Setup run on the connection first (e.g. start a stream). */
  setup?: (c: RawClient) => Promise<void>;
  /** Send it this many times (only when it does not close). @default {50; 2 before hello} */
  repeat?: number;
}

// RSA key generation costs 0.1-1 s: rows share a few identities (one key may own many names).
let ids: Identity[] = [];
let nextId = 0;
async function identity(): Promise<Identity> {
  if (ids.length === 0) ids = await Promise.all([generateIdentity(), generateIdentity()]);
  return ids[nextId++ % ids.length];
}

Deno.test("server answers each bad input with its error code and logs it once per connection", async () => {
  // A small sealed-body limit makes MESSAGE_TOO_LARGE reachable below the frame's own body cap;
  // a small rate makes RATE_LIMITED quick to reach; a short handshake makes HANDSHAKE_TIMEOUT so.
  const server = await startServer({
    waitReady: true,
    env: {
      PEERSTREAM_LIMITS: JSON.stringify({
        maxSealedBytes: 8192,
        messagesPerSecond: 100,
        messageBurst: 200,
        handshakeMs: 2500,
        // Every row connects from 127.0.0.1 and most say hello with one of two keys.
        hellosPerAddressPerSecond: 1000,
        helloBurstPerAddress: 1000,
        maxNamesPerKey: 1000,
        newNamesPerAddressPerDay: 1000,
        // Each row's log lines are checked, so none may be rate-limited away.
        logLineBurst: 10_000,
      }),
    },
  });
  const owner = await connectClient(server.port, "owner");
  const other = await generateIdentity();
  const otherKeys = await (await import("../protocol/e2e.ts")).exportPublicKeys(other);
  const hello = (over: Record<string, unknown>) => (c: RawClient) =>
    (async () => {
      const me = await identity();
      const keys = await (await import("../protocol/e2e.ts")).exportPublicKeys(me);
      const name = (over.name as string | undefined) ?? "rowuser";
      const proof = (await signChallenge(me, Uint8Array.fromBase64(c.greeting.challenge), name))
        .toBase64();
      return encodeMessage(
        { type: "hello", version: PROTOCOL_VERSION, name, ...keys, proof, ...over } as Message,
      );
    })();
  const m = (message: Message) => () => encodeMessage(message);
  const rows: Row[] = [
    // ---- framing: every one closes the connection ----
    {
      name: "unknown frame type",
      state: "greeting",
      input: () => frame(9, "{}"),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "declared length limit + 1",
      state: "greeting",
      input: () => header(MAX_FRAME_BYTES + 1, 1),
      code: "FRAME_TOO_LARGE",
      closes: true,
    },
    {
      name: "declared length 0xffffffff",
      state: "registered",
      input: () => header(0xffff_ffff, 1),
      code: "FRAME_TOO_LARGE",
      closes: true,
    },
    {
      name: "invalid UTF-8",
      state: "greeting",
      input: () => frame(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "not JSON",
      state: "greeting",
      input: () => frame(1, "hello"),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "empty control frame",
      state: "greeting",
      input: () => frame(1, ""),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "JSON array",
      state: "registered",
      input: () => frame(1, "[]"),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "unknown message type",
      state: "greeting",
      input: () => frame(1, '{"type":"nope"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "inherited name as type",
      state: "greeting",
      input: () => frame(1, '{"type":"constructor"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "missing field",
      state: "registered",
      input: () => frame(1, '{"type":"list"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "extra field",
      state: "registered",
      input: () => frame(1, '{"type":"list","id":1,"x":1}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "__proto__ field",
      state: "registered",
      input: () => frame(1, '{"type":"list","id":1,"__proto__":{"x":1}}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "id is a string",
      state: "registered",
      input: () => frame(1, '{"type":"list","id":"1"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "negative id",
      state: "registered",
      input: () => frame(1, '{"type":"stop","id":-1}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "id above u32",
      state: "registered",
      input: () => frame(1, '{"type":"stop","id":4294967296}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "send without a body frame",
      state: "registered",
      input: () => frame(1, '{"type":"send","id":1,"to":"owner"}'),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "list with a body",
      state: "registered",
      input: () => bodyFrame({ type: "list", id: 1 }, new Uint8Array(3)),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "body frame under 4 bytes",
      state: "registered",
      input: () => frame(2, new Uint8Array([0, 0])),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "body frame JSON length past the end",
      state: "registered",
      input: () => frame(2, new Uint8Array([0, 0, 1, 0, 0x7b])),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "media frame shorter than its header",
      state: "registered",
      input: () => frame(3, new Uint8Array(4)),
      code: "BAD_FRAME",
      closes: true,
    },
    {
      name: "sealed body over the default 96 KiB limit: refused, connection kept",
      state: "registered",
      input: () => bodyFrame({ type: "send", id: 1, to: "owner" }, new Uint8Array(96 * 1024 + 1)),
      code: "MESSAGE_TOO_LARGE",
      closes: false,
    },
    {
      name: "hello version 1 (the old protocol)",
      state: "greeting",
      input: hello({ version: 1 }),
      code: "VERSION_MISMATCH",
      closes: true,
    },
    // ---- messages: answered, the connection stays ----
    {
      name: "media frame from a client",
      state: "registered",
      input: () => frame(3, new Uint8Array(12)),
      code: "BAD_MESSAGE",
    },
    {
      name: "server-only message",
      state: "greeting",
      input: m({ type: "joined", name: "x" }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "send before hello",
      state: "greeting",
      input: () => encodeMessage({ type: "send", id: 7, to: "owner", body: new Uint8Array(100) }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "list before hello",
      state: "greeting",
      input: m({ type: "list", id: 1 }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "seg-ack before hello",
      state: "greeting",
      input: m({ type: "seg-ack", streamId: 1, epoch: 0, index: 0 }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "receipt before hello",
      state: "greeting",
      input: m({ type: "receipt", rid: "r12345", ok: true }),
      code: "NOT_REGISTERED",
      closes: true,
    },
    {
      name: "second hello",
      state: "registered",
      input: hello({ name: "again" }),
      code: "ALREADY_REGISTERED",
    },
    { name: "empty name", state: "greeting", input: hello({ name: "" }), code: "NAME_INVALID" },
    {
      name: "name with a space",
      state: "greeting",
      input: hello({ name: "a b" }),
      code: "NAME_INVALID",
    },
    {
      name: "name of 33 characters",
      state: "greeting",
      input: hello({ name: "x".repeat(33) }),
      code: "NAME_INVALID",
    },
    {
      name: "path-like name",
      state: "greeting",
      input: hello({ name: "../owner" }),
      code: "NAME_INVALID",
    },
    {
      name: "control character in name",
      state: "greeting",
      input: hello({ name: "a\u0007b" }),
      code: "NAME_INVALID",
    },
    {
      name: "zalgo name",
      state: "greeting",
      input: hello({ name: "q\u0316\u0317\u0318" }),
      code: "NAME_INVALID",
    },
    {
      name: "encKey is not a key",
      state: "greeting",
      input: hello({ encKey: "AAAA" }),
      code: "KEY_INVALID",
    },
    {
      name: "signKey is not base64",
      state: "greeting",
      input: hello({ signKey: "@@@" }),
      code: "KEY_INVALID",
    },
    {
      name: "proof is garbage",
      state: "greeting",
      input: hello({ proof: btoa("x".repeat(64)) }),
      code: "KEY_INVALID",
    },
    {
      name: "proof is not base64",
      state: "greeting",
      input: hello({ proof: "%%%" }),
      code: "KEY_INVALID",
    },
    {
      name: "proof by another signing key",
      state: "greeting",
      input: hello({ signKey: otherKeys.signKey }),
      code: "KEY_INVALID",
    },
    {
      name: "proof signed for another name",
      state: "greeting",
      input: async (c) => {
        const me = await identity();
        const keys = await (await import("../protocol/e2e.ts")).exportPublicKeys(me);
        const proof = await signChallenge(me, Uint8Array.fromBase64(c.greeting.challenge), "alice");
        return encodeMessage({
          type: "hello",
          version: PROTOCOL_VERSION,
          name: "mallory",
          ...keys,
          proof: proof.toBase64(),
        });
      },
      code: "KEY_INVALID",
    },
    {
      name: "name held by an online peer",
      state: "greeting",
      input: async (c) => {
        // The owner's name, proven with a fresh key.
        return await hello({ name: "owner" })(c);
      },
      code: "NAME_TAKEN",
    },
    {
      name: "key of an unknown peer",
      state: "registered",
      input: m({ type: "key", id: 3, name: "nobody" }),
      code: "UNKNOWN_PEER",
    },
    {
      name: "send to an unknown peer",
      state: "registered",
      input: () => encodeMessage({ type: "send", id: 4, to: "nobody", body: new Uint8Array(64) }),
      code: "UNKNOWN_PEER",
    },
    {
      name: "sealed body over the server limit",
      state: "registered",
      input: () => encodeMessage({ type: "send", id: 5, to: "owner", body: new Uint8Array(8193) }),
      code: "MESSAGE_TOO_LARGE",
    },
    {
      name: "unknown title",
      state: "registered",
      input: m({ type: "play", id: 6, title: "nosuchtitle", quality: "auto" }),
      code: "VIDEO_NOT_FOUND",
    },
    // Titles that look like paths, including a real file of the library reached through the
    // folder: none may be found by path.
    ...["../../etc/passwd", "/etc/passwd", "a/b", "..\\x", "../samples/testcard_720p.mp4"].map(
      (title): Row => ({
        name: `PLAY ${title}`,
        state: "registered",
        input: m({ type: "play", id: 6, title, quality: "auto" }),
        code: "VIDEO_NOT_FOUND",
      }),
    ),
    {
      name: "PLAY an absolute library path",
      state: "registered",
      input: m({
        type: "play",
        id: 6,
        title: `${TEST_CACHE}/samples/testcard_720p.mp4`,
        quality: "auto",
      }),
      code: "VIDEO_NOT_FOUND",
    },
    {
      name: "PLAY testcard at 1080p",
      state: "registered",
      input: m({ type: "play", id: 8, title: "testcard", quality: 1080 }),
      code: "RENDITION_NOT_FOUND",
    },
    {
      name: "QUALITY 1080 while playing",
      state: "registered",
      setup: async (c) => {
        await c.write({ type: "play", id: 90, title: "testcard", quality: 240 });
        await c.next((x) => x.type === "stream-start");
      },
      input: m({ type: "quality", id: 9, quality: 1080 }),
      code: "RENDITION_NOT_FOUND",
    },
    {
      name: "STOP with nothing playing",
      state: "registered",
      input: m({ type: "stop", id: 10 }),
      code: "NOT_PLAYING",
    },
    {
      name: "QUALITY with nothing playing",
      state: "registered",
      input: m({ type: "quality", id: 11, quality: 240 }),
      code: "NOT_PLAYING",
    },
    {
      name: "over the message rate",
      state: "registered",
      input: () => {
        const one = encodeMessage({ type: "ping", id: 1 });
        const out = new Uint8Array(one.length * 400);
        for (let i = 0; i < 400; i++) out.set(one, i * one.length);
        return out;
      },
      code: "RATE_LIMITED",
      repeat: 1,
    },
  ];
  ok(rows.length >= 30, `${rows.length} rows`);

  const portToRow = new Map<number, Row>();
  try {
    for (const row of rows) {
      const c = await RawClient.connect(server.port);
      portToRow.set(c.localPort, row);
      try {
        if (row.state === "registered") await c.register(`r${portToRow.size}`, await identity());
        await row.setup?.(c);
        const from = c.messages.length;
        const bytes = await row.input(c);
        // A refused hello may be retried on the same connection, but the third refusal closes it.
        const times = row.closes ? 1 : row.repeat ?? (row.state === "greeting" ? 2 : 50);
        for (let i = 0; i < times; i++) await c.write(bytes);
        const error = await c.nextError(from).catch((e) => {
          throw new Error(`${row.name}: ${(e as Error).message}`);
        });
        equal(error.code, row.code, `${row.name}: ${JSON.stringify(error)}`);
        ok(
          error.message.length > 10 && !/\n\s+at /.test(error.message),
          `${row.name}: ${error.message}`,
        );
        if (row.closes) {
          ok(await c.waitClosed(3000), `${row.name}: the server should close the connection`);
        } else if (row.state === "greeting") {
          // The connection can still register after the refused hellos.
          const errors = () => c.messages.slice(from).filter((x) => x.type === "error").length;
          await c.next(() => errors() >= times);
          await c.register(`ok${portToRow.size}`, await identity());
          ok(!c.closed, row.name);
        } else {
          // The connection still works after the bad input.
          await c.write({ type: "list", id: 4242 });
          await c.next((x) => "re" in x && x.re === 4242, { from }).catch((e) => {
            throw new Error(`${row.name}: no pong after the bad input: ${(e as Error).message}`);
          });
          ok(!c.closed, row.name);
        }
      } finally {
        c.close();
        await c.done;
      }
    }
    // Frames ignored without an answer: seg-ack of an unknown stream, receipt of a random rid.
    const quiet = await RawClient.connect(server.port);
    await quiet.register("quiet", await identity());
    const from = quiet.messages.length;
    await quiet.write(
      { type: "seg-ack", streamId: 77, epoch: 0, index: 3 },
      { type: "receipt", rid: "r987654", ok: true },
      { type: "receipt", rid: "r1", ok: false, code: "DECRYPT_FAILED" },
      { type: "ping", id: 1 },
    );
    await quiet.next((x) => x.type === "pong", { from });
    deepEqual(quiet.messages.slice(from).map((x) => x.type), ["pong"]);
    quiet.close();
    await quiet.done;

    // A connection that never says hello is dropped with HANDSHAKE_TIMEOUT.
    const silent = await RawClient.connect(server.port);
    const timeout = await silent.nextError(0, 6000);
    equal(timeout.code, "HANDSHAKE_TIMEOUT");
    ok(await silent.waitClosed(2000));
    await silent.done;

    // The owner saw nothing of all this but its own peers coming and going.
    ok(
      owner.events.every((e) => e.kind === "joined" || e.kind === "left"),
      JSON.stringify(owner.events),
    );
    await owner.session.quit();

    // The log: each rejection once per connection, and no internal errors.
    await server.out.waitFor(/leave #\d+ "owner"/);
    const idToRow = new Map<string, Row>();
    for (const line of server.out.lines) {
      const c = /connect #(\d+) 127\.0\.0\.1:(\d+)/.exec(line);
      if (c && portToRow.has(Number(c[2]))) idToRow.set(c[1], portToRow.get(Number(c[2]))!);
    }
    equal(idToRow.size, rows.length);
    for (const [id, row] of idToRow) {
      const pattern = row.closes
        ? new RegExp(`(disconnect|leave) #${id} .*\\(.*${row.code}`)
        : new RegExp(`reject #${id}\\b.*: ${row.code}:`);
      const lines = server.out.lines.filter((l) => pattern.test(l));
      equal(lines.length, 1, `${row.name}: expected one log line, got ${lines.join("\n")}`);
    }
    const internal = server.out.lines.filter((l) => /internal error/i.test(l));
    deepEqual(internal, []);
  } finally {
    await server.stop();
  }
});

/** A sink that records when media arrives. */
function timingSink() {
  const sink = { bytes: 0, ended: "" as string, arrivals: [] as number[] };
  return {
    sink,
    open: () => ({
      write(data: Uint8Array) {
        sink.bytes += data.length;
        sink.arrivals.push(performance.now());
      },
      close(reason: string) {
        sink.ended = reason;
      },
    }),
  };
}

Deno.test("a viewer that stops reading is stepped down, stopped with SLOW_CONSUMER and dropped; another viewer stays smooth", async () => {
  // A 64 KiB window fills with one segment, far below what loopback socket buffers absorb.
  const server = await startServer({
    waitReady: true,
    env: { PEERSTREAM_LIMITS: JSON.stringify({ maxUnackedMediaBytes: 65536 }) },
  });
  const pid = server.child.pid;
  const slow = await RawClient.connect(server.port);
  const smooth = await connectClient(server.port, "smooth");
  try {
    await slow.register("slow", await identity());
    const rssBefore = await rssBytes(pid);
    // The smooth viewer plays at the same time and acks as it reads.
    const timing = timingSink();
    await smooth.session.play("testcard", { quality: "auto", sink: timing.open });

    await slow.write({ type: "play", id: 1, title: "testcard", quality: 720 });
    const first = await slow.next((m) => m.type === "segment") as Extract<
      Message,
      { type: "segment" }
    >;
    equal(first.height, 720);
    // Read segment 0 but hold its receipt beyond the 3 s step-down time.
    await new Promise((r) => setTimeout(r, 3600));
    const from = slow.messages.length;
    await slow.write({ type: "seg-ack", streamId: first.streamId, epoch: 0, index: first.index });
    const second = await slow.next((m) => m.type === "segment", { from }) as Extract<
      Message,
      { type: "segment" }
    >;
    equal(second.height, 240, "stepped down to the lowest rendition after 3 s with a full window");
    // Now stop reading altogether; the server must stop the stream after 15 s of a full window.
    slow.pauseReading();
    const ended = await server.out.waitFor(/stream #\d+ "slow" testcard: error \(SLOW_CONSUMER\)/, {
      timeoutMs: 20_000,
    });
    ok(ended);
    const rssStalled = await rssBytes(pid);
    slow.resumeReading();
    const end = await slow.next((m) => m.type === "stream-end", { from }) as Extract<
      Message,
      { type: "stream-end" }
    >;
    equal(end.reason, "error");
    ok(/not keeping up/.test(end.message ?? ""), end.message);
    ok(await slow.waitClosed(3000), "the slow viewer is disconnected");

    // The other viewer's stream finished with every segment and no long gap.
    await smooth.waitFor((e) => e.kind === "stream-end", 30_000);
    equal(timing.sink.ended, "finished");
    const segments = smooth.events.filter((e) => e.kind === "segment").length;
    equal(segments, 6);
    // How smooth it stayed is the benchmark's to measure; the figure is printed for the record.
    const gaps = timing.sink.arrivals.slice(1).map((t, i) => t - timing.sink.arrivals[i]);
    console.log(
      `largest gap between the smooth viewer's media chunks: ${Math.max(...gaps).toFixed(0)} ms`,
    );
    // Memory: one stalled viewer costs at most its window and a segment or two.
    const growth = rssStalled - rssBefore;
    console.log(
      `RSS before ${(rssBefore / 2 ** 20).toFixed(1)} MiB, with a stalled viewer ${
        (rssStalled / 2 ** 20).toFixed(1)
      } MiB (growth ${(growth / 2 ** 20).toFixed(1)} MiB)`,
    );
    ok(growth < 32 * 2 ** 20, `RSS grew ${growth} bytes`);
    await smooth.session.quit();
  } finally {
    slow.close();
    await slow.done;
    smooth.session.close();
    await smooth.session.done;
    await server.stop();
  }
});

Deno.test("Connection reports a write that makes no progress when the peer stops reading", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const conn = new Connection(await listener.accept());
  try {
    const chunk = new Uint8Array(64 * 1024);
    // 64 MiB queued, nothing read: the kernel buffers fill and the write in flight waits.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 1024; i++) writes.push(conn.sendMedia(1, { index: 0, data: chunk }));
    await until(() => conn.writeStalledFor(performance.now()) >= 300, {
      ms: 20_000,
      what: "a stalled write to be visible",
    });
    conn.close();
    await Promise.all(writes);
    equal(conn.writeStalledFor(performance.now()), 0);
  } finally {
    conn.close();
    client.close();
  }
});

Deno.test("faults: a client killed mid-stream is freed at once, a dying player makes the CLI stop and carry on", async () => {
  const server = await startServer({ waitReady: true });
  const other = await connectClient(server.port, "bystander");
  try {
    const timing = timingSink();
    await other.session.play("testcard", { quality: 240, sink: timing.open });

    // Killed mid-stream: the server notices the closed socket (not a timeout) and tells others.
    const victim = await startCli(server.port, "victim");
    await victim.type("PLAY testcard");
    await victim.out.waitFor(/^\* playing "testcard"/);
    await server.out.waitFor(/play #\d+ "victim"/);
    victim.child.kill("SIGKILL");
    await victim.finish();
    // How fast is the benchmark's business; here, only that the socket's end was the cause.
    const leave = await server.out.waitFor(/leave #\d+ "victim"/);
    ok(
      /\(disconnected: (the client closed the connection|the peer went away)\)/.test(leave),
      leave,
    );
    await other.waitFor((e) => e.kind === "left" && e.name === "victim");

    // A player that dies after 50 kB: the CLI sends STOP and keeps working.
    const cli = await startCli(server.port, "watcher", { args: ["--player", "head -c 50000"] });
    await cli.type("PLAY testcard");
    await cli.out.waitFor(/^\* player closed; stopping$/, { timeoutMs: 10_000 });
    await cli.out.waitFor(/^\* stopped "testcard"$/, { timeoutMs: 20_000 });
    await server.out.waitFor(/stream #\d+ "watcher" testcard: stopped/);
    await other.session.sendText("watcher", "still there?");
    await cli.out.waitFor(/^<bystander> still there\?$/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);

    // The bystander's stream was never disturbed.
    await other.waitFor((e) => e.kind === "stream-end", 20_000);
    equal(timing.sink.ended, "finished");
    deepEqual(other.events.filter((e) => e.kind === "warning" || e.kind === "server-error"), []);
    await other.session.quit();
  } finally {
    other.session.close();
    await other.session.done;
    await server.stop();
  }
});

Deno.test("faults: without ffmpeg the server still relays chat and LIST/PLAY say VIDEO_FAILED naming ffmpeg", async () => {
  const cache = await Deno.makeTempDir({ prefix: "peerstream-noffmpeg-" });
  const server = await startServer({
    cacheDir: cache,
    env: { PEERSTREAM_FFMPEG: "/nonexistent/ffmpeg", PEERSTREAM_FFPROBE: "/nonexistent/ffprobe" },
  });
  try {
    const a = await connectClient(server.port, "a");
    const b = await connectClient(server.port, "b");
    await a.session.sendText("b", "chat works");
    await b.waitFor((e) => e.kind === "message" && e.message.text === "chat works");
    await server.err.waitFor(/Cannot open the video library/, { timeoutMs: 10_000 });
    for (
      const attempt of [
        () => a.session.list(),
        () => a.session.play("testcard", { quality: "auto", sink: timingSink().open }),
      ]
    ) {
      const error = await attempt().then(() => null, (e) => e);
      ok(error instanceof PeerstreamError, String(error));
      equal(error.code, "VIDEO_FAILED");
      ok(/ffmpeg/.test(error.message), error.message);
    }
    await a.session.quit();
    await b.session.quit();
  } finally {
    await server.stop();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("faults: segments removed mid-stream end that stream with a clear error; others are served", async () => {
  const root = await Deno.makeTempDir({ prefix: "peerstream-removed-" });
  await Deno.mkdir(`${root}/videos`);
  await makeClip(`${root}/videos/clip_240p.mp4`, { height: 240, seconds: 20 });
  const server = await startServer({
    cacheDir: `${root}/cache`,
    args: ["--videos", `${root}/videos`],
    waitReady: true,
  });
  try {
    const viewer = await connectClient(server.port, "viewer");
    const friend = await connectClient(server.port, "friend");
    await viewer.session.play("clip", { quality: "auto", sink: timingSink().open });
    await viewer.waitFor((e) => e.kind === "segment");
    await Deno.remove(`${root}/cache/prepared`, { recursive: true });
    const end = await viewer.waitFor((e) => e.kind === "stream-end", 10_000) as Extract<
      ClientEvent,
      { kind: "stream-end" }
    >;
    equal(end.end.reason, "error");
    // The viewer learns what happened and what to do; the server's paths stay in its log.
    ok(/Cannot continue "clip": its prepared files cannot be read/.test(end.end.message ?? ""));
    ok(!(end.end.message ?? "").includes(root), end.end.message);
    await server.out.waitFor(/stream .*clip: error \(.*Cannot read segment .*file not found/);
    await friend.session.sendText("viewer", "ok?");
    await viewer.waitFor((e) => e.kind === "message");
    equal((await friend.session.list()).length, 1);
    await viewer.session.quit();
    await friend.session.quit();
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("faults: stopping the server tells connected clients, closes them and exits 0", async () => {
  const server = await startServer({ waitReady: true });
  const client = await connectClient(server.port, "stayer");
  const cli = await startCli(server.port, "clistayer");
  await client.session.play("testcard", { quality: "auto", sink: timingSink().open });
  equal(await server.stop(), 0);
  await client.waitFor((e) => e.kind === "shutdown");
  const closed = await client.waitFor((e) => e.kind === "closed") as Extract<
    ClientEvent,
    { kind: "closed" }
  >;
  ok(client.events.findIndex((e) => e.kind === "shutdown") < client.events.indexOf(closed));
  await client.session.done;
  await cli.out.waitFor(/^\* server: Server is shutting down$/);
  const code = await cli.finish();
  ok(code === 0 || code === 1, `CLI exit ${code}`);
  await server.out.waitFor(/stopped$/);
});

Deno.test("delivery under load: 10,000 pipelined messages among 20 clients are each delivered once or reported failed", async () => {
  const server = await startServer({ waitReady: true });
  const names = Array.from({ length: 20 }, (_, i) => `load${i}`);
  const clients: TestClient[] = [];
  try {
    const identities = await Promise.all(names.map(() => generateIdentity()));
    for (const [i, name] of names.entries()) {
      clients.push(await connectClient(server.port, name, { identity: identities[i] }));
    }
    // Four of them stream meanwhile.
    const sinks = clients.slice(0, 4).map(() => timingSink());
    await Promise.all(
      sinks.map((s, i) => clients[i].session.play("testcard", { quality: "auto", sink: s.open })),
    );
    const perSender = 500;
    const outcome = new Map<string, string>();
    const started = performance.now();
    const sends: Promise<void>[] = [];
    for (const [i, sender] of clients.entries()) {
      for (let seq = 0; seq < perSender; seq++) {
        const to = names[(i + 1 + (seq % 19)) % 20];
        const key = `${names[i]}>${to}#${seq}`;
        sends.push(
          sender.session.sendText(to, key).then(
            // Queued: the server took the recipient for offline (a client the loaded machine
            // starved past its keepalive); it is delivered on their next join, not in this test.
            (sent) => void outcome.set(key, sent.queued ? "queued" : "delivered"),
            (e) => void outcome.set(key, `failed ${(e as PeerstreamError).code}`),
          ),
        );
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(sends),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`not settled: ${outcome.size} of 10000`)),
          90_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const seconds = (performance.now() - started) / 1000;
    const received = new Map<string, number>();
    for (const [i, c] of clients.entries()) {
      for (const e of c.events) {
        if (e.kind !== "message") continue;
        const [from, rest] = e.message.text.split(">");
        ok(rest.startsWith(`${names[i]}#`) && e.message.from === from, e.message.text);
        received.set(e.message.text, (received.get(e.message.text) ?? 0) + 1);
      }
    }
    equal(outcome.size, 10_000);
    const failed = [...outcome].filter(([, v]) => v.startsWith("failed"));
    const queued = [...outcome].filter(([, v]) => v === "queued").map(([key]) => key);
    for (const [key, state] of outcome) {
      const n = received.get(key) ?? 0;
      ok(n <= 1, `${key} received ${n} times`);
      if (state === "delivered") equal(n, 1, `${key} confirmed but received ${n} times`);
    }
    for (const key of received.keys()) ok(outcome.has(key), `${key} received but never sent`);
    console.log(
      `10,000 messages in ${
        seconds.toFixed(1)
      } s; ${failed.length} reported failed, ${queued.length} queued`,
    );
    // A message is queued only for a recipient who left: the loaded machine cut them off.
    const left = new Set(
      clients.flatMap((c) => c.events.flatMap((e) => e.kind === "left" ? [e.name] : [])),
    );
    for (const key of queued) {
      ok(left.has(key.split(">")[1].split("#")[0]), `${key} queued while online`);
    }
    deepEqual(failed.slice(0, 5), []);
    for (const c of clients) {
      deepEqual(c.events.filter((e) => e.kind === "warning"), [], "no warnings");
    }
    for (const c of clients) await c.session.quit();
  } finally {
    for (const c of clients) {
      c.session.close();
      await c.session.done;
    }
    await server.stop();
  }
});
