/**
 * What Redis spends for the cluster scenario, from `INFO`: commands, command time, bytes and CPU
 * over a window, less its idle rate (heartbeats, housekeeping).
 * @module
 */

import { RedisServer } from "../tests/_redis.ts";
import { sleep } from "./_stats.ts";

/** What Redis did over a window, from `INFO`, less its idle rate (heartbeats, housekeeping). */
export interface RedisWork {
  /** Commands the nodes sent: scripts and PUBLISH (what a script runs inside is not counted). */
  commands: number;
  /** Time spent in those commands, µs (`INFO commandstats`). */
  commandUsec: number;
  /** Bytes Redis received and sent (pub/sub fan-out included). */
  bytes: number;
  /** CPU seconds of the redis-server process (I/O included). */
  cpuSeconds: number;
  /** Wall seconds. */
  seconds: number;
}

/** Redis's cumulative counters at one moment, and its memory. */
export type Counters = Omit<RedisWork, "seconds"> & { at: number; memory: number };

/** Reads Redis's cumulative counters now (`INFO all`). */
export async function redisCounters(redis: RedisServer): Promise<Counters> {
  const info = await redis.info("all");
  const stat = (name: string) => {
    const text = info.get(`cmdstat_${name}`) ?? "";
    return {
      calls: Number(/calls=(\d+)/.exec(text)?.[1] ?? 0),
      usec: Number(/usec=(\d+)/.exec(text)?.[1] ?? 0),
    };
  };
  // commandstats also counts the commands scripts run. What the nodes send is the scripts
  // (EVALSHA, EVAL on a cold cache) and the PUBLISH of node messages; each presence event is one
  // INCR and one PUBLISH inside a script, so INCR's count tells those PUBLISH apart.
  const [evalsha, evalCold, publish, incr] = ["evalsha", "eval", "publish", "incr"].map(stat);
  const ownPublish = Math.max(0, publish.calls - incr.calls);
  return {
    commands: evalsha.calls + evalCold.calls + ownPublish,
    commandUsec: evalsha.usec + evalCold.usec +
      (publish.calls === 0 ? 0 : (publish.usec * ownPublish) / publish.calls),
    bytes: Number(info.get("total_net_input_bytes") ?? 0) +
      Number(info.get("total_net_output_bytes") ?? 0),
    cpuSeconds: Number(info.get("used_cpu_sys") ?? 0) + Number(info.get("used_cpu_user") ?? 0),
    memory: Number(info.get("used_memory") ?? 0),
    at: performance.now(),
  };
}

const KEYS = ["commands", "commandUsec", "bytes", "cpuSeconds"] as const;

/**
 * The idle rate of Redis's counters with the nodes up and nothing happening (their heartbeats).
 *
 * @param redis The server.
 * @param ms How long to watch.
 * @returns Each counter per second.
 */
export async function idleRate(
  redis: RedisServer,
  ms = 3000,
): Promise<Record<typeof KEYS[number], number>> {
  const a = await redisCounters(redis);
  await sleep(ms);
  const b = await redisCounters(redis);
  const seconds = (b.at - a.at) / 1000;
  const out = { commands: 0, commandUsec: 0, bytes: 0, cpuSeconds: 0 };
  for (const key of KEYS) out[key] = (b[key] - a[key]) / seconds;
  return out;
}

/**
 * Measures what Redis did while `fn` ran, less its idle rate over the same time.
 *
 * @param redis The server.
 * @param idle The idle rate, from {@linkcode idleRate}.
 * @param fn The load.
 * @returns The work, and how much Redis's memory grew.
 */
export async function redisWork(
  redis: RedisServer,
  idle: Record<typeof KEYS[number], number>,
  fn: () => Promise<void>,
): Promise<RedisWork & { memoryGrowth: number }> {
  const a = await redisCounters(redis);
  await fn();
  const b = await redisCounters(redis);
  const seconds = (b.at - a.at) / 1000;
  const out = { commands: 0, commandUsec: 0, bytes: 0, cpuSeconds: 0 };
  for (const key of KEYS) out[key] = Math.max(0, b[key] - a[key] - idle[key] * seconds);
  return { ...out, seconds, memoryGrowth: b.memory - a.memory };
}
