/**
 * The community contract's shared parts (server/community/community_*contract_test.ts): each
 * contract runs against the in-memory community (one process: every "node" is the same one) and
 * against three Redis nodes sharing one real redis-server, started on first use and stopped by
 * each file's last test; and the filters of what a connection received.
 * @module
 */

import {
  type Conn,
  type Harness,
  type HarnessOptions,
  memoryHarness,
  type Received,
  redisHarness,
} from "./_community_harness.ts";
import { RedisServer } from "./_redis.ts";

let redis: RedisServer | undefined;

/** One redis-server for the whole file, started on first use and stopped by the last test. */
async function sharedRedis(): Promise<RedisServer> {
  redis ??= await RedisServer.start();
  return redis;
}

/** Stops the shared redis-server (each contract file's last test). */
export async function stopSharedRedis(): Promise<void> {
  await redis?.close();
  redis = undefined;
}

type Make = (options?: HarnessOptions) => Promise<Harness>;

const implementations: [string, Make][] = [
  ["memory", (options) => Promise.resolve(memoryHarness(options))],
  ["redis", async (options) => redisHarness(await sharedRedis(), 3, options)],
];

/**
 * One contract, as a test per implementation.
 *
 * @param title What holds.
 * @param body The test, given a harness of nodes.
 * @param options The harness's options.
 */
export function contract(
  title: string,
  body: (h: Harness) => Promise<void>,
  options?: HarnessOptions,
): void {
  for (const [kind, make] of implementations) {
    Deno.test(`community (${kind}) ${title}`, async () => {
      const harness = await make(options);
      try {
        await body(harness);
      } finally {
        await harness.close();
      }
    });
  }
}

/** Names a connection was told joined. */
export const joinedNames = (conn: Conn): string[] =>
  conn.inbox.filter((r): r is Extract<Received, { k: "joined" }> => r.k === "joined").map((r) =>
    r.name
  );
/** Names a connection was told left. */
export const leftNames = (conn: Conn): string[] =>
  conn.inbox.filter((r): r is Extract<Received, { k: "left" }> => r.k === "left").map((r) =>
    r.name
  );
/** Outcomes a connection was told of its sends. */
export const outcomes = (conn: Conn): Extract<Received, { k: "outcome" }>[] =>
  conn.inbox.filter((r): r is Extract<Received, { k: "outcome" }> => r.k === "outcome");
/** Messages delivered to a connection. */
export const deliveries = (conn: Conn): Extract<Received, { k: "deliver" }>[] =>
  conn.inbox.filter((r): r is Extract<Received, { k: "deliver" }> => r.k === "deliver");
