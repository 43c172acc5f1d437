/**
 * An honest pair of clients that keeps chatting while a test attacks the server's door: two
 * sessions (over TLS when given a certificate) that exchange numbered messages, each awaited at the
 * recipient, so that a test can prove the pair works before, during and after an attack.
 * @module
 */

import { equal } from "node:assert/strict";
import { connectSession } from "../client/connect.ts";
import type { ClientSession } from "../client/session.ts";
import { generateIdentity } from "../protocol/e2e.ts";

/** Two registered sessions that chat. */
export interface HonestPair {
  /** Sends one numbered message from the first to the second and waits until it arrives. */
  chat(): Promise<void>;
  /** Messages that arrived so far, in order. */
  readonly received: string[];
  /** Quits both. */
  close(): Promise<void>;
}

/**
 * Connects and registers two sessions from 127.0.0.1.
 *
 * @param port The server's port.
 * @param options A CA certificate (PEM) for TLS, the names' prefix.
 * @returns The pair.
 */
export async function honestPair(
  port: number,
  options: { caCert?: string; prefix?: string } = {},
): Promise<HonestPair> {
  const prefix = options.prefix ?? "honest";
  const received: string[] = [];
  const waiters: (() => void)[] = [];
  const connect = (events = {}) =>
    connectSession({
      hostname: "127.0.0.1",
      port,
      timeoutMs: 30_000,
      ...(options.caCert === undefined ? {} : { tls: { caCerts: [options.caCert] } }),
      events,
    });
  const sender: ClientSession = await connect();
  const recipient: ClientSession = await connect({
    message: (m: { text: string }) => {
      received.push(m.text);
      for (const done of waiters.splice(0)) done();
    },
  });
  await sender.register(`${prefix}a`, await generateIdentity());
  await recipient.register(`${prefix}b`, await generateIdentity());
  let sent = 0;
  return {
    received,
    async chat() {
      const text = `chat ${++sent}`;
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`"${text}" did not arrive within 60 s`)),
          60_000,
        );
        const check = () => {
          if (received.includes(text)) {
            clearTimeout(timer);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        check();
      });
      await sender.sendText(`${prefix}b`, text);
      await arrived;
      equal(received.at(-1), text);
    },
    async close() {
      await sender.quit();
      await recipient.quit();
    },
  };
}
