/**
 * A hostile server against the real client: a fake server written with `protocol/` answers with
 * the wrong types, floods deliveries while never answering a key lookup, puts control characters
 * in every string, replays a message after the client restarts, and never reads. The `join` CLI
 * (and `ClientSession` in process, for the finer checks) stays up, bounded, and says what is
 * wrong. Issue 9, findings 2, 5 and 6.
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { readProc } from "./_proc.ts";
import { connectSession } from "../client/connect.ts";
import type { SessionEvents } from "../client/session.ts";
import { exportPublicKeys, generateIdentity, importPeerKeys, seal } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import {
  type ClientMessage,
  encodeMessage,
  type Message,
  PROTOCOL_VERSION,
  type ReceiptMessage,
} from "../protocol/messages.ts";
import { type FakeConnection, FakeServer } from "./_fake_server.ts";
import { type CliClient, startCli } from "./_helpers.ts";
import { until } from "./_util.ts";

const MIB = 2 ** 20;

/** A character that moves the cursor or changes the terminal: C0 but line feed, DEL, C1, bidi. */
const CONTROL =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function assertNoControl(cli: CliClient) {
  for (const line of [...cli.out.lines, ...cli.err.lines]) {
    ok(!CONTROL.test(line), `control character in ${JSON.stringify(line)}`);
  }
}

function isReceipt(m: ClientMessage): m is ReceiptMessage {
  return m.type === "receipt";
}

const VIDEO = {
  title: "clip",
  heights: [240],
  duration: 4,
  hasAudio: false,
  state: "ready" as const,
  progress: 1,
};

