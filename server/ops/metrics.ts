/**
 * `serve --metrics`: the server's metrics in the Prometheus text format, made with the npm package
 * `prom-client`. Gauges are read at scrape time from the server's own state (one pass over its
 * connections per scrape), counters from the plain numbers of {@linkcode ServerStats}, so the
 * event sites cost an addition and nothing here runs between scrapes. Loaded only with
 * `--metrics` (a dynamic import in `cli.ts`), like the Redis client.
 * @module
 */

import client from "prom-client";
import {
  BucketCounts,
  LIMIT_REASONS,
  type MetricsSource,
  type ServerSnapshot,
  type ServerStats,
} from "./server_stats.ts";

/** The metric names and what they mean; README's table follows it. */
export const METRIC_HELP = {
  peerstream_connections: "Open connections, by door (tcp, tls, websocket) and state",
  peerstream_registered_users: "Users registered on this server",
  peerstream_viewers: "Streams being sent, by the rendition being sent",
  peerstream_sent_bytes_total: "Bytes written to clients (control and media)",
  peerstream_segments_sent_total: "Media segments sent to viewers",
  peerstream_messages_relayed_total: "Sealed messages relayed to their recipient or its node",
  peerstream_messages_refused_total: "Requests refused, by the error code sent back",
  peerstream_limit_refusals_total: "Refusals because of a limit, by limit",
  peerstream_pacing_lag_seconds: "How late segments went out after they were due, seconds",
  peerstream_redis_up: "Cluster mode: 1 while the link to Redis is up, else 0",
  peerstream_ready: "1 when ready (video library open, Redis reachable in a cluster), else 0",
  peerstream_scrape_seconds: "How long the previous scrape took inside the server, seconds",
} as const;

/** A histogram whose buckets are counted elsewhere ({@linkcode BucketCounts}), read at scrape. */
class CountedHistogram extends client.Histogram<"le"> {
  readonly #name: string;
  readonly #help: string;
  readonly #counts: () => BucketCounts;

  constructor(
    name: string,
    help: string,
    options: { bounds: readonly number[]; counts: () => BucketCounts; registry: client.Registry },
  ) {
    super({ name, help, buckets: [...options.bounds], registers: [options.registry] });
    this.#name = name;
    this.#help = help;
    this.#counts = options.counts;
  }

  override get() {
    return this.getForPromString();
  }

  /**
   * What the registry reads to write the text (prom-client calls this rather than `get()` when a
   * metric has it, and the base's `get()` calls it too): our counts as the histogram's values.
   *
   * @returns The metric and its values.
   */
  getForPromString() {
    const counts = this.#counts();
    const values: { metricName: string; labels: { le?: string | number }; value: number }[] = counts
      .cumulative().map(([bound, count]) => ({
        metricName: `${this.#name}_bucket`,
        labels: { le: bound === Infinity ? "+Inf" : bound },
        value: count,
      }));
    values.push(
      { metricName: `${this.#name}_sum`, labels: {}, value: counts.sum },
      { metricName: `${this.#name}_count`, labels: {}, value: counts.count },
    );
    return Promise.resolve({
      name: this.#name,
      help: this.#help,
      // prom-client's typings declare a numeric enum here; its code writes the type's name.
      type: "histogram" as unknown as client.MetricType,
      aggregator: "sum" as const,
      collect: () => {},
      values,
    });
  }
}

/** The server's metrics. */
export class ServerMetrics {
  readonly #registry = new client.Registry();
  readonly #source: MetricsSource;
  /**
   * The state and counters read when the scrape in progress began: prom-client awaits between
   * metrics, and segments may go out meanwhile; one scrape shows one moment.
   */
  #snapshot: { state: ServerSnapshot; stats: ServerStats } | undefined;
  /** How long the previous scrape took, seconds. */
  #lastScrapeSeconds = 0;

