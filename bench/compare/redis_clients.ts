/**
 * How the two well-kept npm Redis clients behave under Deno: `ioredis` and node-redis
 * (`@redis/client`, the core of the `redis` package: chosen, pinned in deno.json). Each runs the same checks against a real `redis-server`
 * on loopback (binary pub/sub, Lua scripts through EVALSHA with the NOSCRIPT fallback, MULTI,
 * Redis killed and restarted, Redis unreachable at start, unhandled rejections), then the same
 * throughput rounds, alternating, with the median of five. Not part of `deno task bench`; run it
 * by hand when the choice is revisited:
 *
 * ```sh
 * deno run -A bench/compare/redis_clients.ts
 * ```
 *
 * The figures of the run behind the choice are in docs/cluster.md.
 * @module
 */

import IORedis from "npm:ioredis@6.0.0";
import { createClient, defineScript } from "@redis/client";
import { Buffer } from "node:buffer";
import process from "node:process";
import { RedisServer } from "../../tests/_redis.ts";

let unhandled = 0;
globalThis.addEventListener("unhandledrejection", (event) => {
  unhandled++;
  event.preventDefault();
});

const LUA = "local v = redis.call('INCR', KEYS[1]) " +
  "if tonumber(ARGV[1]) > 0 then redis.call('PUBLISH', 'ch', v) end return v";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The operations both clients are driven through. */
interface Adapter {
  errors: string[];
  cmd(args: string[]): Promise<unknown>;
  script(key: string, arg: string): Promise<unknown>;
  multi(key: string): Promise<unknown>;
  subscribe(channel: string, onMessage: (bytes: Uint8Array) => void): Promise<unknown>;
  publish(channel: string, bytes: Uint8Array): Promise<number>;
  close(): void;
}

type Make = (url: string, unreachable?: boolean) => Promise<Adapter>;

const backoff = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

async function makeIoredis(url: string, unreachable = false): Promise<Adapter> {
  const errors: string[] = [];
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    enableAutoPipelining: true,
    retryStrategy: backoff,
  };
  const client = new IORedis(url, options);
  const subscriber = new IORedis(url, { ...options, enableOfflineQueue: true });
  client.defineCommand("bump", { numberOfKeys: 1, lua: LUA });
  for (const c of [client, subscriber]) c.on("error", (e: Error) => errors.push(e.message));
  const handlers = new Map<string, (bytes: Uint8Array) => void>();
  subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => {
    handlers.get(channel.toString())?.(message);
  });
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
  } catch (error) {
    if (!unreachable) throw error;
    errors.push(`connect() rejected: ${(error as Error).message}`);
  }
  return {
    errors,
    cmd: (args) => client.call(args[0], ...args.slice(1)),
    script: (key, arg) =>
      (client as unknown as Record<string, (...a: string[]) => Promise<unknown>>).bump(key, arg),
    multi: (key) => client.multi().set(key, "1").incr(key).exec(),
    subscribe: (channel, on) => {
      handlers.set(channel, on);
      return subscriber.subscribe(channel);
    },
    publish: (channel, bytes) => client.publish(channel, Buffer.from(bytes)),
    close: () => {
      client.disconnect();
      subscriber.disconnect();
    },
  };
}

async function makeNodeRedis(url: string, unreachable = false): Promise<Adapter> {
  const errors: string[] = [];
  const socket = { reconnectStrategy: backoff };
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket,
    scripts: {
      bump: defineScript({
        SCRIPT: LUA,
        NUMBER_OF_KEYS: 1,
        parseCommand(
          parser: { pushKey(k: string): void; push(a: string): void },
          key: string,
          arg: string,
        ) {
          parser.pushKey(key);
          parser.push(arg);
        },
        transformReply: undefined as never,
      }),
    },
  });
  const subscriber = createClient({ url, socket });
  for (const c of [client, subscriber]) c.on("error", (e: Error) => errors.push(e.message));
  const connecting = Promise.all([client.connect(), subscriber.connect()]);
  connecting.catch(() => {});
  // connect() neither resolves nor rejects while Redis is unreachable: it keeps retrying.
  const state = await Promise.race([
    connecting.then(() => "ok"),
    sleep(3000).then(() => "pending"),
  ]);
  if (state === "pending") {
    if (!unreachable) throw new Error("connect() did not settle");
    errors.push("connect() still pending after 3 s (it keeps retrying)");
  }
  return {
    errors,
    cmd: (args) => client.sendCommand(args),
    script: (key, arg) =>
      (client as unknown as Record<string, (...a: string[]) => Promise<unknown>>).bump(key, arg),
    multi: (key) => client.multi().set(key, "1").incr(key).exec(),
    subscribe: (channel, on) => subscriber.subscribe(channel, (m: Buffer) => on(m), true),
    publish: (channel, bytes) => client.publish(channel, Buffer.from(bytes)),
    close: () => {
      client.destroy();
      subscriber.destroy();
    },
  };
}