Deno.test("the CLI says which answer was wrong and carries on when the server answers with the wrong type", async () => {
  const fake = new FakeServer(async (c) => {
    await c.welcome(["bob"]);
    const list = await c.request("list");
    await c.send({ type: "ok", re: list.id });
    const key = await c.request("key");
    await c.send({ type: "videos", re: key.id, videos: [] });
    const again = await c.request("list");
    await c.send({ type: "videos", re: again.id, videos: [VIDEO] });
  });
  const cli = await startCli(fake.port, "alice");
  try {
    await cli.type("LIST");
    await cli.err.waitFor(/^error: .*answered "list" with "ok"/);
    await cli.type("WHO");
    await cli.err.waitFor(/^error: .*answered "key" with "videos"/);
    await cli.type("LIST");
    await cli.out.waitFor(/^clip\s+240p/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await cli.finish();
    await fake.close();
  }
});

Deno.test("ClientSession rejects every answer of the wrong type or for the wrong name with BAD_MESSAGE and stays usable", async () => {
  const identity = await generateIdentity();
  const keys = await exportPublicKeys(identity);
  const wrong: Record<string, Message> = {
    list: { type: "ok", re: 0 },
    key: { type: "videos", re: 0, videos: [] },
    send: { type: "stream-end", streamId: 1, reason: "finished", re: 0 },
    play: { type: "delivered", re: 0, to: "bob" },
    quality: { type: "key-info", re: 0, name: "bob", ...keys, online: true },
  };
  const fake = new FakeServer(async (c) => {
    await c.welcome(["bob"]);
    const answer = async (type: ClientMessage["type"], message: Message) => {
      const request = await c.request(type);
      await c.send({ ...message, re: (request as { id: number }).id } as Message);
    };
    await answer("list", wrong.list);
    await answer("key", wrong.key);
    await answer("key", { type: "key-info", re: 0, name: "bob", ...keys, online: true });
    await answer("send", wrong.send);
    await answer("play", wrong.play);
    await answer("quality", wrong.quality);
    // A key-info for another name than asked.
    await answer("key", { type: "key-info", re: 0, name: "mallory", ...keys, online: true });
    await answer("list", { type: "videos", re: 0, videos: [VIDEO] });
  });
  const session = await connectSession({ hostname: "127.0.0.1", port: fake.port });
  try {
    await session.register("alice", identity);
    const badMessage = (type: string, got: string) => (error: unknown) => {
      ok(error instanceof PeerstreamError, String(error));
      equal(error.code, "BAD_MESSAGE");
      ok(error.message.includes(`answered "${type}" with "${got}"`), error.message);
      return true;
    };
    await rejects(session.list(), badMessage("list", "ok"));
    await rejects(session.peerKeys("bob"), badMessage("key", "videos"));
    // This time the key is right, and the sealed message gets a wrong answer.
    await rejects(session.sendText("bob", "x"), badMessage("send", "stream-end"));
    await rejects(
      session.play("clip", { quality: "auto", sink: () => ({ write() {}, close() {} }) }),
      badMessage("play", "delivered"),
    );
    await rejects(session.setQuality(240), badMessage("quality", "key-info"));
    await rejects(session.peerKeys("carol"), /for "mallory", not "carol"/);
    deepEqual((await session.list()).map((v) => v.title), ["clip"]);
    // The refused PLAY left nothing playing and nothing waiting.
    equal(session.stream, undefined);
    equal(session.requesting, false);
    await session.quit();
  } finally {
    session.close();
    await session.done;
    await fake.close();
  }
});

Deno.test("oversized and endless deliveries while a key lookup stays unanswered: the CLI stays up and bounded, and says why it refuses", async () => {
  let served: FakeConnection | undefined;
  const fake = new FakeServer(async (c) => {
    served = c;
    await c.welcome(["mallory"]);
    // Frames as big as the protocol allows (1 MiB), then 600 of a sealed message's size.
    const huge = encodeMessage({
      type: "deliver",
      rid: "huge",
      from: "mallory",
      body: new Uint8Array(MIB - 200),
    });
    for (let i = 0; i < 300; i++) await c.send(huge);
    const body = new Uint8Array(96 * 1024);
    for (let i = 0; i < 600; i++) {
      await c.send({ type: "deliver", rid: `r${i}`, from: "mallory", body });
    }
    // The key lookup the first message causes is never answered.
  });
  const cli = await startCli(fake.port, "alice");
  try {
    await cli.err.waitFor(/warning: .*1048376 bytes.*limit/);
    await cli.err.waitFor(/warning: .*INBOX_FULL|warning: .*holds? \d+ unopened/);
    // Every delivery is answered except the few the client holds until the key arrives.
    const receipts = () => served!.received.filter(isReceipt);
    await until(() => receipts().length >= 900 - 256, {
      ms: 30_000,
      what: () => `${900 - 256} receipts (${receipts().length} so far)`,
    });
    const codes = new Set(receipts().map((r) => r.code));
    deepEqual([...codes].sort(), ["BAD_MESSAGE", "INBOX_FULL"]);
    ok(receipts().length >= 900 - 256, `${receipts().length} receipts`);
    const rss = (await readProc(cli.child.pid)).rssBytes;
    console.log(
      `client RSS after 300 × 1 MiB and 600 × 96 KiB deliveries: ${(rss / MIB).toFixed(1)} MiB`,
    );
    ok(rss < 256 * MIB, `client RSS ${(rss / MIB).toFixed(1)} MiB`);
    await cli.type("HELP");
    await cli.out.waitFor(/QUIT/);
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
    assertNoControl(cli);
  } finally {
    await cli.finish();
    await fake.close();
  }
});

Deno.test("control characters in every string from the server reach the screen escaped, and forge no line", async () => {
  const esc = "\x1b[2J\x1b]0;pwned\x07\r\n<alice ✓> forged\u202e";
  const fake = new FakeServer(async (c) => {
    await c.welcome([`peer${esc}`]);
    await c.send(
      { type: "joined", name: `joined${esc}` },
      { type: "joined", name: `left${esc}` },
      { type: "left", name: `left${esc}`, reason: "quit" },
      { type: "error", code: "INTERNAL", message: `unprompted${esc}` },
    );
    const list = await c.request("list");
    await c.send({ type: "videos", re: list.id, videos: [{ ...VIDEO, title: `title${esc}` }] });
    const play = await c.request("play");
    await c.send({ type: "error", re: play.id, code: "VIDEO_NOT_FOUND", message: `nope${esc}` });
    const who = await c.request("key");
    await c.send({ type: "error", re: who.id, code: "UNKNOWN_PEER", message: `who${esc}` });
    await c.send({ type: "shutdown", message: `bye${esc}` });
    c.close();
  });
  const cli = await startCli(fake.port, "alice");
  try {
    await cli.type("LIST");
    await cli.out.waitFor(/^title/);
    await cli.type("PLAY clip");
    await cli.err.waitFor(/nope/);
    await cli.type("WHO");
    await cli.out.waitFor(/server: bye/);
    equal(await cli.finish(), 1);
    assertNoControl(cli);
    const all = [...cli.out.lines, ...cli.err.lines];
    ok(!all.some((l) => /^<alice/.test(l)), all.join("\n"));
    for (const text of ["peer", "joined", "left", "unprompted", "title", "nope", "who", "bye"]) {
      ok(
        all.some((l) => l.includes(`${text}\\x1b[2J\\x1b]0;pwned\\x07\\r`)),
        `${text}: ${all.join("\n")}`,
      );
    }
  } finally {
    await cli.finish();
    await fake.close();
  }
});

Deno.test("a message replayed after the client restarts is refused as REPLAYED, not shown again", async () => {
  const bob = await generateIdentity();
  const bobKeys = await exportPublicKeys(bob);
  let captured: Uint8Array | undefined;
  const fake = new FakeServer(async (c) => {
    const hello = await c.welcome(["bob"]);
    if (captured === undefined) {
      const alice = await importPeerKeys(hello);
      const body = await seal("meet me at noon", {
        from: "bob",
        to: "alice",
        identity: bob,
        recipient: alice,
      });
      captured = encodeMessage({ type: "deliver", rid: "first", from: "bob", body });
    }
    // The same bytes, on each connection.
    await c.send(captured);
    const key = await c.request("key");
    await c.send({ type: "key-info", re: key.id, name: "bob", ...bobKeys, online: true });
    await c.next(isReceipt);
  });
  const first = await startCli(fake.port, "alice");
  let second: CliClient | undefined;
  try {
    await first.out.waitFor(/^<bob> meet me at noon$/);
    await first.type("QUIT");
    equal(await first.finish(), 0);
    second = await startCli(fake.port, "alice", { home: first.home });
    await second.err.waitFor(/warning: .*already received/);
    const receipt = await fake.connections[1].next(isReceipt);
    deepEqual([receipt.ok, receipt.code], [false, "REPLAYED"]);
    await second.type("QUIT");
    equal(await second.finish(), 0);
    ok(!second.out.lines.some((l) => l.includes("meet me at noon")), second.out.lines.join("\n"));
  } finally {
    await first.finish();
    await second?.finish();
    await fake.close();
    await Deno.remove(first.home, { recursive: true });
  }
});

Deno.test("ClientSession bounds what a server can make it hold: peers, unanswered requests, unread writes", async (t) => {
  const identity = await generateIdentity();
  const events: { warnings: string[]; closed?: string } = { warnings: [] };
  const on: SessionEvents = {
    warning: (text) => events.warnings.push(text),
    closed: (info) => void (events.closed = info.message),
  };

  await t.step("announced peers", async () => {
    const fake = new FakeServer(async (c) => {
      await c.welcome();
      for (let i = 0; i < 50; i++) await c.send({ type: "joined", name: `p${i}` });
      await c.send({ type: "ping", id: 1 });
    });
    const session = await connectSession({
      hostname: "127.0.0.1",
      port: fake.port,
      events: on,
      limits: { maxPeers: 10 },
    });
    await session.register("alice", identity);
    await fake.connections[0].next((m): m is Extract<ClientMessage, { type: "pong" }> =>
      m.type === "pong"
    );
    equal(session.peers.names().length, 10);
    ok(events.warnings.some((w) => /more than 10 peers/.test(w)), events.warnings.join("\n"));
    session.close();
    await session.done;
    await fake.close();
  });

  await t.step("unanswered requests time out", async () => {
    const fake = new FakeServer(async (c) => {
      await c.welcome();
      await c.request("list");
    });
    const session = await connectSession({
      hostname: "127.0.0.1",
      port: fake.port,
      limits: { requestTimeoutMs: 300 },
    });
    await session.register("alice", identity);
    await rejects(
      session.list(),
      (e) =>
        e instanceof PeerstreamError && e.code === "UNAVAILABLE" &&
        /did not answer "list"/.test(e.message),
    );
    session.close();
    await session.done;
    await fake.close();
  });

  await t.step("a server that never reads what the client writes", async () => {
    events.closed = undefined;
    const fake = new FakeServer(async (c) => {
      await c.send({
        type: "server-hello",
        version: PROTOCOL_VERSION,
        server: "fake",
        challenge: crypto.getRandomValues(new Uint8Array(32)).toBase64(),
      });
      // Pings the client must answer, while never reading its pongs.
      const ping = encodeMessage({ type: "ping", id: 1 });
      const many = new Uint8Array(ping.length * 10_000);
      for (let i = 0; i < 10_000; i++) many.set(ping, i * ping.length);
      for (let i = 0; i < 40 && !c.closed; i++) await c.send(many);
    }, { read: false });
    const session = await connectSession({
      hostname: "127.0.0.1",
      port: fake.port,
      events: on,
      limits: { maxQueuedBytes: 64 * 1024 },
    });
    await session.done;
    ok(/does not read/.test(events.closed ?? ""), events.closed);
    await fake.close();
  });
});

Deno.test("a new peer whose name looks like a known peer's gets a warning and a mark on its message", async () => {
  const [alice, mallory] = await Promise.all([generateIdentity(), generateIdentity()]);
  const keysOf = { alice: await exportPublicKeys(alice), aIice: await exportPublicKeys(mallory) };
  const fake = new FakeServer(async (c) => {
    const first = c === fake.connections[0];
    const hello = await c.welcome([first ? "alice" : "aIice"]);
    if (!first) {
      const me = await importPeerKeys(hello);
      const body = await seal("it's me, alice", {
        from: "aIice",
        to: hello.name,
        identity: mallory,
        recipient: me,
      });
      await c.send({ type: "deliver", rid: "lookalike", from: "aIice", body });
    }
    const key = await c.request("key");
    const name = key.name as keyof typeof keysOf;
    await c.send({ type: "key-info", re: key.id, name, ...keysOf[name], online: true });
  });
  const first = await startCli(fake.port, "victim");
  let second: CliClient | undefined;
  try {
    await first.type("WHO");
    await first.out.waitFor(/^alice\s+.*\bnew$/);
    await first.type("QUIT");
    equal(await first.finish(), 0);
    second = await startCli(fake.port, "victim", { home: first.home });
    await second.out.waitFor(/^<aIice !LOOKS LIKE alice> it's me, alice$/);
    await second.err.waitFor(/warning: "aIice" is new to you and looks like "alice"/);
    await second.type("QUIT");
    equal(await second.finish(), 0);
  } finally {
    await first.finish();
    await second?.finish();
    await fake.close();
    await Deno.remove(first.home, { recursive: true });
  }
});

/** The one line `join` prints for a frame header that declares 4 GiB - 1 (issue 16, item 5). */
const ABSURD_FRAME_LINE =
  "error: Cannot read from the server: it sent a frame of 4294967295 bytes, over the 1 MiB limit; the server is broken or not a peerstream server";

/** A frame header declaring 0xffffffff bytes of a control frame, and nothing behind it. */
const ABSURD_HEADER = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]);

