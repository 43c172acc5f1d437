/**
 * The server's log: one line per event, never a control character, untrusted text quoted and cut,
 * and nothing a peer does can flood it. Lines are rate-limited per key (a connection, an address)
 * and, across all keys, by a total budget, so that neither one peer nor 10,000 addresses can
 * flood it; what is held back is counted per key and summarised once per window as one line
 * (`refused … (1,998 more like this in the last 10 s)`), the largest runs first and the rest in
 * one more line. A stack trace (our own bug, never a peer's mistake) is one line, written in full
 * only the first time it is seen. Pure: the clocks are injected, the caller flushes.
 * @module
 */

import { logText } from "../../protocol/text.ts";
import {
  followsNameRules,
  GRANDFATHERED_HINT,
  GRANDFATHERED_MARK,
} from "../../protocol/shown_name.ts";
import { KeyedBuckets, type ServerLimits, TokenBucket } from "../limits.ts";
import { formatText, type LogFields, type LogLevel, type LogRecord } from "./log_format.ts";

/** Options for {@linkcode ServerLog}. */
export interface ServerLogOptions {
  /** Most characters of one untrusted string in a line. */
  textChars: number;
  /** Rate-limited lines per second per key, sustained. */
  linesPerSecond: number;
  /** Rate-limited lines per key in a burst. */
  lineBurst: number;
  /** Lines per second across all keys, sustained (summaries aside). @default {50} */
  totalLinesPerSecond?: number;
  /** Lines across all keys in a burst. @default {200} */
  totalLineBurst?: number;
  /** How long held-back lines are counted before their summary is written, ms. @default {10000} */
  windowMs?: number;
  /** Summary lines per window; the other keys' counts share one more line. @default {10} */
  maxSummaries?: number;
  /** Keys whose held-back lines are counted apart; beyond, they are counted together. @default {10000} */
  maxKeys?: number;
  /** The clock for rates and windows, ms. @default {performance.now} */
  now?: () => number;
  /** The wall clock for the lines' time, ms since the epoch. @default {Date.now} */
  wallClock?: () => number;
  /** Makes a record a line. @default {formatText without timestamps} */
  format?: (record: LogRecord) => string;
}

/** What kind of event a line is, for `--log-format json` and the summaries. */
export interface LogEvent {
  /** A short stable name: `connect`, `refused`, `reject`, … @default {"log"} */
  event?: string;
  /** @default {"info"} */
  level?: LogLevel;
  /** Extra facts for collectors (never a peer's raw text: quote it with `text()`). */
  fields?: LogFields;
}

/** Lines held back for one key in the current window. */
interface Run {
  count: number;
  /** When the first was held back, ms. */
  since: number;
  /** The latest held-back line and its kind, shown in the summary. */
  text: string;
  event: Required<Omit<LogEvent, "fields">> & { fields?: LogFields };
}

/** Distinct stack traces remembered, so that each is written once. */
const MAX_STACKS = 256;

/** Writes log lines. */
export class ServerLog {
  readonly #sink: (line: string) => void;
  readonly #textChars: number;
  readonly #now: () => number;
  readonly #wallClock: () => number;
  readonly #format: (record: LogRecord) => string;
  readonly #buckets: KeyedBuckets<number | string>;
  readonly #total: TokenBucket;
  readonly #windowMs: number;
  readonly #maxSummaries: number;
  readonly #maxKeys: number;
  readonly #runs = new Map<number | string, Run>();
  /** Held-back lines of keys beyond `maxKeys`, counted together. */
  #overflow: { count: number; since: number } | undefined;
  readonly #stacks = new Map<string, number>();

