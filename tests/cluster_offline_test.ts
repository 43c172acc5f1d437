/**
 * Sealed offline delivery in cluster mode (issue 20 item 3): real `serve --redis` nodes and one
 * real redis-server. A message to a persistently bound peer who is offline is kept in Redis,
 * answered `queued`, delivered by whichever node the peer next joins, exactly once and in order,
 * confirmed to its sender wherever they are, and survives the death of the node that queued it.
 */

import { deepEqual, rejects } from "node:assert/strict";
import { connectClient, type TestClient } from "./_helpers.ts";
import { generateIdentity } from "../protocol/e2e.ts";
import {
  bindAndLeave,
  ephemeralCase,
  expiredCase,
  fullQueueCase,
  isMessage,
  notices,
} from "./_offline_cases.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import { startCluster } from "./_cluster.ts";
import { until } from "./_util.ts";

const texts = (client: TestClient) =>
  client.events.filter(isMessage).map((e) => [e.message.text, e.message.queued]);

Deno.test("cluster: messages queued through node A are delivered once and in order when the peer joins node B, and the sender sees queued then delivered", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  try {
    const alice = await connectClient(a.port, "alice");
    const bobKey = await bindAndLeave(b.port, "bob", alice);
    for (const [i, text] of ["first", "second", "third"].entries()) {
      deepEqual(await alice.session.sendText("bob", text), { queued: true, qseq: i + 1 });
    }
    const bob = await connectClient(b.port, "bob", { identity: bobKey });
    await bob.waitFor((e) => isMessage(e) && e.message.text === "third");
    await alice.waitFor(() => notices(alice).length === 3);
    // A live message after the queue closes the window: nothing queued came twice before it.
    deepEqual(await alice.session.sendText("bob", "live"), { queued: false });
    await bob.waitFor((e) => isMessage(e) && e.message.text === "live");
    deepEqual(texts(bob), [
      ["first", true],
      ["second", true],
      ["third", true],
      ["live", undefined],
    ]);
    deepEqual(
      notices(alice),
      [1, 2, 3].map((qseq) => ({
        kind: "queue-notice",
        notice: "delivered",
        to: "bob",
        qseq,
      })),
    );
    // Confirmed entries are deleted: bob joining again (on node A this time) gets nothing more.
    await bob.session.quit();
    await alice.waitFor((e) => e.kind === "left" && e.name === "bob");
    const again = await connectClient(a.port, "bob", { identity: bobKey });
    deepEqual(await alice.session.sendText("bob", "closing"), { queued: false });
    await again.waitFor((e) => isMessage(e) && e.message.text === "closing");
    deepEqual(texts(again), [["closing", undefined]]);
    await again.session.quit();
    await alice.session.quit();
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: a message queued through a node that is then SIGKILLed is still delivered through another, and its receipt waits for the sender", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  try {
    const aliceKey = await generateIdentity();
    const alice = await connectClient(a.port, "alice", { identity: aliceKey });
    const bobKey = await bindAndLeave(b.port, "bob", alice);
    deepEqual(await alice.session.sendText("bob", "before the crash"), { queued: true, qseq: 1 });
    deepEqual(await alice.session.sendText("bob", "and this too"), { queued: true, qseq: 2 });
    await a.stop("SIGKILL");
    const bob = await connectClient(b.port, "bob", { identity: bobKey });
    await bob.waitFor((e) => isMessage(e) && e.message.text === "and this too");
    deepEqual(texts(bob), [["before the crash", true], ["and this too", true]]);
    // Alice's name is free once the cluster has taken node A's peers offline (its heartbeat).
    await until(() => !bob.session.peers.has("alice"), { ms: 20_000, what: "alice gone" });
    // Alice's node is gone: her "delivered" notices wait in her own queue for her next join.
    const back = await connectClient(b.port, "alice", { identity: aliceKey });
    await back.waitFor(() => notices(back).length === 2);
    deepEqual(
      notices(back),
      [1, 2].map((qseq) => ({
        kind: "queue-notice",
        notice: "delivered",
        to: "bob",
        qseq,
      })),
    );
    await back.session.quit();
    await bob.session.quit();
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: a node started after the peer left finds their keys in Redis and queues for them", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  try {
    const watcher = await connectClient(a.port, "watcher");
    const bobKey = await bindAndLeave(b.port, "bob", watcher);
    // Node 2 never saw bob: only Redis knows his name is bound, and to which keys.
    const late = await cluster.startNode(2);
    const alice = await connectClient(late.port, "alice");
    deepEqual(await alice.session.sendText("bob", "found you"), { queued: true, qseq: 1 });
    const bob = await connectClient(b.port, "bob", { identity: bobKey });
    await bob.waitFor((e) => isMessage(e) && e.message.text === "found you");
    await alice.waitFor(() => notices(alice).length === 1);
    deepEqual(notices(alice), [{ kind: "queue-notice", notice: "delivered", to: "bob", qseq: 1 }]);
    // A name nobody bound is still unknown.
    await rejects(
      alice.session.sendText("nobody", "hello?"),
      (e: Error) => e instanceof PeerstreamError && e.code === "UNKNOWN_PEER",
    );
    await alice.session.quit();
    await bob.session.quit();
    await watcher.session.quit();
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: a full queue refuses with QUEUE_FULL and loses nothing it accepted", async () => {
  const cluster = await startCluster({ nodes: 2, limits: { queueMessages: 2 } });
  const [a, b] = cluster.nodes;
  try {
    await fullQueueCase({ alice: a.port, bind: b.port, back: a.port });
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: a queued message past its age is deleted unread and its sender, on another node, told 'expired'", async () => {
  const cluster = await startCluster({ nodes: 2, limits: { queueMaxAgeMs: 1000 } });
  const [a, b] = cluster.nodes;
  try {
    await expiredCase({ alice: a.port, bind: b.port, back: b.port });
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: an ephemeral peer who left is never queued for: PEER_OFFLINE", async () => {
  const cluster = await startCluster({ nodes: 2 });
  const [a, b] = cluster.nodes;
  try {
    await ephemeralCase({ alice: a.port, bind: b.port });
  } finally {
    await cluster.stop();
  }
});
