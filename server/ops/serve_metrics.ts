/**
 * `serve --metrics [HOST:]PORT`: the metrics (loaded only then: `prom-client` stays out of every
 * other server's heap), the operator's endpoints and their listener, bound to loopback unless a
 * host is given.
 * @module
 */

import { operatorHandler } from "./metrics_http.ts";
import { MetricsListener } from "./metrics_listener.ts";
import type { PeerstreamServer } from "../server.ts";
import type { ServeOutput } from "./serve_output.ts";

/** The host `--metrics PORT` listens on: this machine only. */
export const METRICS_DEFAULT_HOST = "127.0.0.1";

/**
 * Starts the operator's endpoints and says where.
 *
 * @param where The address to listen on.
 * @param options The server, whether it is in a cluster, the output.
 * @returns The listener, or null when its port is taken (said on stderr).
 */
export async function startMetrics(
  where: { hostname: string; port: number },
  options: {
    server: PeerstreamServer;
    cluster: boolean;
    output: ServeOutput;
  },
): Promise<MetricsListener | null> {
  const { ServerMetrics } = await import("./metrics.ts");
  const { server } = options;
  const metrics = new ServerMetrics(server, { cluster: options.cluster });
  const listener = new MetricsListener({
    ...where,
    handler: operatorHandler({
      scrape: async () => ({ text: await metrics.scrape(), contentType: metrics.contentType }),
      readiness: () => server.readiness(),
    }),
    log: options.output.log,
  });
  let addr: Deno.NetAddr;
  try {
    addr = listener.start();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    options.output.cannotStart(
      `Cannot serve the metrics on port ${where.port}: it is in use; pick another`,
      "port-in-use",
    );
    return null;
  }
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  options.output.notice(
    `Metrics at http://${host}:${addr.port}/metrics (and /healthz, /readyz)`,
    "metrics-listening",
  );
  return listener;
}
