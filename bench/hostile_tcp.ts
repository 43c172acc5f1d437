/**
 * Scenario 17, the TCP/TLS door and fairness between senders (issue 16), against a real server:
 * how many honest joins get in during a reconnect flood of never-registering connectors
 * (`--max-connections 40`), an honest sender's latency to a recipient that 20 colluders flood
 * with 32 KiB messages against no flood, and what an idle TCP and TLS connection costs. The tests
 * assert the behaviour (tests/hostile_door_test.ts, tests/hostile_relay_test.ts); the figures live
 * here. With `--client-root` the servers are that checkout's (the "before" figures).
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { connectSession } from "../client/connect.ts";
import type { ClientSession } from "../client/session.ts";
import { generateIdentity, type Identity } from "../protocol/e2e.ts";
import type { ServerLimits } from "../server/limits.ts";
import { honestJoin, reconnectFlood } from "../tests/_door.ts";
import { loopbacks } from "../tests/_flood.ts";
import { startServer, throttledTransport } from "../tests/_helpers.ts";
import { PeerstreamError } from "../protocol/errors.ts";
import type { ColluderCommand, ColluderMode, ColluderReply } from "./_colluders_worker.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  fromRoot,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import type { BenchServer } from "./_server.ts";
import { percentile, sleep } from "./_stats.ts";

/** Everyone here but the flooders connects from 127.0.0.1: lift the per-address limits only. */
const ONE_ADDRESS: Readonly<Partial<ServerLimits>> = {
  maxConnectionsPerAddress: 16_000,
  connectsPerAddressPerSecond: 1_000_000,
  connectBurstPerAddress: 1_000_000,
  hellosPerAddressPerSecond: 1_000_000,
  helloBurstPerAddress: 1_000_000,
  maxNamesPerKey: 1_000_000,
  newNamesPerAddressPerDay: 1_000_000,
};