  /**
   * @param source The server.
   * @param options Whether it runs in a cluster (`peerstream_redis_up` is only there).
   */
  constructor(source: MetricsSource, options: { cluster: boolean }) {
    this.#source = source;
    this.#gauges(options.cluster);
    this.#counters();
    new CountedHistogram(
      "peerstream_pacing_lag_seconds",
      METRIC_HELP.peerstream_pacing_lag_seconds,
      {
        bounds: source.stats.pacingLag.bounds,
        counts: () => this.#moment().stats.pacingLag,
        registry: this.#registry,
      },
    );
  }

  /** The `Content-Type` of {@linkcode ServerMetrics.scrape}'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /**
   * The metrics now, in the Prometheus text format.
   *
   * @returns The text.
   */
  async scrape(): Promise<string> {
    const started = performance.now();
    this.#snapshot = { state: this.#source.snapshot(), stats: this.#source.stats.copy() };
    try {
      return await this.#registry.metrics();
    } finally {
      this.#snapshot = undefined;
      this.#lastScrapeSeconds = (performance.now() - started) / 1000;
    }
  }

  /** The moment being scraped (read now outside a scrape: prom-client's own `get()`). */
  #moment(): { state: ServerSnapshot; stats: ServerStats } {
    return this.#snapshot ?? { state: this.#source.snapshot(), stats: this.#source.stats.copy() };
  }

  #now(): ServerSnapshot {
    return this.#moment().state;
  }

  #gauges(cluster: boolean) {
    const registers = [this.#registry];
    const now = () => this.#now();
    new client.Gauge({
      name: "peerstream_connections",
      help: METRIC_HELP.peerstream_connections,
      labelNames: ["door", "state"],
      registers,
      collect() {
        this.reset();
        for (const door of ["tcp", "tls", "websocket"] as const) {
          for (const state of ["handshake", "registered"] as const) {
            this.set({ door, state }, now().connections.get(`${door} ${state}`) ?? 0);
          }
        }
      },
    });
    gauge(this.#registry, "peerstream_registered_users", () => now().registered);
    new client.Gauge({
      name: "peerstream_viewers",
      help: METRIC_HELP.peerstream_viewers,
      labelNames: ["rendition"],
      registers,
      collect() {
        this.reset();
        for (const [rendition, n] of now().viewers) this.set({ rendition }, n);
      },
    });
    if (cluster) gauge(this.#registry, "peerstream_redis_up", () => now().redisUp ? 1 : 0);
    const source = this.#source;
    gauge(this.#registry, "peerstream_ready", () => source.readiness().ready ? 1 : 0);
    gauge(this.#registry, "peerstream_scrape_seconds", () => this.#lastScrapeSeconds);
  }

  #counters() {
    const stats = () => this.#moment().stats;
    const now = () => this.#now();
    counter(this.#registry, "peerstream_sent_bytes_total", () => now().bytesSent);
    counter(this.#registry, "peerstream_segments_sent_total", () => stats().segments);
    counter(this.#registry, "peerstream_messages_relayed_total", () => stats().relayed);
    new client.Counter({
      name: "peerstream_messages_refused_total",
      help: METRIC_HELP.peerstream_messages_refused_total,
      labelNames: ["code"],
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const [code, n] of stats().refused) this.inc({ code }, n);
      },
    });
    new client.Counter({
      name: "peerstream_limit_refusals_total",
      help: METRIC_HELP.peerstream_limit_refusals_total,
      labelNames: ["reason"],
      registers: [this.#registry],
      collect() {
        this.reset();
        // Every reason from 0, so that rate() works from the first refusal.
        const limits = stats().limits;
        for (const reason of LIMIT_REASONS) this.inc({ reason }, limits.get(reason) ?? 0);
      },
    });
  }
}

/** A gauge without labels read at scrape time. */
function gauge(registry: client.Registry, name: keyof typeof METRIC_HELP, read: () => number) {
  new client.Gauge({
    name,
    help: METRIC_HELP[name],
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter without labels whose value is kept elsewhere, read at scrape time. */
function counter(registry: client.Registry, name: keyof typeof METRIC_HELP, read: () => number) {
  new client.Counter({
    name,
    help: METRIC_HELP[name],
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
