/**
 * Robustness end to end, delivery under load: 10,000 pipelined messages among 20 clients (four
 * of them streaming) are each delivered once, or, for a recipient the loaded machine cut off,
 * queued or reported failed (`PEER_OFFLINE`); none twice, none made up, none lost silently.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import type { PeerstreamError } from "../protocol/errors.ts";
import { connectClient, startServer, type TestClient } from "./_helpers.ts";
import { timingSink } from "./_robustness.ts";

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
    const recipient = (key: string) => key.split(">")[1].split("#")[0];
    for (const key of queued) ok(left.has(recipient(key)), `${key} queued while online`);
    // A send fails only for someone the loaded machine cut off while it was in flight, and its
    // sender is told why: the recipient left (PEER_OFFLINE, or PEER_UNREACHABLE when it had
    // stopped confirming first), or the sender itself lost its connection (UNAVAILABLE).
    const sender = (key: string) => key.split(">")[0];
    for (const [key, state] of failed) {
      const why = state === "failed UNAVAILABLE"
        ? left.has(sender(key))
        : ["failed PEER_OFFLINE", "failed PEER_UNREACHABLE"].includes(state) &&
          left.has(recipient(key));
      ok(why, `${key} ${state}, though ${[...left].join(", ") || "nobody"} left`);
    }
    for (const c of clients) {
      deepEqual(c.events.filter((e) => e.kind === "warning"), [], "no warnings");
    }
    for (const c of clients) if (!c.session.closed) await c.session.quit();
  } finally {
    for (const c of clients) {
      c.session.close();
      await c.session.done;
    }
    await server.stop();
  }
});
