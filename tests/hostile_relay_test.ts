/**
 * Senders who collude against one recipient, against a real `serve` with its default limits
 * (issue 16): 20 registered senders flood one recipient with 32 KiB sealed-size messages while an
 * honest sender writes to the same recipient. The honest messages must get in (their sender's own
 * budget) and overtake the colluders' backlog (per-sender fair queueing), an ordering fact proven
 * from which colluder messages were answered before and after; never a millisecond figure. The
 * flooded recipient, a terminal `join` or the page in Chromium, shows a summary of the refusals,
 * not a line each.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { encodeMessage } from "../protocol/messages.ts";
import { connectClient, startCli, startServer } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";
import { launchBrowser } from "./_browser.ts";
import { inPage, joinAs, openPage, startWebServer, waitForMessage, waitInPage } from "./_page.ts";

/** Default limits but the per-address ones (every client here connects from 127.0.0.1). */
const LIMITS = {
  env: {
    PEERSTREAM_LIMITS: JSON.stringify({
      maxConnectionsPerAddress: 1000,
      connectsPerAddressPerSecond: 1000,
      connectBurstPerAddress: 1000,
      hellosPerAddressPerSecond: 1000,
      helloBurstPerAddress: 1000,
    }),
  },
};

/** One colluder: sends junk to the victim, at most `window` unanswered, and notes each answer. */
class Colluder {
  readonly client: RawClient;
  /** When each message id was answered, and with which code. */
  readonly answers = new Map<number, { at: number; code: string }>();
  #next = 1;
  #stopping = false;
  #wake?: () => void;

  constructor(client: RawClient) {
    this.client = client;
  }

  /** Ids sent and not answered yet. */
  unanswered(): number[] {
    const out: number[] = [];
    for (let id = 1; id < this.#next; id++) if (!this.answers.has(id)) out.push(id);
    return out;
  }

  async run(body: Uint8Array, window: number): Promise<void> {
    this.client.onMessage = (m) => {
      if (m.type === "error" && m.re !== undefined) {
        this.answers.set(m.re, { at: performance.now(), code: m.code });
        this.#wake?.();
      }
    };
    while (!this.#stopping && !this.client.closed) {
      if (this.#next - 1 - this.answers.size >= window) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 1000);
        });
        continue;
      }
      await this.client.write(
        encodeMessage({ type: "send", id: this.#next++, to: "victim", body }),
      );
    }
  }

  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }
}

Deno.test("20 colluding senders vs one recipient: the honest sender's messages get in, in order, ahead of the colluders' backlog", async () => {
  const server = await startServer(LIMITS);
  const victim = await connectClient(server.port, "victim");
  const honest = await connectClient(server.port, "honest");
  const colluders: Colluder[] = [];
  const runs: Promise<void>[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.connect(server.port, { keep: false });
      await client.register(`colluder${i}`, await generateIdentity());
      colluders.push(new Colluder(client));
    }
    await honest.session.sendText("victim", "before the flood");
    // The victim is on a slow link (4 Mbit/s), so that what the colluders send waits at the server.
    victim.throttle.bytesPerSecond = 512 * 1024;
    const body = crypto.getRandomValues(new Uint8Array(32 * 1024));
    for (const c of colluders) runs.push(c.run(body, 48));
    // The flood under way: the victim has rejected a few hundred.
    const rejected = () => victim.events.filter((e) => e.kind === "warning").length;
    while (rejected() < 100) await new Promise((r) => setTimeout(r, 50));
    // The victim handles what it receives one by one, so its events are the order of arrival:
    // count the colluders' messages it handled between each honest send and that arrival.
    const warningsBefore = (index: number) =>
      victim.events.slice(0, index).filter((e) => e.kind === "warning").length;
    const texts = ["one", "two", "three", "four", "five"];
    const ahead: number[] = [];
    for (const text of texts) {
      const atSend = rejected();
      await honest.session.sendText("victim", text);
      const at = victim.events.findIndex((e) => e.kind === "message" && e.message.text === text);
      ahead.push(warningsBefore(at) - atSend);
    }
    const arrived = victim.events.flatMap((e) =>
      e.kind === "message" && e.message.from === "honest" ? [e.message.text] : []
    );
    deepEqual(arrived, ["before the flood", ...texts], "every honest message, in order");
    // The backlog they passed: what the victim still handles once the colluders stop.
    const atStop = rejected();
    for (const c of colluders) c.stop();
    await Promise.all(runs);
    const pending = () => colluders.reduce((n, c) => n + c.unanswered().length, 0);
    const deadline = performance.now() + 120_000;
    while (pending() > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const backlog = rejected() - atStop;
    console.log(
      `colluder messages the victim handled before each honest one: ${
        ahead.join(", ")
      }; backlog still queued after the last: ${backlog}`,
    );
    ok(backlog >= 60, `a real backlog: ${backlog}`);
    for (const n of ahead) ok(n <= 10, `${ahead.join(", ")} colluder messages went first`);
    // The victim is still there and still chats.
    victim.throttle.bytesPerSecond = Infinity;
    await honest.session.sendText("victim", "after the flood");
  } finally {
    for (const c of colluders) {
      c.stop();
      c.client.close();
      await c.client.done;
    }
    await Promise.all(runs);
    await victim.session.quit();
    await honest.session.quit();
    await server.stop();
  }
});

