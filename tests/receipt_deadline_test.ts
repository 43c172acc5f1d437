// A recipient that reads its messages but never confirms them (issue 16): with the receipt
// deadline lowered to 2 s, its senders are answered PEER_UNREACHABLE well before their client's
// 60 s request timeout, its window moves on to the next message, and an honest pair chats on
// undisturbed. Once on one real `serve`, once across two `serve --redis` nodes.

import { equal, match, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import type { Message } from "../protocol/messages.ts";
import { connectClient, LOOPBACK_LIMITS, startServer, type TestClient } from "./_helpers.ts";
import { startCluster } from "./_cluster.ts";
import { RawClient } from "./_raw_client.ts";
import { deadline, until } from "./_util.ts";

/** The lowered receipt deadline, and a window of one message so that the second one waits. */
const LIMITS = { receiptTimeoutMs: 2_000, relayWindowMessages: 1 };

/**
 * Far below the client's 60 s request timeout, and generous for a busy machine: each message ends
 * after 2 s plus up to one 1 s tick.
 */
const ANSWER_MS = 25_000;

/** How a send ended: "delivered", or the error's code and message. */
function outcomeOf(sender: TestClient, to: string, text: string): Promise<string> {
  return deadline(sender.session.sendText(to, text), ANSWER_MS, `send "${text}"`).then(
    () => "delivered",
    (error: unknown) =>
      error instanceof PeerstreamError ? `${error.code}: ${error.message}` : `${error}`,
  );
}

/** An honest pair chatting in turns until `stop`; returns how many messages were delivered. */
async function chat(a: TestClient, b: TestClient, stop: Promise<unknown>): Promise<number> {
  let done = false;
  const end = () => (done = true);
  stop.then(end, end);
  let delivered = 0;
  for (let i = 0; !done || delivered === 0; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    await deadline(from.session.sendText(to.session.name!, `honest ${i}`), ANSWER_MS, "honest");
    delivered++;
  }
  return delivered;
}

/**
 * The attack and what must follow: `sender` sends two messages to `silent`, which reads but never
 * confirms. The first is answered PEER_UNREACHABLE; only then is the second released to `silent`
 * (the window moved), and it is answered the same way.
 */
async function silentRecipient(sender: TestClient, silent: RawClient, name: string) {
  const delivers = () =>
    silent.messages.filter((m): m is Extract<Message, { type: "deliver" }> => m.type === "deliver");
  const arrived: number[] = [];
  silent.onMessage = (m) => {
    if (m.type === "deliver") arrived.push(performance.now());
  };
  const started = performance.now();
  const first = outcomeOf(sender, name, "will you confirm?");
  await until(() => delivers().length === 1, { ms: ANSWER_MS, what: "the first deliver" });
  const second = outcomeOf(sender, name, "and this one?");
  const firstOutcome = await first;
  match(firstOutcome, /^PEER_UNREACHABLE: /);
  match(
    firstOutcome,
    new RegExp(
      `Message to "${name}" was not confirmed by their client within 2 s; it may not have been shown; send it again later`,
    ),
  );
  // The second waited behind the first in a window of one: it reached the recipient only once
  // the first was over.
  await until(() => delivers().length === 2, { ms: ANSWER_MS, what: "the second deliver" });
  const gap = arrived[1] - arrived[0];
  ok(gap > 1_000, `the second came ${Math.round(gap)} ms after the first, once its 2 s were over`);
  match(await second, /^PEER_UNREACHABLE: .*within 2 s/);
  const ms = performance.now() - started;
  ok(ms < 2 * ANSWER_MS, `both answered in ${Math.round(ms)} ms, before the client's 60 s`);
  // A receipt after the deadline is ignored: the next message is answered by the deadline too,
  // not settled by the late receipt.
  const [late] = delivers();
  await silent.write({ type: "receipt", rid: late.rid, ok: true });
  match(await outcomeOf(sender, name, "third"), /^PEER_UNREACHABLE: /);
  equal(delivers().length, 3);
  equal(silent.messages.filter((m) => m.type === "error").length, 0, "the silent one is not told");
}

Deno.test("a recipient that never confirms gets its senders answered PEER_UNREACHABLE, one window at a time", async () => {
  const server = await startServer({
    env: { PEERSTREAM_LIMITS: JSON.stringify({ ...LOOPBACK_LIMITS, ...LIMITS }) },
  });
  const silent = await RawClient.connect(server.port);
  const clients: TestClient[] = [];
  try {
    await silent.register("silent", await generateIdentity());
    const sender = await connectClient(server.port, "sender");
    clients.push(sender);
    clients.push(await connectClient(server.port, "honest-a"));
    clients.push(await connectClient(server.port, "honest-b"));
    await until(() => sender.session.peers.has("silent"), { ms: 10_000, what: "silent seen" });
    const attack = silentRecipient(sender, silent, "silent");
    const honest = await chat(clients[1], clients[2], attack);
    await attack;
    ok(honest > 0, `the honest pair chatted throughout (${honest} delivered)`);
    await server.out.waitFor(/unconfirmed #\d+: 1 messages not confirmed within 2000 ms/);
  } finally {
    silent.close();
    await silent.done;
    for (const client of clients) await client.session.quit();
    await server.stop();
  }
});

Deno.test("cluster: a sender on another node is answered PEER_UNREACHABLE by the recipient's node", async () => {
  const cluster = await startCluster({ nodes: 2, limits: LIMITS });
  const [n0, n1] = cluster.nodes;
  const silent = await RawClient.connect(n0.port);
  const clients: TestClient[] = [];
  try {
    await silent.register("silent", await generateIdentity());
    const sender = await connectClient(n1.port, "sender");
    clients.push(sender);
    clients.push(await connectClient(n0.port, "honest-a"));
    clients.push(await connectClient(n1.port, "honest-b"));
    await until(() => sender.session.peers.has("silent"), { ms: 10_000, what: "silent seen" });
    await until(() => clients[1].session.peers.has("honest-b"), {
      ms: 10_000,
      what: "honest-b seen",
    });
    const attack = silentRecipient(sender, silent, "silent");
    const honest = await chat(clients[1], clients[2], attack);
    await attack;
    ok(honest > 0, `the honest pair chatted throughout (${honest} delivered)`);
  } finally {
    silent.close();
    await silent.done;
    for (const client of clients) await client.session.quit();
    await cluster.stop();
  }
});
