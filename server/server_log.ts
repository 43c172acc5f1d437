/**
 * The server's log: one line per event, never a control character, untrusted text quoted and cut,
 * and repeated events rate-limited per connection, so that no client can forge a line or flood
 * the log.
 * @module
 */

import { escapeControls, logText } from "../protocol/text.ts";
import {
  followsNameRules,
  GRANDFATHERED_HINT,
  GRANDFATHERED_MARK,
} from "../protocol/shown_name.ts";
import { KeyedBuckets } from "./limits.ts";

/** Options for {@linkcode ServerLog}. */
export interface ServerLogOptions {
  /** Most characters of one untrusted string in a line. */
  textChars: number;
  /** Rate-limited lines per second per key, sustained. */
  linesPerSecond: number;
  /** Rate-limited lines per key in a burst. */
  lineBurst: number;
  /** The clock, ms. @default {performance.now} */
  now?: () => number;
}

/** Writes log lines. */
export class ServerLog {
  readonly #sink: (line: string) => void;
  readonly #textChars: number;
  readonly #now: () => number;
  readonly #buckets: KeyedBuckets<number | string>;
  #suppressed = new Map<number | string, number>();

  /**
   * @param sink Receives each line.
   * @param options Text length, rate and clock.
   */
  constructor(sink: (line: string) => void, options: ServerLogOptions) {
    this.#sink = sink;
    this.#textChars = options.textChars;
    this.#now = options.now ?? (() => performance.now());
    this.#buckets = new KeyedBuckets(options.linesPerSecond, { burst: options.lineBurst });
  }

  /**
   * Writes a line that is always worth it (a connection's start and end). Control characters are
   * escaped here too, as a last guard.
   *
   * @param text The line.
   */
  line(text: string): void {
    this.#sink(escapeControls(text, { keepTabs: false }));
  }

  /**
   * Writes a line unless `key` (a connection id, an address) has caused too many lately; a line
   * written after some were suppressed says how many.
   *
   * @param key Whose event it is.
   * @param text The line.
   * @returns Whether it was written.
   */
  limited(key: number | string, text: string): boolean {
    if (!this.#buckets.take(key, this.#now())) {
      this.#suppressed.set(key, (this.#suppressed.get(key) ?? 0) + 1);
      return false;
    }
    const skipped = this.#suppressed.get(key) ?? 0;
    this.#suppressed.delete(key);
    const who = typeof key === "number" ? `#${key}` : key;
    this.line(skipped > 0 ? `${text} (${skipped} similar lines of ${who} suppressed)` : text);
    return true;
  }

  /**
   * Forgets a key (its connection ended).
   *
   * @param key The key.
   * @returns How many of its lines were suppressed since the last one written.
   */
  forget(key: number | string): number {
    const skipped = this.#suppressed.get(key) ?? 0;
    this.#suppressed.delete(key);
    this.#buckets.delete(key);
    return skipped;
  }

  /**
   * Drops what is known of keys quiet long enough to have their whole burst again, writing how many
   * of their lines were suppressed, so that the count is never lost.
   */
  prune(): void {
    this.#buckets.prune(this.#now());
    for (const [key, skipped] of this.#suppressed) {
      if (this.#buckets.has(key)) continue;
      this.#suppressed.delete(key);
      this.line(
        `${typeof key === "number" ? `#${key}` : key}: ${skipped} similar lines suppressed`,
      );
    }
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
}
