// Three `serve --redis` nodes and one real redis-server on loopback, with real `join` clients (and
// in-process ones where a test needs many) spread over them: one community.

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { formatFingerprint, generateIdentity } from "../protocol/e2e.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import {
  connectClient,
  type ServerProcess,
  startCli,
  startServer,
  type TestClient,
} from "./_helpers.ts";
import { startCluster } from "./_cluster.ts";
import { RawClient } from "./_raw_client.ts";
import { decodeMessage, encodeMessage } from "../protocol/messages.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { until } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("cluster: one community across three nodes", async (t) => {
  // dave never confirms: his deliveries must wait for him, not end at the receipt deadline.
  const cluster = await startCluster({
    limits: { relayRecipientMessages: 3, receiptTimeoutMs: 600_000 },
  });
  const [n0, n1, n2] = cluster.nodes;
  try {
    await t.step("presence and announcements, each once, on every node", async () => {
      const alice = await startCli(n0.port, "alice");
      const bob = await startCli(n1.port, "bob");
      await alice.out.waitFor(/^\* bob joined$/);
      const carol = await connectClient(n2.port, "carol");
      ok(carol.session.peers.names().includes("alice"));
      ok(carol.session.peers.names().includes("bob"));
      await alice.out.waitFor(/^\* carol joined$/);
      await bob.out.waitFor(/^\* carol joined$/);

      // Chat across nodes both ways, with receipts.
      await alice.type("MESSAGE bob hello from n0");
      await bob.out.waitFor(/^<alice[^>]*> hello from n0$/);
      await alice.out.waitFor(/^\* delivered to bob$/);
      await bob.type("MESSAGE alice hello from n1");
      await alice.out.waitFor(/^<bob[^>]*> hello from n1$/);
      await bob.out.waitFor(/^\* delivered to alice$/);
      await carol.session.sendText("alice", "and from n2");
      await alice.out.waitFor(/^<carol[^>]*> and from n2$/);

      // A peer's key from another node: the one bob registered with.
      const keys = await carol.session.peerKeys("bob");
      const bobKeys = await alice.type("KEYS").then(() => alice.out.waitFor(/^bob /));
      ok(bobKeys.includes(formatFingerprint(keys.fingerprint, 4)), bobKeys);

      await bob.type("QUIT");
      equal(await bob.finish(), 0);
      await alice.out.waitFor(/^\* bob left$/);
      await carol.waitFor((e) => e.kind === "left" && e.name === "bob");
      await carol.session.quit();
      await alice.out.waitFor(/^\* carol left$/);
      await alice.type("QUIT");
      equal(await alice.finish(), 0);
      // Each join and leave was announced once.
      equal(alice.out.lines.filter((l) => l === "* bob joined").length, 1);
      equal(alice.out.lines.filter((l) => l === "* carol joined").length, 1);
      equal(alice.out.lines.filter((l) => l === "* bob left").length, 1);
      await Deno.remove(alice.home, { recursive: true });
      await Deno.remove(bob.home, { recursive: true });
    });

    await t.step("a 20-way race for one name across nodes has one winner", async () => {
      const identities = await Promise.all(Array.from({ length: 20 }, () => generateIdentity()));
      const attempts = identities.map((identity, i) =>
        connectClient(cluster.nodes[i % 3].port, "prize", { identity })
      );
      const results = await Promise.allSettled(attempts);
      const winners = results.filter((r) => r.status === "fulfilled");
      equal(winners.length, 1);
      for (const r of results) {
        if (r.status === "rejected") {
          ok(r.reason instanceof PeerstreamError, String(r.reason));
          equal(r.reason.code, "NAME_TAKEN");
        }
      }
      for (const w of winners) await w.value.session.quit();
    });

    await t.step("what a recipient may have unconfirmed holds across nodes", async () => {
      // dave reads but never confirms; senders on the two other nodes share his budget of 3.
      const dave = await RawClient.connect(n0.port);
      await dave.register("dave", await generateIdentity());
      const s1 = await connectClient(n1.port, "sender1");
      const s2 = await connectClient(n2.port, "sender2");
      await until(() => s1.session.peers.has("dave") && s2.session.peers.has("dave"), {
        ms: 10_000,
        what: "dave seen",
      });
      const settled: string[] = [];
      const send = (s: typeof s1, text: string) =>
        s.session.sendText("dave", text).then(
          () => "delivered",
          (e) => (e as PeerstreamError).code,
        );
      // Five from each. The budget is 3; a sender still under its fair share of a full inbox
      // gets in anyway, up to twice the budget in all (relay.ts): which of the ten get in depends
      // on the order they reach dave's node, how many may not.
      const sends = [s1, s2, s1, s2, s1, s2, s1, s2, s1, s2].map((s, i) =>
        send(s, `m${i}`).then((outcome) => {
          settled.push(outcome);
          return outcome;
        })
      );
      const delivered = () => dave.messages.filter((m) => m.type === "deliver").length;
      // Every one either reached dave (and waits for his receipt, forever) or was refused.
      // Generous: on a busy machine each refusal crosses Redis and a second node.
      await until(() => delivered() + settled.length === 10, {
        ms: 60_000,
        what: () =>
          `every send placed; ${delivered()} delivered, settled ${JSON.stringify(settled)}`,
      });
      const held = delivered();
      ok(held >= 3 && held <= 6, `${held} held unconfirmed; the budget is 3, twice that at most`);
      deepEqual(settled, settled.map(() => "INBOX_FULL"));
      // A later send from each sender, refused in turn, closes the window: the delivered ones
      // still wait for dave's receipts, not settled by anything else meanwhile.
      deepEqual(await Promise.all([send(s1, "late1"), send(s2, "late2")]), [
        "INBOX_FULL",
        "INBOX_FULL",
      ]);
      equal(settled.length, 10 - held);
      dave.close();
      const outcomes = await Promise.all(sends);
      equal(outcomes.filter((o) => o === "INBOX_FULL").length, 10 - held, JSON.stringify(outcomes));
      equal(outcomes.filter((o) => o === "PEER_OFFLINE").length, held, JSON.stringify(outcomes));
      equal(delivered(), held);
      await s1.session.quit();
      await s2.session.quit();
    });

    await t.step("serve --release frees a name in the whole cluster", async () => {
      const first = await connectClient(n0.port, "erin");
      await first.session.quit();
      const other = await generateIdentity();
      await rejects(connectClient(n1.port, "erin", { identity: other }), /belongs to another key/);
      const release = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}main.ts`,
          "serve",
          "--release",
          "erin",
          "--redis",
          cluster.redis.url,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      equal(release.code, 0, new TextDecoder().decode(release.stderr));
      match(new TextDecoder().decode(release.stdout), /Released "erin" in the cluster/);
      const taken = await connectClient(n2.port, "erin", { identity: other });
      await taken.session.quit();
    });
  } finally {
    await cluster.stop();
  }
});

async function sigkill(node: ServerProcess) {
  await node.stop("SIGKILL");
}

Deno.test("cluster: a SIGKILLed node's users are announced gone and their names come back", async () => {
  const cluster = await startCluster();
  try {
    const alice = await startCli(cluster.nodes[0].port, "alice");
    const bobIdentity = await generateIdentity();
    await connectClient(cluster.nodes[1].port, "bob", { identity: bobIdentity });
    await alice.out.waitFor(/^\* bob joined$/);
    await sigkill(cluster.nodes[1]);
    // The bound: 10 s (here the heartbeat TTL is 1.5 s).
    await alice.out.waitFor(/^\* bob left \(disconnected\)$/, { timeoutMs: 10_000 });
    equal(alice.out.lines.filter((l) => /unreachable/.test(l)).length, 0);
    const back = await connectClient(cluster.nodes[2].port, "bob", { identity: bobIdentity });
    await alice.out.waitFor(/^\* bob joined$/, {
      from: alice.out.lines.indexOf("* bob left (disconnected)"),
    });
    // A restarted node brings no ghosts back: what it announces on starting comes before a
    // later join through it, so once alice sees carol join there, a ghost would have shown.
    await cluster.startNode(1);
    const carol = await connectClient(cluster.nodes[1].port, "carol");
    await alice.out.waitFor(/^\* carol joined$/, { timeoutMs: 15_000 });
    equal(alice.out.lines.filter((l) => l === "* bob joined").length, 2);
    equal(alice.out.lines.filter((l) => /^\* bob left/.test(l)).length, 1);
    await back.session.quit();
    await carol.session.quit();
    await alice.type("QUIT");
    equal(await alice.finish(), 0);
    await Deno.remove(alice.home, { recursive: true });
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: Redis stopped then started during chat", async () => {
  const cluster = await startCluster({ nodes: 2 });
  try {
    const alice = await startCli(cluster.nodes[0].port, "alice");
    const amy = await connectClient(cluster.nodes[0].port, "amy");
    const bob = await connectClient(cluster.nodes[1].port, "bob");
    await alice.out.waitFor(/^\* bob joined$/);
    await cluster.redis.stop();
    await alice.out.waitFor(/^\* bob unreachable: their server lost contact/);
    await alice.type("MESSAGE bob are you there");
    await alice.err.waitFor(/^error: Cannot send to "bob": their server cannot be reached now/);
    await alice.type("MESSAGE amy still here");
    await alice.out.waitFor(/^\* delivered to amy$/);
    // New joins wait for Redis.
    await rejects(
      connectClient(cluster.nodes[1].port, "late"),
      /lost its connection to the cluster/,
    );
    await cluster.redis.restart();
    await alice.out.waitFor(/^\* bob reachable again$/, { timeoutMs: 15_000 });
    await alice.type("MESSAGE bob back again");
    await alice.out.waitFor(/^\* delivered to bob$/).catch((e) => {
      throw new Error(
        `${e.message}\nstderr: ${alice.err.lines.join("\n")}\nnode0: ${
          cluster.nodes[0].out.lines.slice(-15).join("\n")
        }\nnode1: ${cluster.nodes[1].out.lines.slice(-15).join("\n")}\nbob's events: ${
          JSON.stringify(bob.events.map((e) => e.kind === "message" ? e.message.text : e.kind))
        }`,
      );
    });
    await bob.waitFor((e) => e.kind === "message" && e.message.text === "back again");
    // A later message on the same path closes the window: a second copy of "back again" or a
    // repeated announcement would have come before it.
    await alice.type("MESSAGE bob marker");
    await bob.waitFor((e) => e.kind === "message" && e.message.text === "marker");
    // Delivered once; nobody announced twice; no node crashed.
    const texts = bob.events.flatMap((e) => e.kind === "message" ? [e.message.text] : []);
    deepEqual(texts, ["back again", "marker"]);
    equal(alice.out.lines.filter((l) => l === "* bob joined").length, 1);
    equal(alice.out.lines.filter((l) => /^\* bob left/.test(l)).length, 0);
    const late = await connectClient(cluster.nodes[1].port, "late");
    await late.session.quit();
    await amy.session.quit();
    await bob.session.quit();
    await alice.type("QUIT");
    equal(await alice.finish(), 0);
    await Deno.remove(alice.home, { recursive: true });
    for (const node of cluster.nodes) equal(await node.stop(), 0);
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: serve refuses a node name in use and says how to fix it", async () => {
  const cluster = await startCluster({ nodes: 1 });
  try {
    await rejects(
      startServer({ args: ["--redis", cluster.redis.url, "--node", "n0"], env: cluster.env }),
      /another live node is named "n0"; give each node its own --node/,
    );
  } finally {
    await cluster.stop();
  }
});

Deno.test("cluster: serve --redis says how to fix an unreachable Redis", async () => {
  const cluster = await startCluster({ nodes: 0 });
  const url = cluster.redis.url;
  await cluster.stop();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-net", `${ROOT}main.ts`, "serve", "--port", "0", "--redis", url],
    env: { PEERSTREAM_LIMITS: JSON.stringify({ clusterTtlMs: 500, clusterBeatMs: 100 }) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(out.code, 1);
  match(
    new TextDecoder().decode(out.stderr),
    /^error: Cannot join the cluster at redis:\/\/127\.0\.0\.1:\d+: .*; check that Redis is running\n$/,
  );
});

Deno.test("cluster: several serve processes share one port with --reuse-port", async () => {
  const cluster = await startCluster({ nodes: 0 });
  try {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const shared = ["--port", String(port), "--reuse-port"];
    // startServer passes --port 0 first; the later --port wins.
    const a = await cluster.startNode(0, shared);
    const b = await cluster.startNode(1, shared);
    equal(a.port, port);
    equal(b.port, port);
    const clients: TestClient[] = [];
    for (let i = 0; i < 12; i++) clients.push(await connectClient(port, `u${i}`));
    await until(
      () => clients.every((c) => c.session.peers.names().length === 11),
      { ms: 10_000, what: "everyone to know everyone" },
    );
    const joins = (node: ServerProcess) => node.out.lines.filter((l) => / join #/.test(l)).length;
    // The kernel spread the connections over both processes (12 connections: both get some).
    ok(joins(a) > 0 && joins(b) > 0, `joins: ${joins(a)} and ${joins(b)}`);
    equal(joins(a) + joins(b), 12);
    for (const c of clients) await c.session.quit();
  } finally {
    await cluster.stop();
  }
});

Deno.test("serve --trust-proxy takes the client's address from a PROXY header", async () => {
  const server = await startServer({ args: ["--trust-proxy", "127.0.0.1"] });
  try {
    const proxied = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await proxied.write(
      new TextEncoder().encode("PROXY TCP4 203.0.113.7 127.0.0.1 40000 7878\r\n"),
    );
    await server.out.waitFor(/connect #\d+ 203\.0\.113\.7:40000/);
    proxied.close();
    // From a trusted address, a connection without a header is refused before the handshake.
    const bare = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await bare.write(encodeMessage({ type: "quit" }));
    equal(await bare.read(new Uint8Array(16)), null);
    bare.close();
    await server.out.waitFor(/refused 127\.0\.0\.1:\d+: no PROXY header from trusted proxy/);
  } finally {
    await server.stop();
  }
});

Deno.test("serve --trust-proxy makes the per-address limit count real clients", async () => {
  const server = await startServer({
    args: ["--trust-proxy", "127.0.0.1", "--max-per-address", "1"],
  });
  const open: Deno.Conn[] = [];
  try {
    const via = async (address: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      open.push(conn);
      await conn.write(new TextEncoder().encode(`PROXY TCP4 ${address} 127.0.0.1 5000 7878\r\n`));
      const decoder = new FrameDecoder();
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      return n === null ? [] : decoder.push(buffer.subarray(0, n)).map(decodeMessage);
    };
    // Two clients behind the one balancer address, from two real addresses: both admitted.
    equal((await via("203.0.113.1"))[0]?.type, "server-hello");
    equal((await via("203.0.113.2"))[0]?.type, "server-hello");
    // A second one from the same real address is over its limit.
    const third = await via("203.0.113.1");
    equal(third[0]?.type, "error");
    equal(third[0]?.type === "error" ? third[0].code : "", "SERVER_FULL");
  } finally {
    for (const conn of open) conn.close();
    await server.stop();
  }
});

Deno.test("cluster: streaming stays on the node, with no Redis traffic per segment", async () => {
  const cluster = await startCluster({ nodes: 0 });
  try {
    const node = await startServer({
      args: ["--redis", cluster.redis.url, "--node", "streamer"],
      env: cluster.env,
      waitReady: true,
    });
    cluster.nodes.push(node);
    const viewer = await startCli(node.port, "viewer");
    const count = async () => {
      const info = await cluster.redis.info("commandstats");
      const calls = (name: string) =>
        Number(/calls=(\d+)/.exec(info.get(`cmdstat_${name}`) ?? "")?.[1] ?? 0);
      // Heartbeats are scripts; a node message would be a PUBLISH outside one (events INCR).
      return {
        scripts: calls("evalsha") + calls("eval"),
        messages: calls("publish") - calls("incr"),
      };
    };
    const before = await count();
    const started = performance.now();
    await viewer.type("PLAY testcard");
    await viewer.out.waitFor(/^\* (finished|all of) "testcard"/, { timeoutMs: 60_000 });
    const seconds = (performance.now() - started) / 1000;
    const after = await count();
    equal(node.out.lines.filter((l) => /play #\d+ "viewer"/.test(l)).length, 1);
    equal(after.messages - before.messages, 0);
    // Only the heartbeat (every 250 ms here) and the offline queues' expiry (once a minute),
    // whatever the number of segments.
    ok(
      after.scripts - before.scripts <= seconds * 4 + 4,
      `${after.scripts - before.scripts} scripts`,
    );
    await viewer.type("QUIT");
    equal(await viewer.finish(), 0);
    await Deno.remove(viewer.home, { recursive: true });
  } finally {
    await cluster.stop();
  }
});