  /**
   * @param sink Receives each line.
   * @param options Text length, rates, window, clocks and format.
   */
  constructor(sink: (line: string) => void, options: ServerLogOptions) {
    this.#sink = sink;
    this.#textChars = options.textChars;
    this.#now = options.now ?? (() => performance.now());
    this.#wallClock = options.wallClock ?? (() => Date.now());
    this.#format = options.format ?? ((record) => formatText(record));
    this.#buckets = new KeyedBuckets(options.linesPerSecond, { burst: options.lineBurst });
    this.#total = new TokenBucket(options.totalLinesPerSecond ?? 50, {
      burst: options.totalLineBurst ?? 200,
      now: this.#now(),
    });
    this.#windowMs = options.windowMs ?? 10_000;
    this.#maxSummaries = options.maxSummaries ?? 10;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /**
   * Writes a line that is always worth it (a registered connection's start and end, the server's
   * own news) unless the total budget is spent: then it is counted with others of its `event` and
   * summarised. Control characters are escaped here too, as a last guard.
   *
   * @param text The line.
   * @param event Its kind.
   * @returns Whether it was written now.
   */
  line(text: string, event: LogEvent = {}): boolean {
    if (this.#total.take(this.#now())) {
      this.#write(text, event);
      return true;
    }
    this.#holdBack(`\0line ${event.event ?? "log"}`, text, event);
    return false;
  }

  /**
   * Writes a line unless `key` (a connection id, an address) has caused too many lately, or all
   * keys together have; a line held back is counted, and the count written in a summary line
   * once the window has passed (see {@linkcode ServerLog.flush}).
   *
   * @param key Whose event it is.
   * @param text The line.
   * @param event Its kind.
   * @returns Whether it was written now.
   */
  limited(key: number | string, text: string, event: LogEvent = {}): boolean {
    const now = this.#now();
    if (this.#buckets.take(key, now) && this.#total.take(now)) {
      this.#write(text, event);
      return true;
    }
    this.#holdBack(key, text, event);
    return false;
  }

  /**
   * Writes one of our own errors (a bug, never a peer's mistake) as one line, limited like
   * {@linkcode ServerLog.limited}: its stack joined on that line the first time that stack is seen,
   * later only its number.
   *
   * @param key Whose event it is.
   * @param context What was being done, e.g. `internal error #7`.
   * @param error What was thrown.
   * @returns Whether it was written now.
   */
  error(key: number | string, context: string, error: unknown): boolean {
    const summary = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const stack = error instanceof Error && error.stack !== undefined
      ? error.stack.split("\n").slice(1).map((frame) => frame.trim()).join(" ← ")
      : "";
    let id = this.#stacks.get(stack);
    let text: string;
    if (id !== undefined) {
      text = `${context}: ${summary} (stack ${id} above)`;
    } else {
      id = this.#stacks.size + 1;
      if (this.#stacks.size < MAX_STACKS) this.#stacks.set(stack, id);
      text = `${context}: ${summary} (stack ${id}: ${stack})`;
    }
    return this.limited(key, text, { event: "internal-error", level: "error" });
  }

  /**
   * Forgets a key (its connection ended).
   *
   * @param key The key.
   * @returns How many of its lines were held back and not yet summarised.
   */
  forget(key: number | string): number {
    const skipped = this.#runs.get(key)?.count ?? 0;
    this.#runs.delete(key);
    this.#buckets.delete(key);
    return skipped;
  }

  /**
   * Writes the summaries of the keys whose window has passed (the most held back first, at most
   * `maxSummaries`, the rest counted in one more line), and forgets keys quiet long enough to
   * have their whole burst again. Call it about once a second.
   */
  flush(): void {
    const now = this.#now();
    this.#buckets.prune(now);
    const due = [...this.#runs].filter(([, run]) => now - run.since >= this.#windowMs)
      .sort(([, a], [, b]) => b.count - a.count);
    for (const [key] of due) this.#runs.delete(key);
    for (const [, run] of due.slice(0, this.#maxSummaries)) {
      this.#sink(this.#format({
        ...this.#record(run.text, run.event),
        repeated: { count: run.count, seconds: seconds(now - run.since) },
      }));
    }
    const rest = due.slice(this.#maxSummaries);
    let count = rest.reduce((sum, [, run]) => sum + run.count, 0);
    let since = rest.reduce((min, [, run]) => Math.min(min, run.since), now);
    // Keys beyond maxKeys were counted together: how many there were is not known.
    let also = `${rest.length} other sources`;
    if (this.#overflow !== undefined && now - this.#overflow.since >= this.#windowMs) {
      count += this.#overflow.count;
      since = Math.min(since, this.#overflow.since);
      also = "other sources";
      this.#overflow = undefined;
    }
    if (count === 0) return;
    this.#sink(this.#format(this.#record(
      `${count.toLocaleString("en-US")} more lines from ${also} held back in the last ${
        seconds(now - since)
      } s`,
      { event: "log-suppressed", level: "warn", fields: { repeated: count } },
    )));
  }

  /** The same as {@linkcode ServerLog.flush} (its former name). */
  prune(): void {
    this.flush();
  }

  /**
   * Untrusted text as it goes in a line: quoted, escaped, cut.
   *
   * @param untrusted A name, title or field from the network.
   * @returns The quoted text.
   */
  text(untrusted: string): string {
    return logText(untrusted, this.#textChars);
  }

  /**
   * A peer's name as it goes in a line: like {@linkcode ServerLog.text}, then `⚠ (grandfathered:
   * …)` when today's name rules refuse it, so that an `аlice` bound before the rules tightened
   * does not pass for `alice` in the log either.
   *
   * @param name The name.
   * @returns The quoted name, marked when grandfathered.
   */
  name(name: string): string {
    if (followsNameRules(name)) return this.text(name);
    return `${this.text(name)} ${GRANDFATHERED_MARK} (grandfathered: ${GRANDFATHERED_HINT})`;
  }

  #holdBack(key: number | string, text: string, event: LogEvent) {
    const kind = {
      event: event.event ?? "log",
      level: event.level ?? "info",
      fields: event.fields,
    };
    const run = this.#runs.get(key);
    if (run !== undefined) {
      run.count++;
      run.text = text;
      run.event = kind;
    } else if (this.#runs.size < this.#maxKeys) {
      this.#runs.set(key, { count: 1, since: this.#now(), text, event: kind });
    } else {
      this.#overflow ??= { count: 0, since: this.#now() };
      this.#overflow.count++;
    }
  }

  #write(text: string, event: LogEvent) {
    this.#sink(this.#format(this.#record(text, event)));
  }

  #record(text: string, event: LogEvent): LogRecord {
    return {
      time: this.#wallClock(),
      level: event.level ?? "info",
      event: event.event ?? "log",
      msg: text,
      ...(event.fields === undefined ? {} : { fields: event.fields }),
    };
  }
}

