/**
 * Sealed offline delivery (issue 20, protocol version 3) with real `serve` processes and real
 * clients: a message to a persistently bound peer who is offline is kept sealed, answered
 * `queued`, delivered in order on their join, confirmed to its sender, and survives a restart.
 * The cases that hold in a cluster too are in tests/_offline_cases.ts; the cluster's own tests in
 * tests/cluster_offline_test.ts.
 */

import { until } from "./_util.ts";
import { deepEqual, equal, ok } from "node:assert/strict";
import { connectClient, LOOPBACK_LIMITS, startCli, startServer } from "./_helpers.ts";
import { exportPublicKeys, generateIdentity, importPeerKeys, seal } from "../protocol/e2e.ts";
import type { ClientMessage, ReceiptMessage } from "../protocol/messages.ts";
import { FakeServer } from "./_fake_server.ts";
import {
  bindAndLeave,
  ephemeralCase,
  expiredCase,
  fullQueueCase,
  isMessage,
} from "./_offline_cases.ts";

function isReceipt(m: ClientMessage): m is ReceiptMessage {
  return m.type === "receipt";
}

Deno.test("a message to an offline bound peer is queued, delivered once and in order on their join, and confirmed to the sender", async () => {
  const server = await startServer();
  try {
    const alice = await connectClient(server.port, "alice");
    const bobKey = await bindAndLeave(server.port, "bob", alice);
    deepEqual(await alice.session.sendText("bob", "first, while you were out"), {
      queued: true,
      qseq: 1,
    });
    deepEqual(await alice.session.sendText("bob", "second"), { queued: true, qseq: 2 });
    const bob = await connectClient(server.port, "bob", { identity: bobKey });
    await bob.waitFor((e) => isMessage(e) && e.message.text === "second");
    await alice.waitFor((e) => e.kind === "queue-notice" && e.qseq === 2);
    // A live message after the queue closes the window: nothing queued came twice before it.
    await alice.session.sendText("bob", "live");
    await bob.waitFor((e) => isMessage(e) && e.message.text === "live");
    const got = bob.events.filter(isMessage).map((e) => [e.message.text, e.message.queued]);
    deepEqual(got, [
      ["first, while you were out", true],
      ["second", true],
      ["live", undefined],
    ]);
    const notices = alice.events.filter((e) => e.kind === "queue-notice");
    deepEqual(notices, [
      { kind: "queue-notice", notice: "delivered", to: "bob", qseq: 1 },
      { kind: "queue-notice", notice: "delivered", to: "bob", qseq: 2 },
    ]);
    await alice.session.quit();
    await bob.session.quit();
  } finally {
    await server.stop();
  }
});