async function waitFor(condition: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    try {
      if (await condition()) return Math.round(performance.now() - start);
    } catch {
      // Not yet.
    }
    await sleep(20);
  }
  return -1;
}

const outcome = (p: Promise<unknown>) =>
  p.then((v) => `ok ${v}`, (e: Error) => `rejected: ${e.message.slice(0, 60)}`);

async function correctness(make: Make): Promise<Record<string, unknown>> {
  const redis = await RedisServer.start();
  const a = await make(redis.url);
  const out: Record<string, unknown> = {};
  out.script = await a.script("k", "1");
  await a.cmd(["SCRIPT", "FLUSH"]);
  out.scriptAfterScriptFlush = await a.script("k", "0");
  out.multi = JSON.stringify(await a.multi("m"));
  const got: Uint8Array[] = [];
  await a.subscribe("bin", (bytes) => got.push(bytes));
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  out.publishReceivers = await a.publish("bin", bytes);
  await waitFor(() => got.length > 0, 2000);
  out.binaryIntact = got.length === 1 && got[0].every((v, i) => v === i) && got[0].length === 256;
  await redis.stop("SIGKILL");
  let start = performance.now();
  out.commandWhileDown = await outcome(a.cmd(["PING"]));
  out.rejectedWithinMs = Math.round(performance.now() - start);
  out.publishWhileDown = await outcome(a.publish("bin", bytes));
  await sleep(1500);
  await redis.restart();
  out.reconnectedWithinMs = await waitFor(async () => (await a.cmd(["PING"])) === "PONG", 10_000);
  got.length = 0;
  out.resubscribedWithinMs = await waitFor(async () => {
    await a.publish("bin", bytes);
    return got.length > 0;
  }, 10_000);
  out.scriptAfterRestart = await outcome(a.script("k2", "0"));
  a.close();
  await redis.stop();
  start = performance.now();
  const b = await make(redis.url, true);
  out.startUnreachable = b.errors.find((e) => e.startsWith("connect()"));
  out.startUnreachableMs = Math.round(performance.now() - start);
  out.commandUnreachable = await outcome(b.cmd(["PING"]));
  await redis.restart();
  out.connectedLaterWithinMs = await waitFor(
    async () => (await b.cmd(["PING"])) === "PONG",
    10_000,
  );
  b.close();
  await redis.close();
  out.unhandledRejections = unhandled;
  return out;
}

async function measure(n: number, fn: () => Promise<void>) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { perS: Math.round(n / (ms / 1000)), cpuUs: (used.user + used.system) / n };
}

async function rounds(n: number, fn: (i: number) => Promise<unknown>) {
  for (let done = 0; done < n; done += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, n - done) }, (_, i) => fn(i)));
  }
}

async function throughput(make: Make) {
  const redis = await RedisServer.start();
  const a = await make(redis.url);
  const out: Record<string, { perS: number; cpuUs: number }> = {};
  out["PING, one at a time"] = await measure(3000, async () => {
    for (let i = 0; i < 3000; i++) await a.cmd(["PING"]);
  });
  out["SET, 1,000 in flight"] = await measure(
    30_000,
    () => rounds(30_000, (i) => a.cmd(["SET", `k${i}`, "v"])),
  );
  out["EVALSHA, 1,000 in flight"] = await measure(
    20_000,
    () => rounds(20_000, (i) => a.script(`s${i}`, "0")),
  );
  let got = 0;
  await a.subscribe("p", () => got++);
  const body = new Uint8Array(2048);
  out["PUBLISH 2 KiB to a subscriber"] = await measure(20_000, async () => {
    await rounds(20_000, () => a.publish("p", body));
    await waitFor(() => got >= 20_000, 10_000);
  });
  a.close();
  await redis.close();
  return out;
}

const clients: [string, Make][] = [["ioredis 6.0.0", makeIoredis], [
  "@redis/client 6.3.1",
  makeNodeRedis,
]];
for (const [name, make] of clients) console.log(name, await correctness(make));
const results = new Map<string, Record<string, { perS: number; cpuUs: number }>[]>();
for (let round = 0; round < 5; round++) {
  for (const [name, make] of round % 2 === 0 ? clients : [...clients].reverse()) {
    results.set(name, [...(results.get(name) ?? []), await throughput(make)]);
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, runs] of results) {
  for (const row of Object.keys(runs[0])) {
    const perS = median(runs.map((r) => r[row].perS));
    const cpu = median(runs.map((r) => r[row].cpuUs)).toFixed(1);
    console.log(`${name} | ${row} | ${perS}/s | ${cpu} µs client CPU per op`);
  }
}
console.log("unhandled rejections:", unhandled);
