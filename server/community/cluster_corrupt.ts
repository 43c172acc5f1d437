/**
 * Corrupt cluster state in Redis, said plainly: the scripts of `cluster_scripts.ts` answer
 * `{'CORRUPT', key, field, kind, value, expected}` when a value they parse is unusable (a
 * sequence key that is not a number, a presence entry that is not JSON), and this module turns
 * that into one sentence that names the key and what is wrong, and keeps the node from writing it
 * to its log on every join. Pure.
 * @module
 */

import { logText } from "../../protocol/text.ts";

/** How often one complaint about corrupt state may reach the log, ms: once a minute. */
export const CORRUPT_LOG_INTERVAL_MS = 60_000;

/**
 * Describes a `CORRUPT` script answer.
 *
 * @example
 * ```ts
 * describeCorrupt(["CORRUPT", "peerstream:seq", "", "value", "abc", "a number"]);
 * // 'Redis key "peerstream:seq" holds "abc", not a number; repair or delete it'
 * ```
 *
 * @param reply The script's answer.
 * @returns The sentence, or undefined when the answer is not a `CORRUPT` one.
 */
export function describeCorrupt(reply: readonly unknown[]): string | undefined {
  if (reply[0] !== "CORRUPT") return undefined;
  const [, key, field, kind, value, expected] = reply.map((part) =>
    typeof part === "string" ? part : String(part ?? "")
  );
  const where = `Redis key ${logText(key, 80)}${
    field === "" ? "" : ` field ${logText(field, 80)}`
  }`;
  const what = kind === "type" ? `is a ${logText(value, 20)}` : `holds ${logText(value, 40)}`;
  return `${where} ${what}, not ${expected}; repair or delete it`;
}

/** Options for {@linkcode OncePerInterval}. */
export interface OncePerIntervalOptions {
  /** The shortest time between two lines of the same text, ms. @default {CORRUPT_LOG_INTERVAL_MS} */
  intervalMs?: number;
  /** The clock, ms. @default {() => performance.now()} */
  now?: () => number;
}

/**
 * Lets a repeated log line through once per interval, saying how often it was held back since.
 *
 * @example
 * ```ts
 * const once = new OncePerInterval({ intervalMs: 60_000 });
 * once.line("x"); // "x"
 * once.line("x"); // undefined (held back)
 * // a minute later:
 * once.line("x"); // "x (1 more time in the last 60 s)"
 * ```
 */
export class OncePerInterval {
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** Per text: when it was last let through, and how often it was held back since. */
  readonly #seen = new Map<string, { at: number; held: number }>();

  /** @param options The interval and the clock. */
  constructor(options: OncePerIntervalOptions = {}) {
    this.#intervalMs = options.intervalMs ?? CORRUPT_LOG_INTERVAL_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * The line to log now, if any.
   *
   * @param text The line.
   * @param key What counts as the same line (lines that differ only in detail share one). @default {text}
   * @returns The line (with the count held back since the last one), or undefined to hold it back.
   */
  line(text: string, key: string = text): string | undefined {
    const now = this.#now();
    const seen = this.#seen.get(key);
    if (seen !== undefined && now - seen.at < this.#intervalMs) {
      seen.held++;
      return undefined;
    }
    // Few distinct texts ever occur; drop the stale ones so the map stays small anyway.
    for (const [other, state] of this.#seen) {
      if (now - state.at >= this.#intervalMs) this.#seen.delete(other);
    }
    this.#seen.set(key, { at: now, held: 0 });
    const held = seen?.held ?? 0;
    if (held === 0) return text;
    const seconds = Math.round(this.#intervalMs / 1000);
    return `${text} (${held} more ${held === 1 ? "time" : "times"} in the last ${seconds} s)`;
  }
}
