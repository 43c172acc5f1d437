/**
 * The door tests' parts: an honest pair of clients that keeps chatting while a test attacks the
 * server's door (two sessions, over TLS when given a certificate, exchanging numbered messages,
 * each awaited at the recipient), honest joins from any loopback address, and a flood of
 * never-registering connectors that reconnect as soon as they are closed.
 * @module
 */

import { equal } from "node:assert/strict";
import net from "node:net";
import { connectSession } from "../client/connect.ts";
import type { ClientSession } from "../client/session.ts";
import {
  exportPublicKeys,
  generateIdentity,
  type Identity,
  signChallenge,
} from "../protocol/e2e.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  PROTOCOL_VERSION,
} from "../protocol/messages.ts";

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

/**
 * One honest join from a given loopback address (`node:net` `localAddress`): connect, answer the
 * greeting with a signed hello as soon as it arrives, and wait for the verdict.
 *
 * @param port The server's port.
 * @param options The local address, the name and the keys.
 * @returns Whether `welcome` came; the first error's code, or why it ended, otherwise.
 */
export function honestJoin(
  port: number,
  options: { from: string; name: string; identity: Identity; timeoutMs?: number },
): Promise<{ welcomed: boolean; why: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: options.from });
    const decoder = new FrameDecoder();
    let settled = false;
    const finish = (welcomed: boolean, why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (welcomed) {
        socket.end(encodeMessage({ type: "quit" }));
      } else {
        socket.destroy();
      }
      resolve({ welcomed, why });
    };
    const timer = setTimeout(
      () => finish(false, "no verdict in time"),
      options.timeoutMs ?? 60_000,
    );
    socket.on("data", async (chunk: Uint8Array) => {
      let messages: Message[];
      try {
        messages = decoder.push(chunk).map(decodeMessage);
      } catch (error) {
        return finish(false, (error as Error).message);
      }
      for (const message of messages) {
        if (message.type === "welcome") return finish(true, "welcome");
        if (message.type === "error") return finish(false, message.code);
        if (message.type !== "server-hello") continue;
        const challenge = Uint8Array.fromBase64(message.challenge);
        const proof = await signChallenge(options.identity, challenge, options.name);
        socket.write(encodeMessage({
          type: "hello",
          version: PROTOCOL_VERSION,
          name: options.name,
          ...(await exportPublicKeys(options.identity)),
          proof: proof.toBase64(),
        }));
      }
    });
    socket.on("error", (error: Error) => finish(false, error.message));
    socket.on("close", () => finish(false, "closed"));
  });
}

/**
 * Never-registering connectors: each connects from its address, stays silent, and reconnects as
 * soon as the server closes it, until stopped.
 *
 * @param port The server's port.
 * @param addresses One connector per entry.
 * @returns How many connects were made, and a stop function that waits for them all to end.
 */
export function reconnectFlood(
  port: number,
  addresses: string[],
): { connects(): number; stop(): Promise<void> } {
  let connects = 0;
  let stopping = false;
  const live = new Set<net.Socket>();
  const loops = addresses.map(async (from) => {
    while (!stopping) {
      await new Promise<void>((done) => {
        const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
        live.add(socket);
        connects++;
        socket.on("data", () => {});
        socket.on("error", () => {});
        socket.on("close", () => {
          live.delete(socket);
          done();
        });
      });
    }
  });
  return {
    connects: () => connects,
    async stop() {
      stopping = true;
      for (const socket of live) socket.destroy();
      await Promise.all(loops);
    },
  };
}

/**
 * How many descriptors a process has open, counted by `ls` (reading `/proc/PID/fd` with
 * `Deno.readDir` needs more than the tests' permissions).
 *
 * @param pid The process.
 * @returns The count.
 */
export async function openDescriptors(pid: number): Promise<number> {
  const out = await new Deno.Command("ls", { args: [`/proc/${pid}/fd`] }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((name) => name !== "").length;
}

/**
 * How many sockets a process has open (its descriptors that are sockets, by `ls -l`): unlike
 * {@linkcode openDescriptors}, not moved by the pipes of an ffmpeg the server runs meanwhile.
 *
 * @param pid The process.
 * @returns The count.
 */
export async function openSockets(pid: number): Promise<number> {
  const out = await new Deno.Command("ls", { args: ["-l", `/proc/${pid}/fd`] }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((line) => / socket:\[/.test(line))
    .length;
}
