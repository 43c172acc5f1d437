/**
 * The `serve` flags of cluster mode and of the deployment shapes around it: `--redis`, `--node`,
 * `--trust-proxy` and `--reuse-port`, checked into settings the server uses.
 * @module
 */

import { UsageError } from "../../cli/output.ts";
import { isNodeName } from "./cluster_wire.ts";
import { parseTrustedProxies } from "../door/proxy_transport.ts";
import { checkRedisUrl } from "./redis_url.ts";

/** The `parseArgs` options of the cluster flags, to spread into `serve`'s. */
export const CLUSTER_FLAGS = {
  redis: { type: "string" },
  node: { type: "string" },
  "trust-proxy": { type: "string" },
  "reuse-port": { type: "boolean", default: false },
} as const;

/** The lines of `serve --help` for the cluster flags. */
export const CLUSTER_HELP =
  `  --redis URL          Join a cluster: share presence, names and messages through
                       Redis at redis://HOST:PORT[/DB] (default: this process alone)
  --node NAME          This node's name in the cluster, unique among live nodes
                       (default HOST-PID); keep it across restarts
  --trust-proxy ADDRS  Comma-separated load balancer addresses that send a PROXY
                       protocol header (v1 or v2) with each client's real address
  --reuse-port         Share the port with other serve processes (Linux SO_REUSEPORT)`;

/** What the cluster flags ask for. */
export interface ClusterSettings {
  /** Cluster mode: the Redis URL and this node's name; absent for a single process. */
  redis?: { url: string; node: string };
  /** Balancers whose PROXY headers are honoured. */
  trustedProxies: Set<string>;
  /** Listen with `reusePort`. */
  reusePort: boolean;
}

/**
 * Checks the cluster flags.
 *
 * @param values The parsed flags.
 * @returns The settings.
 * @throws {UsageError} When a flag's value is invalid, or `--node` comes without `--redis`.
 */
export function clusterSettings(values: {
  redis?: string;
  node?: string;
  "trust-proxy"?: string;
  "reuse-port"?: boolean;
}): ClusterSettings {
  let trustedProxies = new Set<string>();
  try {
    if (values["trust-proxy"] !== undefined) {
      trustedProxies = parseTrustedProxies(values["trust-proxy"]);
    }
    if (values.redis !== undefined) checkRedisUrl(values.redis);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.node !== undefined && values.redis === undefined) {
    throw new UsageError(
      "Option --node needs --redis: a node name only means something in a cluster",
    );
  }
  if (values.node !== undefined && !isNodeName(values.node)) {
    throw new UsageError(
      `Invalid --node "${values.node}": use 1 to 64 letters, digits, ".", "_" or "-"`,
    );
  }
  return {
    redis: values.redis === undefined
      ? undefined
      : { url: values.redis, node: values.node ?? defaultNodeName() },
    trustedProxies,
    reusePort: values["reuse-port"] ?? false,
  };
}

/**
 * A node name unique on this machine and readable: the host name and the process id, e.g.
 * `web1-4242`. The host name comes from `/etc/hostname` or `HOSTNAME` (no extra permission).
 *
 * @param pid The process id. @default {Deno.pid}
 * @returns The name.
 */
export function defaultNodeName(pid: number = Deno.pid): string {
  let host = "";
  try {
    host = Deno.readTextFileSync("/etc/hostname").trim();
  } catch {
    host = Deno.env.get("HOSTNAME") ?? "";
  }
  host = host.split(".")[0].replace(/[^A-Za-z0-9_-]/g, "").slice(0, 40) || "node";
  return `${host}-${pid}`;
}