/**
 * Runs scenario 17.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function hostileTcpScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const root = ctx.clientRoot;
  const joins = ctx.quick ? 40 : 200;
  const admitted: number[] = [];
  const floodRate: number[] = [];
  const quiet: number[] = [];
  const flooded: number[] = [];
  const spun: number[] = [];
  const slowQuiet: number[] = [];
  const slowFlooded: number[] = [];
  const refusedHonest: number[] = [];
  const unansweredHonest: number[] = [];
  const idleTcp: number[] = [];
  const idleTls: number[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`hostile-tcp: reconnect flood with ${joins} honest joins, rep ${rep + 1}/${ctx.reps}`);
    await withServer(ctx, async (server) => {
      const result = await joinsDuringFlood(server, joins);
      admitted.push(result.admittedPercent);
      floodRate.push(result.connectsPerSecond);
    }, { limits: { maxConnections: 40 }, root });
    ctx.log(`hostile-tcp: 20 colluders against one recipient, rep ${rep + 1}/${ctx.reps}`);
    await withServer(ctx, async (server) => {
      const samples = ctx.quick ? 10 : 30;
      const hold = await colluderLatency(ctx, server, { samples, mode: "hold" });
      quiet.push(hold.quiet);
      flooded.push(hold.flooded);
      const spin = await colluderLatency(ctx, server, { samples, mode: "spin" });
      spun.push(spin.flooded);
      const slow = await colluderLatency(ctx, server, {
        samples: ctx.quick ? 5 : 10,
        mode: "hold",
        linkBytesPerSecond: 512 * 1024,
      });
      slowQuiet.push(slow.quiet);
      slowFlooded.push(slow.flooded);
      refusedHonest.push(hold.refused + spin.refused + slow.refused);
      unansweredHonest.push(hold.unanswered + spin.unanswered + slow.unanswered);
    }, { limits: ONE_ADDRESS, root });
    const idle = ctx.quick ? 200 : 1000;
    ctx.log(`hostile-tcp: ${idle} idle TCP, then TLS, connections, rep ${rep + 1}/${ctx.reps}`);
    idleTcp.push(await idleCost(ctx, { n: idle, tls: false }));
    idleTls.push(await idleCost(ctx, { n: idle, tls: true }));
  }
  const metrics: Metric[] = [
    {
      name: "honest joins admitted during a reconnect flood",
      unit: "%",
      values: admitted,
      target: "≥ 99 %",
      goal: { stat: "min", atLeast: 99 },
    },
    { name: "reconnect flood: connects", unit: "/s", values: floodRate },
    { name: "honest sender to a quiet recipient, p50", unit: "ms", values: quiet },
    {
      name: "honest sender to a recipient flooded by 20 colluders, p50",
      unit: "ms",
      values: flooded,
    },
    {
      name: "flooded vs quiet (honest sender's p50)",
      unit: "×",
      values: flooded.map((f, i) => f / quiet[i]),
      target: "≤ 2×",
      goal: { stat: "median", atMost: 2 },
    },
    {
      name: "same, colluders re-sending 20 ms after each refusal, p50",
      unit: "ms",
      values: spun,
      limit: "CPU: most of what they send is refused, at the server's read cost",
    },
    {
      name: "recipient on a 4 Mbit/s link: honest sender's p50, quiet",
      unit: "ms",
      values: slowQuiet,
    },
    {
      name: "recipient on a 4 Mbit/s link: honest sender's p50, flooded",
      unit: "ms",
      values: slowFlooded,
      limit: "the window in flight ahead (64 KiB) at the link's speed",
    },
    {
      name: "honest messages refused (INBOX_FULL), of all three floods",
      unit: "",
      values: refusedHonest,
    },
    {
      // A figure, not a crash: seen once in three loaded runs on 2026-12-07 (under study).
      name: "honest messages unanswered within 60 s, of all three floods",
      unit: "",
      values: unansweredHonest,
      target: "0",
      goal: { stat: "max", atMost: 0 },
    },
    { name: "idle TCP connection: server RSS", unit: "KiB", values: idleTcp },
    { name: "idle TLS connection: server RSS", unit: "KiB", values: idleTls },
  ];
  return {
    id: "hostile-tcp",
    title: `17. The TCP/TLS door and fair relaying (issue 16)${fromRoot(ctx)}`,
    metrics,
    failures: [],
    notes: [
      `Flood: 64 never-registering connectors on 8 addresses (127.0.0.50…57) reconnecting as soon as they are closed, against --max-connections 40 and default limits; ${joins} honest joins, 4 at a time, each from an address of its own (127.0.1.x, 127.0.2.x). Colluders: 20 registered senders of 32 KiB messages to one recipient (a real session that opens and refuses them), up to 48 unanswered each; after an INBOX_FULL they hold until one of theirs is answered (the inbox stays full), or in the "re-sending" row re-send 20 ms later; the 4 Mbit/s rows throttle the recipient's reads; the honest sender's sendText until "delivered", one at a time, quiet then flooded. Idle: greeted, silent connections (TLS: handshake done); RSS after minus before, over N`,
    ],
  };
}

async function joinsDuringFlood(
  server: BenchServer,
  joins: number,
): Promise<{ admittedPercent: number; connectsPerSecond: number }> {
  const flood = reconnectFlood(server.port, loopbacks(50, 8).flatMap((a) => Array(8).fill(a)));
  // A key may hold 8 names: a fresh key for every 8 joins.
  const identities = await Promise.all(
    Array.from({ length: Math.ceil(joins / 8) }, () => generateIdentity()),
  );
  const tag = crypto.randomUUID().slice(0, 6);
  try {
    await sleep(1000);
    const started = performance.now();
    const before = flood.connects();
    let welcomed = 0;
    for (let at = 0; at < joins; at += 4) {
      const results = await Promise.all([0, 1, 2, 3].map((k) => {
        const i = at + k;
        return honestJoin(server.port, {
          from: `127.0.${1 + Math.floor(i / 200)}.${1 + (i % 200)}`,
          name: `j${tag}${i}`,
          identity: identities[Math.floor(i / 8)],
          timeoutMs: 30_000,
        });
      }));
      welcomed += results.filter((r) => r.welcomed).length;
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      admittedPercent: (100 * welcomed) / joins,
      connectsPerSecond: (flood.connects() - before) / seconds,
    };
  } finally {
    await flood.stop();
  }
}

async function colluderLatency(
  ctx: BenchContext,
  server: BenchServer,
  options: { samples: number; mode: ColluderMode; linkBytesPerSecond?: number },
): Promise<{ quiet: number; flooded: number; refused: number; unanswered: number }> {
  const tag = `${options.mode}${options.linkBytesPerSecond === undefined ? "" : "slow"}`;
  const [victimName, honestName] = names(ctx, `v${tag}`, 2);
  const link = { bytesPerSecond: options.linkBytesPerSecond ?? Infinity };
  const connect = (identity: Identity, name: string, events = {}, slow = false) =>
    connectSession({
      hostname: "127.0.0.1",
      port: server.port,
      timeoutMs: 30_000,
      events,
      wrap: slow ? (transport) => throttledTransport(transport, link) : undefined,
    }).then(async (session) => {
      await session.register(name, identity);
      return session;
    });
  const victim = await connect(await generateIdentity(), victimName, { warning: () => {} }, true);
  const honest = await connect(await generateIdentity(), honestName);
  let refused = 0;
  let unanswered = 0;
  const measure = async (session: ClientSession) => {
    const out: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      const sent = performance.now();
      try {
        await session.sendText(victimName, `sample ${i}`);
        out.push(performance.now() - sent);
      } catch (error) {
        if (!(error instanceof PeerstreamError)) throw error;
        if (
          (error.code === "UNAVAILABLE" && /did not answer/.test(error.message)) ||
          error.code === "PEER_UNREACHABLE"
        ) {
          // The recipient's path is stuck (the client's timeout, or the server's receipt deadline:
          // the recipient confirmed nothing for 30 s): more samples would each wait as long.
          unanswered++;
          break;
        }
        if (error.code !== "INBOX_FULL") throw error;
        refused++;
        await sleep(100);
      }
    }
    return percentile(out.sort((a, b) => a - b), 50);
  };
  const quiet = await measure(honest);
  // On a thread of their own: on the victim's event loop the flood took its time (issue 16).
  const colluders = new Worker(new URL("./_colluders_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    await ask(colluders, {
      type: "start",
      port: server.port,
      names: names(ctx, `c${tag}`, 20),
      to: victimName,
      mode: options.mode,
    });
    await sleep(2000);
    const flooded = await measure(honest);
    await ask(colluders, { type: "stop" });
    return { quiet, flooded, refused, unanswered };
  } finally {
    colluders.terminate();
    await honest.quit();
    await victim.quit();
  }
}

/** Sends the colluders' worker a command and waits for its answer; a failure throws. */
function ask(worker: Worker, command: ColluderCommand): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<ColluderReply>) => {
      if (event.data.type === "failed") {
        reject(new Error(`Cannot run the colluders: ${event.data.message}`));
      } else {
        resolve();
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`Cannot run the colluders: ${event.message}`));
    };
    worker.postMessage(command);
  });
}