Deno.test("a flooded `join` prints a summary of the refused messages, not a line each, and still shows the honest ones", async () => {
  const server = await startServer(LIMITS);
  const victim = await startCli(server.port, "victim");
  const honest = await connectClient(server.port, "honest");
  const colluders: Colluder[] = [];
  const runs: Promise<void>[] = [];
  const refusedByVictim = () =>
    colluders.reduce(
      (n, c) => n + [...c.answers.values()].filter((a) => a.code !== "INBOX_FULL").length,
      0,
    );
  try {
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.connect(server.port, { keep: false });
      await client.register(`colluder${i}`, await generateIdentity());
      colluders.push(new Colluder(client));
    }
    const body = crypto.getRandomValues(new Uint8Array(32 * 1024));
    for (const c of colluders) runs.push(c.run(body, 48));
    while (refusedByVictim() < 300) await new Promise((r) => setTimeout(r, 50));
    await honest.session.sendText("victim", "still there?");
    await victim.out.waitFor(/^<honest> still there\?$/);
    // The interval ends while the flood goes on: one summary line for the 20 senders.
    await victim.err.waitFor(/more refused from 20 senders in the last 10 s/, {
      timeoutMs: 60_000,
    });
    for (const c of colluders) c.stop();
    await Promise.all(runs);
    const refused = refusedByVictim();
    const lines = victim.err.lines.filter((l) => /warning: /.test(l)).length;
    console.log(`${refused} messages refused by the victim; ${lines} warning lines printed`);
    // How many the flood got refused depends on the machine's speed; at least the 300 waited for.
    ok(refused >= 300, `${refused} refused`);
    ok(
      lines <= 20 && lines <= refused / 25,
      `${lines} warning lines:\n${victim.err.lines.slice(0, 40).join("\n")}`,
    );
    await honest.session.sendText("victim", "after the flood");
    await victim.out.waitFor(/^<honest> after the flood$/);
    await victim.type("QUIT");
    equal(await victim.finish(), 0);
  } finally {
    for (const c of colluders) {
      c.stop();
      c.client.close();
      await c.client.done;
    }
    await Promise.all(runs);
    await honest.session.quit();
    await server.stop();
  }
});

Deno.test("a flooded page shows a summary of the refused messages, not a notice each, and still shows the honest ones", async () => {
  const server = await startWebServer(LIMITS);
  const chromium = await launchBrowser("chromium");
  const colluders: Colluder[] = [];
  const runs: Promise<void>[] = [];
  const refusedByVictim = () =>
    colluders.reduce(
      (n, c) => n + [...c.answers.values()].filter((a) => a.code !== "INBOX_FULL").length,
      0,
    );
  let honest: Awaited<ReturnType<typeof connectClient>> | undefined;
  try {
    const victim = await openPage(chromium, server.url);
    await joinAs(victim.page, "victim");
    honest = await connectClient(server.port, "honest");
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.connect(server.port, { keep: false });
      await client.register(`colluder${i}`, await generateIdentity());
      colluders.push(new Colluder(client));
    }
    const body = crypto.getRandomValues(new Uint8Array(32 * 1024));
    for (const c of colluders) runs.push(c.run(body, 48));
    while (refusedByVictim() < 300) await new Promise((r) => setTimeout(r, 50));
    await honest.session.sendText("victim", "still there?");
    await waitForMessage(victim.page, "honest", "still there?");
    // The interval ends while the flood goes on: one summary notice for the 20 senders.
    await waitInPage(
      victim.page,
      inPage(
        `(piece) => [...document.querySelectorAll("#notice-list li")]
          .some((li) => li.textContent.includes(piece))`,
        "more refused from 20 senders in the last 10 s",
      ),
      60_000,
    );
    for (const c of colluders) c.stop();
    await Promise.all(runs);
    const refused = refusedByVictim();
    const notices = await victim.page.$$eval("#notice-list li.warn", (items) => items.length);
    console.log(`${refused} messages refused by the page; ${notices} warning notices shown`);
    ok(refused >= 300, `${refused} refused`);
    ok(notices <= 20 && notices <= refused / 25, `${notices} warning notices`);
    await honest.session.sendText("victim", "after the flood");
    await waitForMessage(victim.page, "honest", "after the flood");
    deepEqual(victim.errors, []);
  } finally {
    for (const c of colluders) {
      c.stop();
      c.client.close();
      await c.client.done;
    }
    await Promise.all(runs);
    await honest?.session.quit();
    await chromium.close();
    await server.stop();
  }
});
