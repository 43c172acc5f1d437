/**
 * A node's two connections to Redis (`@redis/client`): one for commands and scripts, one
 * subscribed to channels. Commands fail at once while Redis is unreachable (no offline queue), and
 * each has a deadline, so a frozen Redis is noticed too; both connections reconnect by themselves
 * with {@linkcode reconnectDelay}, and the subscriber restores its channels. The node above is told
 * when the link goes down and when both connections are ready again.
 * @module
 */

import { createClient } from "@redis/client";
import { Buffer } from "node:buffer";
import type { Script } from "./cluster_scripts.ts";

/**
 * How long to wait before reconnect attempt `retries` (from 0): doubling from 100 ms up to 2 s,
 * with ±20 % jitter so that nodes cut off together do not come back in lockstep.
 *
 * @param retries Attempts so far.
 * @param random A number in [0, 1). @default {Math.random()}
 * @returns Milliseconds.
 */
export function reconnectDelay(retries: number, random: number = Math.random()): number {
  const base = Math.min(100 * 2 ** Math.min(retries, 10), 2000);
  return Math.round(base * (0.8 + 0.4 * random));
}

/** Options for {@linkcode RedisLink.open}. */
export interface RedisLinkOptions {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** A message on a subscribed channel. */
  onMessage: (channel: string, message: Uint8Array) => void;
  /** A connection dropped or a command timed out; may be called repeatedly while down. */
  onDown: (cause: string) => void;
  /** Both connections are ready (again); the node above decides whether it is back up. */
  onReady: () => void;
  /** The deadline of each command, ms. @default {2000} */
  commandTimeoutMs?: number;
  /** The most to wait for the first connection, ms. @default {10000} */
  connectTimeoutMs?: number;
  /**
   * The connections' names in `CLIENT LIST` (`NAME:commands`, `NAME:subscriber`), so that an
   * operator can tell the nodes' connections apart.
   */
  name?: string;
}

type Client = ReturnType<typeof createClient>;

/** Two connections to one Redis. */
export class RedisLink {
  readonly #commands: Client;
  readonly #subscriber: Client;
  readonly #options: RedisLinkOptions;
  readonly #timeoutMs: number;
  readonly #sha = new Map<string, string>();
  readonly #loading = new Map<string, Promise<string>>();
  #closed = false;

  private constructor(options: RedisLinkOptions) {
    this.#options = options;
    this.#timeoutMs = options.commandTimeoutMs ?? 2000;
    const socket = {
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      reconnectStrategy: (retries: number) => reconnectDelay(retries),
    };
    const named = (role: string) =>
      options.name === undefined ? {} : { name: `${options.name}:${role}` };
    this.#commands = createClient({
      url: options.url,
      socket,
      disableOfflineQueue: true,
      ...named("commands"),
    });
    this.#subscriber = createClient({ url: options.url, socket, ...named("subscriber") });
    for (const client of [this.#commands, this.#subscriber]) {
      client.on("error", (error: Error) => this.#down(error.message));
      client.on("end", () => this.#down("the connection ended"));
      client.on("ready", () => this.#ready());
    }
  }

  /**
   * Connects both connections and subscribes to channels.
   *
   * @param options The URL, callbacks and deadlines.
   * @param channels Channels to subscribe to (kept across reconnects).
   * @returns The open link.
   * @throws {Error} When Redis cannot be reached within the deadline.
   */
  static async open(options: RedisLinkOptions, channels: string[]): Promise<RedisLink> {
    const link = new RedisLink(options);
    const limit = options.connectTimeoutMs ?? 10_000;
    // connect() does not settle while Redis is unreachable (it keeps retrying): race a deadline.
    const connecting = Promise.all([link.#commands.connect(), link.#subscriber.connect()]);
    connecting.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), limit));
    try {
      const outcome = await Promise.race([connecting, late]);
      if (outcome === "late") throw new Error(`no answer within ${limit} ms`);
      await link.#subscriber.subscribe(channels, (message: Buffer, channel: Buffer) => {
        options.onMessage(
          channel.toString(),
          new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
        );
      }, true);
    } catch (error) {
      await link.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return link;
  }

  /** Whether both connections are ready. */
  get ready(): boolean {
    return this.#commands.isReady && this.#subscriber.isReady;
  }

  /**
   * Runs a script by its SHA-1, loading it first when Redis does not know it (after a restart).
   *
   * @param script The script.
   * @param args Its ARGV.
   * @returns Its reply.
   * @throws {Error} When Redis is unreachable, errs, or does not answer within the deadline.
   */
  async run(script: Script, args: readonly string[]): Promise<unknown> {
    // Calls made while the script loads wait for that one load, and go in the order they were
    // made: a second load in flight would let a later call overtake them (the offline queue's
    // order is the order of its scripts).
    const sha = this.#sha.get(script.name) ?? await this.#load(script);
    try {
      return await this.#command(["EVALSHA", sha, "0", ...args]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      this.#sha.delete(script.name);
      return await this.#command(["EVAL", script.lua, "0", ...args]);
    }
  }

  /** Loads a script once, however many calls wait for it. */
  #load(script: Script): Promise<string> {
    let loading = this.#loading.get(script.name);
    if (loading === undefined) {
      loading = this.#command(["SCRIPT", "LOAD", script.lua]).then((sha) => {
        this.#sha.set(script.name, String(sha));
        return String(sha);
      }).finally(() => this.#loading.delete(script.name));
      this.#loading.set(script.name, loading);
    }
    return loading;
  }

  /**
   * Publishes a message.
   *
   * @param channel The channel.
   * @param message The bytes.
   * @returns How many subscribers received it (0: nobody listens there).
   */
  async publish(channel: string, message: Uint8Array): Promise<number> {
    const reply = await this.#command([
      "PUBLISH",
      channel,
      Buffer.from(message.buffer, message.byteOffset, message.byteLength),
    ]);
    return Number(reply);
  }

  /**
   * Sends one command.
   *
   * @param args The command.
   * @returns The reply.
   */
  command(args: string[]): Promise<unknown> {
    return this.#command(args);
  }

  /** Closes both connections; safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const client of [this.#commands, this.#subscriber]) {
      try {
        client.destroy();
      } catch {
        // Never connected.
      }
    }
    await Promise.resolve();
  }

  async #command(args: (string | Buffer)[]): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    const reply = this.#commands.sendCommand(args);
    reply.catch(() => {});
    try {
      return await Promise.race([reply, late]);
    } catch (error) {
      if (String((error as Error).message).startsWith("Redis did not answer")) {
        this.#down((error as Error).message);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #down(cause: string) {
    if (!this.#closed) this.#options.onDown(cause);
  }

  #ready() {
    if (!this.#closed && this.ready) this.#options.onReady();
  }
}