/** Whole seconds, at least 1. */
function seconds(ms: number): number {
  return Math.max(1, Math.round(ms / 1000));
}

/**
 * The server's log with the limits' rates and window, writing text lines without timestamps (the
 * in-process default; `serve` gives its format).
 *
 * @param sink Receives each line.
 * @param limits The log limits.
 * @param options The line maker.
 * @returns The log.
 */
export function serverLog(
  sink: (line: string) => void,
  limits: ServerLimits,
  options: { format?: (record: LogRecord) => string } = {},
): ServerLog {
  return new ServerLog(sink, {
    textChars: limits.logTextChars,
    linesPerSecond: limits.logLinesPerSecond,
    lineBurst: limits.logLineBurst,
    totalLinesPerSecond: limits.logTotalLinesPerSecond,
    totalLineBurst: limits.logTotalLineBurst,
    windowMs: limits.logWindowMs,
    format: options.format,
  });
}

/**
 * A line without its variable parts (numbers, quoted text), to key lines of one kind together.
 *
 * @param line The line.
 * @returns Its shape.
 */
export function lineShape(line: string): string {
  const unquoted = line.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // Numbers, addresses and ports, ids and hex: any word with a digit in it.
  return unquoted.replace(/[0-9a-f]*\d(?:[0-9a-f.:]*[0-9a-f])?/gi, "#").slice(0, 80);
}
