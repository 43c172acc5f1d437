/**
 * Senders who collude against one recipient: registered raw clients that each keep a window of
 * junk sealed messages in flight to the recipient and note every answer. Shared by the tests of
 * issue 16 (`tests/hostile_relay_test.ts`), which flood a terminal, a page or an in-process client.
 * @module
 */

import { generateIdentity } from "../protocol/e2e.ts";
import { encodeMessage } from "../protocol/messages.ts";
import { RawClient } from "./_raw_client.ts";
import { until } from "./_util.ts";

/** How a flood is sent. */
export interface FloodOptions {
  /** How many colluders, named `colluder0`, `colluder1`, … @default {20} */
  count?: number;
  /** Who is flooded. @default {"victim"} */
  to?: string;
  /** Bytes of each junk body. @default {32 * 1024} */
  bodyBytes?: number;
  /** Messages each colluder keeps unanswered at most. @default {48} */
  window?: number;
}

/** One colluder: sends junk to the recipient, at most `window` unanswered, and notes each answer. */
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

  /** How many ids were sent and not answered yet. */
  get unanswered(): number {
    return this.#next - 1 - this.answers.size;
  }

  async run(to: string, body: Uint8Array, window: number): Promise<void> {
    this.client.onMessage = (m) => {
      if (m.type === "error" && m.re !== undefined) {
        this.answers.set(m.re, { at: performance.now(), code: m.code });
        this.#wake?.();
      }
    };
    while (!this.#stopping && !this.client.closed) {
      if (this.unanswered >= window) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 1000);
        });
        continue;
      }
      await this.client.write(encodeMessage({ type: "send", id: this.#next++, to, body }));
    }
  }

  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }
}

/**
 * A group of colluders against one server. Make it before the `try`, and `close()` it in the
 * `finally`: it closes whatever connected, even when connecting failed halfway.
 *
 * @example
 * ```ts
 * const colluders = new Colluders(server.port);
 * try {
 *   await colluders.flood({ count: 20 });
 *   await colluders.refusedAtLeast(300);
 * } finally {
 *   await colluders.close();
 * }
 * ```
 */
export class Colluders {
  readonly #port: number;
  readonly #members: Colluder[] = [];
  readonly #runs: Promise<void>[] = [];

  /** @param port The server's port on 127.0.0.1. */
  constructor(port: number) {
    this.#port = port;
  }

  /**
   * Connects and registers the colluders, then starts each sending one random body over and over
   * within its window; resolves once all are sending.
   *
   * @param options How many, who is flooded, and how.
   */
  async flood(options: FloodOptions = {}): Promise<void> {
    const count = options.count ?? 20;
    for (let i = 0; i < count; i++) {
      const client = await RawClient.connect(this.#port, { keep: false });
      this.#members.push(new Colluder(client));
      await client.register(`colluder${i}`, await generateIdentity());
    }
    const body = crypto.getRandomValues(new Uint8Array(options.bodyBytes ?? 32 * 1024));
    for (const c of this.#members) {
      this.#runs.push(c.run(options.to ?? "victim", body, options.window ?? 48));
    }
  }

  /**
   * Waits until the recipient refused at least `count` messages; how soon depends on the
   * machine, so the deadline is generous.
   *
   * @param count How many refusals.
   * @throws {Error} When it did not happen within 120 s.
   */
  async refusedAtLeast(count: number): Promise<void> {
    await until(() => this.refused >= count, {
      ms: 120_000,
      what: () => `${count} refusals by the recipient (${this.refused} so far)`,
    });
  }

  /** Messages the recipient refused (answered with any code but the server's `INBOX_FULL`). */
  get refused(): number {
    let n = 0;
    for (const c of this.#members) {
      for (const answer of c.answers.values()) if (answer.code !== "INBOX_FULL") n++;
    }
    return n;
  }

  /** Messages sent and not answered yet, by all. */
  get unanswered(): number {
    return this.#members.reduce((n, c) => n + c.unanswered, 0);
  }

  /** Stops sending; resolves once every colluder's send loop ended. */
  async stop(): Promise<void> {
    for (const c of this.#members) c.stop();
    await Promise.all(this.#runs);
  }

  /** Stops sending and closes every connection; resolves once all are closed. */
  async close(): Promise<void> {
    for (const c of this.#members) {
      c.stop();
      c.client.close();
      await c.client.done;
    }
    await Promise.all(this.#runs);
  }
}
