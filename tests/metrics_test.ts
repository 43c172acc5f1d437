/**
 * `serve --metrics` (issue 16, item 6): a real server scraped over HTTP, the text parsed by a
 * real Prometheus text-format parser (the npm package `parse-prometheus-text-format`), values
 * checked as users join, chat, play and get refused; `/healthz` and `/readyz`.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { connectClient, startServer, type TestClient } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";
import { deadline, until } from "./_util.ts";
import { startCluster } from "./_cluster.ts";

/** One sample: its labels and value. */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The parsed families, by name: type and samples (a histogram's buckets under `le`). */
type Scrape = Map<string, { type: string; samples: Sample[] }>;

/** Parses the text with the real parser and checks the shape it gives. */
function parse(text: string): Scrape {
  const families: unknown = parsePrometheus(text);
  ok(Array.isArray(families), "the parser gives a list of families");
  const out: Scrape = new Map();
  for (const family of families as { name: string; type: string; metrics: unknown[] }[]) {
    const samples: Sample[] = [];
    for (const metric of family.metrics as Record<string, unknown>[]) {
      const labels = (metric.labels ?? {}) as Record<string, string>;
      if (family.type === "HISTOGRAM") {
        for (const [le, value] of Object.entries(metric.buckets as Record<string, string>)) {
          samples.push({ labels: { ...labels, le }, value: Number(value) });
        }
        samples.push({ labels: { ...labels, le: "count" }, value: Number(metric.count) });
      } else {
        samples.push({ labels, value: Number(metric.value) });
      }
    }
    out.set(family.name, { type: family.type, samples });
  }
  return out;
}

/** The value of a sample, or undefined. */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}) {
  const family = scrape.get(name);
  const sample = family?.samples.find((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return sample?.value;
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await deadline(fetch(`http://127.0.0.1:${port}${path}`), 30_000, path);
  return { status: response.status, text: await response.text() };
}

async function scrape(port: number): Promise<Scrape> {
  const { status, text } = await get(port, "/metrics");
  equal(status, 200);
  return parse(text);
}

/** Scrapes until `test` holds (values settle as events are handled), or fails with the last. */
async function scrapeUntil(port: number, test: (s: Scrape) => boolean, what: string) {
  let last = await scrape(port);
  await until(async () => test(last = await scrape(port)), {
    ms: 30_000,
    what: `metrics showing ${what}`,
    everyMs: 100,
  });
  return last;
}

async function metricsPort(out: { waitFor(re: RegExp): Promise<string> }): Promise<number> {
  const line = await out.waitFor(/Metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
  return Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
}

Deno.test("serve --metrics: joins, messages, streams and refusals move the parsed metrics", async () => {
  const server = await startServer({
    args: ["--metrics", "127.0.0.1:0", "--max-per-address", "3"],
    waitReady: true,
  });
  const clients: TestClient[] = [];
  try {
    const port = await metricsPort(server.out);
    const before = await scrapeUntil(
      port,
      (s) => value(s, "peerstream_registered_users") === 0,
      "no users once the probe left",
    );
    equal(before.get("peerstream_messages_relayed_total")?.type, "COUNTER");
    equal(before.get("peerstream_pacing_lag_seconds")?.type, "HISTOGRAM");
    equal(value(before, "peerstream_ready"), 1);
    const relayed = value(before, "peerstream_messages_relayed_total")!;

    const alice = await connectClient(server.port, "alice");
    const bob = await connectClient(server.port, "bob");
    clients.push(alice, bob);
    const joined = await scrapeUntil(
      port,
      (s) => value(s, "peerstream_registered_users") === 2,
      "two users",
    );
    equal(value(joined, "peerstream_connections", { door: "tcp", state: "registered" }), 2);

    await deadline(alice.session.sendText("bob", "hello"), 30_000, "sendText");
    await bob.waitFor((e) => e.kind === "message");
    await scrapeUntil(
      port,
      (s) => value(s, "peerstream_messages_relayed_total") === relayed + 1,
      "one more relayed message",
    );

    // A third connection is the address's last; the fourth is refused with its reason.
    const carol = await connectClient(server.port, "carol");
    clients.push(carol);
    let refusedCode = "";
    try {
      await connectClient(server.port, "dave");
    } catch (error) {
      refusedCode = (error as { code?: string }).code ?? String(error);
    }
    equal(refusedCode, "SERVER_FULL");
    await scrapeUntil(
      port,
      (s) =>
        value(s, "peerstream_limit_refusals_total", { reason: "connections_per_address" }) === 1,
      "one refusal for connections per address",
    );

    // A request refused with a code: PLAY of a title that does not exist.
    await carol.session.play("no-such-title", { quality: 240, sink: nullSink }).catch(() => {});
    await scrapeUntil(
      port,
      (s) => value(s, "peerstream_messages_refused_total", { code: "VIDEO_NOT_FOUND" }) === 1,
      "one VIDEO_NOT_FOUND",
    );

    // A viewer at 240p: segments, bytes and pacing lag move.
    await carol.session.play("testcard", { quality: 240, sink: nullSink });
    await carol.waitFor((e) => e.kind === "segment" && e.segment.index >= 1);
    const watching = await scrapeUntil(
      port,
      (s) =>
        value(s, "peerstream_viewers", { rendition: "240p" }) === 1 &&
        value(s, "peerstream_segments_sent_total")! >= 2,
      "a 240p viewer with two segments sent",
    );
    equal(
      value(watching, "peerstream_pacing_lag_seconds", { le: "count" }),
      value(watching, "peerstream_segments_sent_total"),
      "one lag sample per segment",
    );
    ok(value(watching, "peerstream_sent_bytes_total")! > 100_000, "the segments' bytes count");

    // Bounded cardinality: no label names a connection or a user.
    const labelValues = [...watching.values()].flatMap((f) =>
      f.samples.flatMap((s) => Object.values(s.labels))
    );
    for (const who of ["alice", "bob", "carol", String(server.port)]) {
      ok(!labelValues.some((v) => v.includes(who)), `no label value names ${who}`);
    }
    deepEqual(
      [...new Set(watching.get("peerstream_connections")!.samples.map((s) => s.labels.door))],
      ["tcp", "tls", "websocket"],
    );
  } finally {
    for (const c of clients) await c.session.quit().catch(() => {});
    await server.stop();
  }
});

const nullSink = () => ({ write() {}, close() {} });

Deno.test("serve --metrics: /readyz is 503 while the library loads, then 200; /healthz is 200", async () => {
  const cache = await Deno.makeTempDir({ prefix: "peerstream-fresh-cache-" });
  const server = await startServer({ args: ["--metrics", "127.0.0.1:0"], cacheDir: cache });
  try {
    const port = await metricsPort(server.out);
    const early = await get(port, "/readyz");
    equal(early.status, 503, early.text);
    equal(early.text, "not ready: the video library is still loading\n");
    const health = await get(port, "/healthz");
    deepEqual(health, { status: 200, text: "ok\n" });
    equal(value(await scrape(port), "peerstream_ready"), 0);
    let ready = early;
    await until(async () => (ready = await get(port, "/readyz")).status === 200, {
      ms: 300_000,
      everyMs: 250,
      what: () => `/readyz to answer 200 (last: ${ready.status})`,
    });
    deepEqual(ready, { status: 200, text: "ready\n" });
    equal(value(await scrape(port), "peerstream_ready"), 1);
    deepEqual((await get(port, "/nothing")).status, 404);
    const post = await deadline(
      fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" }),
      30_000,
      "POST",
    );
    await post.body?.cancel();
    equal(post.status, 405);
  } finally {
    await server.stop();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("serve --metrics: garbage, oversized heads and silent clients never stop the listener", async () => {
  const server = await startServer({
    args: ["--metrics", "127.0.0.1:0"],
    env: { PEERSTREAM_LIMITS: JSON.stringify({}) },
  });
  try {
    const port = await metricsPort(server.out);
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const answers: string[] = [];
    for (const bytes of ["garbage\r\n\r\n", `GET /${"x".repeat(20_000)} HTTP/1.1\r\n\r\n`]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(bytes)).catch(() => 0);
      const buffer = new Uint8Array(1024);
      const n = await deadline(conn.read(buffer).catch(() => null), 30_000, "an answer");
      answers.push(new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0]);
      conn.close();
    }
    deepEqual(answers, [
      "HTTP/1.1 400 Bad Request",
      "HTTP/1.1 431 Request Header Fields Too Large",
    ]);
    // The silent one is closed at the head deadline; meanwhile others are served.
    equal((await get(port, "/healthz")).status, 200);
    const n = await deadline(silent.read(new Uint8Array(16)).catch(() => null), 30_000, "close");
    equal(n, null, "the silent client was closed");
    silent.close();
    const raw = await RawClient.connect(server.port);
    raw.close();
    await raw.done;
    const bad = server.out.lines.filter((l) => /internal error/.test(l));
    deepEqual(bad, []);
  } finally {
    await server.stop();
  }
});

Deno.test("serve --metrics in a cluster: /readyz and peerstream_redis_up follow the link to Redis", async () => {
  const cluster = await startCluster({ nodes: 0 });
  try {
    const node = await cluster.startNode(0, ["--metrics", "127.0.0.1:0"]);
    const port = await metricsPort(node.out);
    const readyz = async (status: number) => {
      let answer = await get(port, "/readyz");
      await until(async () => (answer = await get(port, "/readyz")).status === status, {
        ms: 60_000,
        what: () => `/readyz to answer ${status} (last: ${answer.status} ${answer.text})`,
        everyMs: 100,
      });
      return answer;
    };
    deepEqual(await readyz(200), { status: 200, text: "ready\n" });
    equal(value(await scrape(port), "peerstream_redis_up"), 1);
    await cluster.redis.stop();
    deepEqual(await readyz(503), { status: 503, text: "not ready: Redis is unreachable\n" });
    equal(value(await scrape(port), "peerstream_redis_up"), 0);
    equal((await get(port, "/healthz")).status, 200, "alive all the same");
    await cluster.redis.restart();
    deepEqual(await readyz(200), { status: 200, text: "ready\n" });
    equal(value(await scrape(port), "peerstream_redis_up"), 1);
  } finally {
    await cluster.stop();
  }
});

Deno.test("serve --metrics on a port in use says so and exits 1, as JSON with --log-format json", async () => {
  const first = await startServer({ args: ["--metrics", "127.0.0.1:0"] });
  try {
    const taken = await metricsPort(first.out);
    const second = await startServer({
      args: ["--metrics", `127.0.0.1:${taken}`, "--log-format", "json"],
    });
    equal(await second.stop(), 1);
    const errors = second.err.lines.map((line) => JSON.parse(line));
    deepEqual(errors.map((e) => [e.level, e.event, e.msg]), [[
      "error",
      "port-in-use",
      `Cannot serve the metrics on port ${taken}: it is in use; pick another`,
    ]]);
  } finally {
    await first.stop();
  }
});
