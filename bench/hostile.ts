/**
 * Scenario 9, hostile load, against a server with its default limits: what idle connections cost,
 * how many bad login proofs a storm from one address makes the server check and what an honest
 * client's ping sees meanwhile, and how soon a killed client's leave reaches its peers. The tests
 * assert behaviour under these attacks (tests/hostile_connection_test.ts); the figures live here.
 * @module
 */

import { exportPublicKeys, generateIdentity } from "../protocol/e2e.ts";
import { encodeMessage, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { type FloodSocket, loopbacks, openFrom, openMany } from "../tests/_flood.ts";
import { benchIdentity, LoadClient } from "./_client.ts";
import { readProc } from "./_proc.ts";
import {
  type BenchContext,
  type Metric,
  names,
  type ScenarioResult,
  withServer,
} from "./_scenario.ts";
import type { BenchServer } from "./_server.ts";
import { sleep } from "./_stats.ts";

/** Connections per address in the idle flood: under the default per-address limit of 64. */
const PER_ADDRESS = 50;

/**
 * Runs scenario 9.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function hostileScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const idle = ctx.quick ? 200 : 2000;
  const stormMs = ctx.quick ? 2000 : 5000;
  const perIdle: number[] = [];
  const proofs: number[] = [];
  const pingP99: number[] = [];
  const leaveMs: number[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(
      `hostile: ${idle} idle connections, a ${stormMs / 1000} s proof storm, rep ${
        rep + 1
      }/${ctx.reps}`,
    );
    // The defaults: this is what a real server does under these attacks.
    await withServer(
      ctx,
      async (server) => {
        perIdle.push(await idleCost(server, idle));
        const storm = await proofStorm(server, stormMs);
        proofs.push(storm.proofsPerSecond);
        pingP99.push(storm.pingP99);
        leaveMs.push(...await killedClients(ctx, server, ctx.quick ? 3 : 5));
      },
      { limits: {} },
    );
  }
  const metrics: Metric[] = [
    { name: `${idle} idle connections: server RSS per connection`, unit: "KiB", values: perIdle },
    { name: "proof storm from one address: proofs checked", unit: "/s", values: proofs },
    { name: "honest ping p99 during the storm", unit: "ms", values: pingP99 },
    { name: "killed client: leave told to a peer", unit: "ms", values: leaveMs },
  ];
  return {
    id: "hostile",
    title: "9. Hostile load (default limits)",
    metrics,
    failures: [],
    notes: [
      `Idle: ${PER_ADDRESS} connections from each of 127.0.0.20… (node:net localAddress), greeted and silent; RSS after minus before, over N. Storm: 4 connections from 127.0.0.7 each sending 5 hellos with valid keys and a bad proof, reconnecting when closed (the third refusal closes; hellos are limited to 10/s per address, bursts of 30); the honest client pings every 20 ms from 127.0.0.1. Killed: a registered client's socket closed abruptly; time until a peer's "left" (one sample per kill)`,
    ],
  };
}

async function idleCost(server: BenchServer, n: number): Promise<number> {
  const before = (await readProc(server.pid)).rssBytes;
  const addresses = loopbacks(20, Math.ceil(n / PER_ADDRESS));
  const sockets = await openMany(server.port, { addresses, perAddress: PER_ADDRESS });
  const deadline = performance.now() + 20_000;
  while (sockets.some((s) => s.messages.length === 0) && performance.now() < deadline) {
    await sleep(50);
  }
  await sleep(500);
  const held = (await readProc(server.pid)).rssBytes;
  for (const socket of sockets) socket.destroy();
  await sleep(500);
  return (held - before) / sockets.length / 1024;
}

async function proofStorm(
  server: BenchServer,
  ms: number,
): Promise<{ proofsPerSecond: number; pingP99: number }> {
  const who = await benchIdentity(await generateIdentity());
  const honest = await LoadClient.connect(server.port);
  await honest.register(`honest-${crypto.randomUUID().slice(0, 8)}`, who);
  const keys = await exportPublicKeys(await generateIdentity());
  const bad = encodeMessage({
    type: "hello",
    version: PROTOCOL_VERSION,
    name: "storm",
    ...keys,
    proof: btoa("x".repeat(64)),
  });
  const five = new Uint8Array(bad.length * 5);
  for (let i = 0; i < 5; i++) five.set(bad, i * bad.length);
  const started = performance.now();
  const seen: FloodSocket[] = [];
  const rtts: number[] = [];
  const pinging = (async () => {
    let id = 0;
    while (performance.now() - started < ms) {
      const sent = performance.now();
      const want = ++id;
      const pong = new Promise<void>((resolve) => {
        honest.onMessage = (m) => void (m.type === "pong" && m.id === want && resolve());
      });
      honest.send({ type: "ping", id: want });
      await pong;
      rtts.push(performance.now() - sent);
      await sleep(20);
    }
  })();
  await Promise.all([0, 1, 2, 3].map(async () => {
    while (performance.now() - started < ms) {
      const socket = await openFrom(server.port, "127.0.0.7");
      seen.push(socket);
      socket.write(five);
      await socket.waitClosed(10_000);
    }
  }));
  await pinging;
  const seconds = (performance.now() - started) / 1000;
  honest.close();
  await honest.done;
  const checked =
    seen.flatMap((s) => s.messages).filter((m) => m.type === "error" && m.code === "KEY_INVALID")
      .length;
  rtts.sort((a, b) => a - b);
  return {
    proofsPerSecond: checked / seconds,
    pingP99: rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * 0.99))],
  };
}

async function killedClients(ctx: BenchContext, server: BenchServer, kills: number) {
  const who = await benchIdentity(await generateIdentity());
  const [watcherName, ...victims] = names(ctx, "k", kills + 1);
  const watcher = await LoadClient.connect(server.port);
  await watcher.register(watcherName, who);
  const out: number[] = [];
  for (const name of victims) {
    const victim = await LoadClient.connect(server.port);
    await victim.register(name, who);
    const left = new Promise<number>((resolve) => {
      watcher.onMessage = (m, now) => void (m.type === "left" && m.name === name && resolve(now));
    });
    const killedAt = performance.now();
    victim.close();
    out.push(await left - killedAt);
    await victim.done;
  }
  watcher.close();
  await watcher.done;
  return out;
}
