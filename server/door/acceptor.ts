/**
 * One accept loop for every listening port (the TCP/TLS door, the web door, the metrics port):
 * accepts until stopped, hands each connection on without waiting for it, and survives failed
 * accepts. Out of file descriptors, the pending connections are refused rather than left waiting:
 * a spare descriptor is closed to accept one and refuse it, then taken back. Other failures back
 * off as {@linkcode AcceptFailures} says (the caller logs what it likes of each step).
 * @module
 */

import { delay } from "../_async.ts";
import {
  AcceptFailures,
  type AcceptFailuresOptions,
  type AcceptStep,
  isOutOfDescriptors,
} from "./accept_failures.ts";

/** Options for {@linkcode Acceptor}. */
export interface AcceptorOptions {
  /** Takes one accepted connection; the loop does not wait for it. */
  serve: (conn: Deno.Conn) => void;
  /** Told of each failed accept and the back-off chosen for it, to log. */
  failed: (error: unknown, step: AcceptStep) => void;
  /** Told, with a line to log, when accepts work again after failures. @default {ignored} */
  recovered?: (line: string) => void;
  /**
   * Refuses a connection accepted only to shed load when out of descriptors.
   * @default {closes it}
   */
  refuse?: (conn: Deno.Conn) => Promise<void>;
  /** The back-off and log interval. @default {AcceptFailures' defaults} */
  backoff?: AcceptFailuresOptions;
}

/** An accept loop over a listener, running from construction until {@linkcode Acceptor.stop}. */
export class Acceptor {
  readonly #listener: Deno.Listener;
  readonly #options: AcceptorOptions;
  readonly #stopping = new AbortController();
  readonly #done: Promise<void>;

  /**
   * Starts accepting.
   *
   * @param listener The listening socket; the acceptor closes it when stopped.
   * @param options What to do with connections and failures.
   */
  constructor(listener: Deno.Listener, options: AcceptorOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#done = this.#loop();
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Whether {@linkcode Acceptor.stop} was called. */
  get stopped(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Stops accepting and closes the listener (idempotent); {@linkcode Acceptor.done} settles next. */
  stop(): void {
    if (this.stopped) return;
    this.#stopping.abort();
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }

  /** Settles once the loop has ended (after {@linkcode Acceptor.stop}). */
  done(): Promise<void> {
    return this.#done;
  }

  async #loop(): Promise<void> {
    const failures = new AcceptFailures(this.#options.backoff);
    let spare = openSpare();
    let shedding = false;
    while (!this.stopped) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.stopped) break;
        const step = failures.failed(performance.now(), errorText(error));
        this.#options.failed(error, step);
        if (isOutOfDescriptors(error) && spare !== undefined) {
          spare.close();
          spare = undefined;
          shedding = true;
          failures.shed();
          continue;
        }
        // The descriptor given up went elsewhere (or none was held): wait, then take one back.
        shedding = false;
        await delay(step.delayMs, this.#stopping.signal);
        spare ??= openSpare();
        continue;
      }
      if (shedding) {
        shedding = false;
        await (this.#options.refuse ?? closeAsync)(conn);
        spare = openSpare();
        continue;
      }
      const recovered = failures.succeeded();
      if (recovered !== undefined) this.#options.recovered?.(recovered);
      this.#options.serve(conn);
    }
    spare?.close();
  }
}

/**
 * Closes a connection, ignoring that it may be closed already.
 *
 * @param conn The connection.
 */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function closeAsync(conn: Deno.Conn): Promise<void> {
  closeQuietly(conn);
  return Promise.resolve();
}

/**
 * A descriptor held in reserve, so that the accept loop can take one pending connection to refuse
 * it when the process is out of descriptors; undefined when none is free either.
 */
function openSpare(): Deno.FsFile | undefined {
  try {
    return Deno.openSync("/dev/null");
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