/**
 * Server RSS per greeted, silent connection (TLS: with its handshake done), KiB. The server is
 * the tests' (`startServer`, no bench title): the bench server's readiness probe speaks plain TCP.
 */
async function idleCost(ctx: BenchContext, options: { n: number; tls: boolean }): Promise<number> {
  const data = await Deno.makeTempDir({ prefix: "peerstream-bench-idle-" });
  const server = await startServer({
    args: ["--data", data, ...(options.tls ? ["--tls-self-signed"] : [])],
    env: { PEERSTREAM_LIMITS: await limitsFor(ctx.clientRoot) },
    main: ctx.clientRoot === undefined ? undefined : `${ctx.clientRoot}/main.ts`,
  });
  const sockets: net.Socket[] = [];
  try {
    await sleep(1000);
    const before = (await readProc(server.child.pid)).rssBytes;
    for (let at = 0; at < options.n; at += 200) {
      await Promise.all(Array.from({ length: Math.min(200, options.n - at) }, () => {
        const socket = options.tls
          ? tls.connect({ host: "127.0.0.1", port: server.port, rejectUnauthorized: false })
          : net.connect({ host: "127.0.0.1", port: server.port });
        sockets.push(socket);
        return new Promise<void>((resolve) => {
          // Bounded: a connection the server never greets must not hold the bench.
          const timer = setTimeout(resolve, 30_000);
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          socket.once("data", done);
          socket.once("close", done);
          socket.on("error", () => {});
        });
      }));
    }
    await sleep(500);
    const held = (await readProc(server.child.pid)).rssBytes;
    return (held - before) / options.n / 1024;
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
}

/** {@linkcode ONE_ADDRESS} as JSON, without the limits another checkout's server does not know. */
async function limitsFor(root: string | undefined): Promise<string> {
  if (root === undefined) return JSON.stringify(ONE_ADDRESS);
  const url = new URL("server/limits.ts", `file://${Deno.realPathSync(root)}/`).href;
  const known = Object.keys((await import(url)).DEFAULT_LIMITS ?? {});
  return JSON.stringify(
    Object.fromEntries(Object.entries(ONE_ADDRESS).filter(([name]) => known.includes(name))),
  );
}
