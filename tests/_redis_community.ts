/**
 * Support of the `server/community/redis_community_*_test.ts` suites: short cluster timings, a real
 * redis-server per test, what a fake connection received by kind, and closing every node.
 * @module
 */

import type { Conn, Received, TestNode } from "./_community_harness.ts";
import { RedisServer } from "./_redis.ts";

/** Short heartbeats and timeouts, so that faults show within a second or two. */
export const TIMING = { ttlMs: 1000, beatMs: 150, commandTimeoutMs: 500 };

/** Runs `body` against a fresh real redis-server, always closed after. */
export async function withRedis(
  body: (redis: RedisServer, prefix: string) => Promise<void>,
): Promise<void> {
  const redis = await RedisServer.start();
  try {
    await body(redis, "f:");
  } finally {
    await redis.close();
  }
}

/** What a fake connection received of kind `k`. */
export const of = <K extends Received["k"]>(conn: Conn, k: K): Extract<Received, { k: K }>[] =>
  conn.inbox.filter((r): r is Extract<Received, { k: K }> => r.k === k);

/** Closes every node's community. */
export async function closeAll(nodes: TestNode[]): Promise<void> {
  for (const n of nodes) await n.community.close();
}