Deno.test("a queued message survives a server restart (data folder) and its receipt waits for its offline sender", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-queue-" });
  let server = await startServer({ data });
  try {
    const aliceKey = await generateIdentity();
    const alice = await connectClient(server.port, "alice", { identity: aliceKey });
    const bobKey = await bindAndLeave(server.port, "bob", alice);
    deepEqual(await alice.session.sendText("bob", "kept on disk"), { queued: true, qseq: 1 });
    await alice.session.quit();
    equal(await server.stop(), 0);
    server = await startServer({ data });
    // Bob opens it while alice is offline: her "delivered" is queued for her in turn.
    const bob = await connectClient(server.port, "bob", { identity: bobKey });
    const got = await bob.waitFor((e) => isMessage(e));
    ok(isMessage(got));
    deepEqual([got.message.from, got.message.text, got.message.queued], [
      "alice",
      "kept on disk",
      true,
    ]);
    const again = await connectClient(server.port, "alice", { identity: aliceKey });
    await again.waitFor((e) => e.kind === "queue-notice");
    deepEqual(again.events.filter((e) => e.kind === "queue-notice"), [
      { kind: "queue-notice", notice: "delivered", to: "bob", qseq: 1 },
    ]);
    await bob.session.quit();
    await again.session.quit();
  } finally {
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("a full queue refuses with QUEUE_FULL and loses nothing it accepted", async () => {
  const server = await startServer({ args: ["--queue-messages", "2"] });
  try {
    await fullQueueCase({ alice: server.port, bind: server.port, back: server.port });
  } finally {
    await server.stop();
  }
});

Deno.test("a queued message past its age is deleted unread and its sender told 'expired'", async () => {
  const server = await startServer({
    env: { PEERSTREAM_LIMITS: JSON.stringify({ ...LOOPBACK_LIMITS, queueMaxAgeMs: 1_000 }) },
  });
  try {
    await expiredCase({ alice: server.port, bind: server.port, back: server.port });
  } finally {
    await server.stop();
  }
});

Deno.test("an ephemeral peer who left is never queued for: PEER_OFFLINE as in version 2", async () => {
  const server = await startServer();
  try {
    await ephemeralCase({ alice: server.port, bind: server.port });
  } finally {
    await server.stop();
  }
});

Deno.test("the terminal shows 'queued for bob (offline)', then 'delivered to bob', and the queued message marked as sent earlier", async () => {
  const server = await startServer();
  try {
    const watcher = await connectClient(server.port, "watcher");
    const bobKey = await bindAndLeave(server.port, "bob", watcher);
    const cli = await startCli(server.port, "alice");
    try {
      await cli.type("MESSAGE bob see you tomorrow");
      await cli.out.waitFor(/^\* queued for bob \(offline\)$/);
      const bob = await connectClient(server.port, "bob", { identity: bobKey });
      await cli.out.waitFor(/^\* delivered to bob$/);
      await bob.session.quit();
      await cli.type("QUIT");
      equal(await cli.finish(), 0);
      // Now the other way: bob's message waits for alice's terminal.
      const bobAgain = await connectClient(server.port, "bob", { identity: bobKey });
      deepEqual(await bobAgain.session.sendText("alice", "welcome back"), {
        queued: true,
        qseq: 1,
      });
      const back = await startCli(server.port, "alice", { home: cli.home });
      await back.out.waitFor(
        /^\* sent earlier by bob, at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(it waited while you were offline\)$/,
      );
      await back.out.waitFor(/^<bob> welcome back$/);
      await bobAgain.waitFor((e) => e.kind === "queue-notice");
      await back.type("QUIT");
      equal(await back.finish(), 0);
      await bobAgain.session.quit();
    } finally {
      await cli.finish();
      await Deno.remove(cli.home, { recursive: true }).catch(() => {});
    }
    await watcher.session.quit();
  } finally {
    await server.stop();
  }
});

Deno.test("a queued message sent again is shown once and confirmed; the same envelope replayed live is refused REPLAYED", async () => {
  const bob = await generateIdentity();
  const bobKeys = await exportPublicKeys(bob);
  const fake = new FakeServer(async (c) => {
    const hello = await c.welcome(["bob"]);
    const body = await seal("once only", {
      from: "bob",
      to: "alice",
      identity: bob,
      recipient: await importPeerKeys(hello),
    });
    // Queued, then the same queued entry again (its receipt lost in a crash, say), then the
    // same bytes as a live message: a replay.
    await c.send({ type: "deliver", rid: "q1", from: "bob", body, queued: true, qseq: 1 });
    const key = await c.request("key");
    await c.send({ type: "key-info", re: key.id, name: "bob", ...bobKeys, online: false });
    await c.next((m): m is ReceiptMessage => isReceipt(m) && m.rid === "q1");
    await c.send({ type: "deliver", rid: "q1", from: "bob", body, queued: true, qseq: 1 });
    await c.next((m): m is ReceiptMessage =>
      isReceipt(m) && c.received.filter(isReceipt).length === 2
    );
    await c.send({ type: "deliver", rid: "live", from: "bob", body });
    await c.next((m): m is ReceiptMessage => isReceipt(m) && m.rid === "live");
    // A last, new message closes the window: nothing more was shown before it.
    const last = await seal("the end", {
      from: "bob",
      to: "alice",
      identity: bob,
      recipient: await importPeerKeys(hello),
    });
    await c.send({ type: "deliver", rid: "last", from: "bob", body: last });
    await c.next((m): m is ReceiptMessage => isReceipt(m) && m.rid === "last");
  });
  const cli = await startCli(fake.port, "alice");
  try {
    await cli.out.waitFor(/^<bob> the end$/);
    // The client may print before its last receipt reached the fake server.
    await until(() => fake.connections[0].received.filter(isReceipt).length === 4, {
      ms: 10_000,
      what: "the fourth receipt",
    });
    const receipts = fake.connections[0].received.filter(isReceipt);
    deepEqual(receipts.map((r) => [r.rid, r.ok, r.code]), [
      ["q1", true, undefined],
      ["q1", true, undefined],
      ["live", false, "REPLAYED"],
      ["last", true, undefined],
    ]);
    deepEqual(cli.out.lines.filter((l) => l.startsWith("<bob>")), [
      "<bob> once only",
      "<bob> the end",
    ]);
    ok(cli.err.lines.some((l) => /warning: .*already received/.test(l)), cli.err.lines.join("\n"));
    await cli.type("QUIT");
    equal(await cli.finish(), 0);
  } finally {
    await cli.finish();
    await Deno.remove(cli.home, { recursive: true }).catch(() => {});
    await fake.close();
  }
});
