/**
 * A cluster for end-to-end tests: one real `redis-server` and several real `serve --redis`
 * processes on loopback, with short heartbeats through `PEERSTREAM_LIMITS`. Nodes serve an empty
 * video folder unless told one: most cluster tests are about presence, names and messages.
 * @module
 */

import { LOOPBACK_LIMITS, type ServerProcess, startServer } from "./_helpers.ts";
import { RedisServer } from "./_redis.ts";

/** The heartbeat of test clusters: a killed node is gone after about 2 s. */
export const TEST_CLUSTER_LIMITS = { clusterTtlMs: 1500, clusterBeatMs: 250 };

/** A running test cluster. */
export interface TestCluster {
  redis: RedisServer;
  /** Node `i` is named `n<i>`. */
  nodes: ServerProcess[];
  /** The environment every node runs with. */
  env: Record<string, string>;
  /** Starts node `i` (again), replacing `nodes[i]`. */
  startNode(i: number, args?: string[]): Promise<ServerProcess>;
  /** Stops every node and Redis, and removes their folders. */
  stop(): Promise<void>;
}

/**
 * Starts Redis and `count` nodes.
 *
 * @param options How many nodes, extra limits, the video folder every node serves (an empty one of
 * its own by default), and extra arguments of node `i` at the start (e.g. `--web`).
 * @returns The cluster.
 */
export async function startCluster(
  options: {
    nodes?: number;
    limits?: Record<string, number>;
    videos?: string;
    args?: (i: number) => string[];
  } = {},
): Promise<TestCluster> {
  const redis = await RedisServer.start();
  const own = options.videos === undefined;
  const videos = options.videos ?? await Deno.makeTempDir({ prefix: "peerstream-novideos-" });
  const env = {
    // Every test client comes from 127.0.0.1: the per-address limits are lifted as for any test
    // server.
    PEERSTREAM_LIMITS: JSON.stringify({
      ...LOOPBACK_LIMITS,
      ...TEST_CLUSTER_LIMITS,
      ...options.limits,
    }),
  };
  const nodes: ServerProcess[] = [];
  const cluster: TestCluster = {
    redis,
    nodes,
    env,
    async startNode(i, args = []) {
      const node = await startServer({
        args: ["--redis", redis.url, "--node", `n${i}`, "--videos", videos, ...args],
        env,
      });
      nodes[i] = node;
      return node;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop().catch(() => -1)));
      await redis.close();
      if (own) await Deno.remove(videos, { recursive: true }).catch(() => {});
    },
  };
  try {
    for (let i = 0; i < (options.nodes ?? 3); i++) await cluster.startNode(i, options.args?.(i));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
