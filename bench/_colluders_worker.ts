/**
 * Scenario 17's colluders on a worker thread of their own: 20 senders that flood one recipient
 * with 32 KiB messages (`hostile_tcp.ts`). On the recipient's own event loop they took most of its
 * time (in "spin" mode each re-sends 48 messages 20 ms after a refusal), so the recipient answered
 * a delivery in about a second and the honest sender's wait measured the harness, not the server:
 * attackers run elsewhere than their victim (issue 16).
 * @module
 */

/// <reference lib="deno.worker" />

import { generateIdentity } from "../protocol/e2e.ts";
import { benchIdentity, LoadClient } from "./_client.ts";
import { sleep } from "./_stats.ts";

/**
 * How colluders behave after an `INBOX_FULL`: `hold` waits until one of their messages is
 * answered by the recipient (the inbox stays full, nothing is wasted: the queueing attack), `spin`
 * pauses 20 ms and sends again (most of what it sends is refused: a CPU and bandwidth flood on top).
 */
export type ColluderMode = "hold" | "spin";

/** What the scenario tells the worker. */
export type ColluderCommand =
  | { type: "start"; port: number; names: string[]; to: string; mode: ColluderMode }
  | { type: "stop" };

/** What the worker answers: `started` once every colluder is registered and sending. */
export type ColluderReply =
  | { type: "started" }
  | { type: "stopped" }
  | { type: "failed"; message: string };

let clients: LoadClient[] = [];
let runs: Promise<void>[] = [];
let stopping = false;

self.onmessage = async (event: MessageEvent<ColluderCommand>) => {
  const command = event.data;
  try {
    if (command.type === "start") {
      await start(command);
      self.postMessage({ type: "started" } satisfies ColluderReply);
    } else {
      stopping = true;
      await Promise.all(runs);
      for (const client of clients) client.close();
      await Promise.all(clients.map((c) => c.done));
      self.postMessage({ type: "stopped" } satisfies ColluderReply);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    self.postMessage({ type: "failed", message } satisfies ColluderReply);
  }
};

async function start(command: Extract<ColluderCommand, { type: "start" }>) {
  const who = await benchIdentity(await generateIdentity());
  clients = await Promise.all(command.names.map(async (name) => {
    const client = await LoadClient.connect(command.port);
    await client.register(name, who);
    return client;
  }));
  const body = crypto.getRandomValues(new Uint8Array(32 * 1024));
  runs = clients.map((client) =>
    collude(client, { to: command.to, body, mode: command.mode, stopped: () => stopping })
  );
}

/**
 * One colluder: up to 48 messages unanswered. After a refusal, `hold` keeps as many unanswered as
 * were accepted then (one new message per answer from the recipient); `spin` waits 20 ms.
 */
async function collude(
  client: LoadClient,
  options: { to: string; body: Uint8Array; mode: ColluderMode; stopped: () => boolean },
): Promise<void> {
  let open = 0;
  let cap = 48;
  let refused = false;
  let wake: () => void = () => {};
  client.onMessage = (m) => {
    if ((m.type === "error" || m.type === "delivered") && m.re !== undefined) {
      open--;
      if (m.type === "error" && m.code === "INBOX_FULL") {
        refused = true;
        // Refusals come at once: what is still unanswered was accepted.
        if (options.mode === "hold") cap = Math.max(1, open);
      }
      wake();
    }
  };
  let id = 1;
  while (!options.stopped() && !client.closed) {
    if (refused && options.mode === "spin") {
      refused = false;
      await sleep(20);
      continue;
    }
    if (open >= cap) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
      continue;
    }
    open++;
    client.send({ type: "send", id: id++, to: options.to, body: options.body });
    if (id % 8 === 0) await sleep(0);
  }
}
