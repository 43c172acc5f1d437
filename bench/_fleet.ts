/**
 * A fleet of viewers spread over worker threads: connect and register them in batches, start them
 * together, read their byte counters and collect their results.
 * @module
 */

import type { Quality } from "../protocol/messages.ts";
import type { FleetCommand, FleetReply } from "./_fleet_worker.ts";
import type { ViewerResult } from "./_viewer.ts";

/** Options for {@linkcode ViewerFleet.connect}. */
export interface FleetOptions {
  /** Viewer names; one fresh name each. */
  names: string[];
  /** Worker threads to spread them over. @default {1} */
  workers?: number;
  /** Connections opened at once per worker. @default {200} */
  batch?: number;
  /**
   * The worker module: it must answer {@linkcode FleetCommand}s like `_fleet_worker.ts` (peerstream
   * viewers) does; `_hls_worker.ts` runs HLS viewers. @default {"./_fleet_worker.ts"}
   */
  worker?: URL;
}

class _Thread {
  readonly worker: Worker;
  #pending: ((reply: FleetReply) => void)[] = [];

  constructor(module: URL) {
    this.worker = new Worker(module, { type: "module" });
    this.worker.onmessage = (event: MessageEvent<FleetReply>) =>
      this.#pending.shift()?.(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      for (const p of this.#pending.splice(0)) p({ type: "failed", message: event.message });
    };
  }

  async ask(command: FleetCommand): Promise<FleetReply> {
    const reply = await new Promise<FleetReply>((resolve) => {
      this.#pending.push(resolve);
      this.worker.postMessage(command);
    });
    if (reply.type === "failed") throw new Error(`Viewer worker failed: ${reply.message}`);
    return reply;
  }
}

/**
 * Worker threads for a fleet of `n` viewers: `--workers` when given, else 1, or 2 from 1,000.
 *
 * @param requested `--workers` (0: pick by N).
 * @param n The viewers.
 * @returns The thread count.
 */
export function fleetWorkers(requested: number, n: number): number {
  return requested > 0 ? requested : n >= 1000 ? 2 : 1;
}

/** Viewers running in worker threads (peerstream viewers, or HLS viewers with another worker). */
export class ViewerFleet {
  readonly #threads: _Thread[];

  private constructor(threads: _Thread[]) {
    this.#threads = threads;
  }

  /**
   * Starts the workers and connects and registers every viewer.
   *
   * @param port The server's port.
   * @param options Names, workers and batch size.
   * @returns The fleet, every viewer registered and idle.
   */
  static async connect(port: number, options: FleetOptions): Promise<ViewerFleet> {
    const count = Math.max(1, Math.min(options.workers ?? 1, options.names.length));
    const module = options.worker ?? new URL("./_fleet_worker.ts", import.meta.url);
    const threads = Array.from({ length: count }, () => new _Thread(module));
    const fleet = new ViewerFleet(threads);
    try {
      // One worker at a time: the server's accept backlog is shared.
      for (const [i, t] of threads.entries()) {
        const names = options.names.filter((_, j) => j % count === i);
        await t.ask({ type: "connect", port, names, batch: options.batch ?? 200 });
      }
    } catch (error) {
      fleet.terminate();
      throw error;
    }
    return fleet;
  }

  /**
   * Sends PLAY from every viewer, spread evenly over `spreadMs` (a real audience does not start
   * in the same millisecond, and synchronized starts make every segment go out at once).
   *
   * @param title The title.
   * @param options The quality and the spread.
   */
  async play(title: string, options: { quality: Quality; spreadMs: number }): Promise<void> {
    await Promise.all(
      this.#threads.map((t) => t.ask({ type: "play", title, ...options })),
    );
  }

  /** Media bytes received so far by all viewers, and how many got their first byte. */
  async mark(): Promise<{ mediaBytes: number; firstBytes: number }> {
    const replies = await Promise.all(this.#threads.map((t) => t.ask({ type: "mark" })));
    let mediaBytes = 0;
    let firstBytes = 0;
    for (const r of replies) {
      if (r.type === "mark") {
        mediaBytes += r.mediaBytes;
        firstBytes += r.firstBytes;
      }
    }
    return { mediaBytes, firstBytes };
  }

  /**
   * Ends the watch: takes every viewer's result, STOPs, quits and stops the workers.
   *
   * @returns The results and media bytes that arrived after a `stream-end`.
   */
  async finish(): Promise<{ results: ViewerResult[]; bytesAfterEnd: number }> {
    const replies = await Promise.all(this.#threads.map((t) => t.ask({ type: "finish" })));
    this.terminate();
    const results: ViewerResult[] = [];
    let bytesAfterEnd = 0;
    for (const r of replies) {
      if (r.type === "finished") {
        results.push(...r.results);
        bytesAfterEnd += r.bytesAfterEnd;
      }
    }
    return { results, bytesAfterEnd };
  }

  /** Stops the workers at once. */
  terminate(): void {
    for (const t of this.#threads) t.worker.terminate();
  }
}