Deno.test("a server that declares a 4 GiB frame after the welcome: join prints one clear line and exits non-zero", async () => {
  const fake = new FakeServer(async (c) => {
    await c.welcome(["bob"]);
    await c.next((m) => m.type === "list");
    await c.send(ABSURD_HEADER);
  });
  const cli = await startCli(fake.port, "alice");
  try {
    await cli.type("LIST");
    await cli.err.waitFor(/^error: /);
    const code = await cli.finish();
    ok(code !== 0, `exit code ${code}`);
    deepEqual(cli.err.lines, [ABSURD_FRAME_LINE]);
  } finally {
    await cli.finish();
    await fake.close();
  }
});

Deno.test("a server that declares a 4 GiB frame unprompted, while join waits at its prompt: one clear line, non-zero exit", async () => {
  const joined = Promise.withResolvers<void>();
  const fake = new FakeServer(async (c) => {
    await c.welcome(["bob"]);
    await joined.promise;
    await c.send(ABSURD_HEADER);
  });
  const cli = await startCli(fake.port, "alice");
  joined.resolve();
  try {
    await cli.err.waitFor(/^error: /);
    const code = await cli.finish();
    ok(code !== 0, `exit code ${code}`);
    deepEqual(cli.err.lines, [ABSURD_FRAME_LINE]);
  } finally {
    await cli.finish();
    await fake.close();
  }
});

Deno.test("a server that greets with a 4 GiB frame: join prints one clear line and exits non-zero", async () => {
  const fake = new FakeServer(async (c) => {
    await c.send(ABSURD_HEADER);
  });
  const cli = await startCli(fake.port, "alice", { waitJoined: false });
  try {
    const code = await cli.finish();
    ok(code !== 0, `exit code ${code}`);
    deepEqual(cli.err.lines, [ABSURD_FRAME_LINE]);
  } finally {
    await cli.finish();
    await fake.close();
  }
});
