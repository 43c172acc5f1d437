/**
 * Warnings about incoming messages, summarised: a sender whose messages are refused by the
 * thousand (a flood of forged or replayed messages) costs the terminal a line or two per interval,
 * not a line per message. Pure: the caller gives the time and prints what it returns, and calls
 * {@linkcode WarningDigest.flush} on a timer so that the last summary is not held back.
 * @module
 */

/** Options for {@linkcode WarningDigest}. */
export interface WarningDigestOptions {
  /** The length of one interval, ms. @default {10000} */
  intervalMs?: number;
  /** Lines shown per sender and code in one interval; the rest are counted. @default {2} */
  perKey?: number;
  /** Lines shown in all in one interval; the rest are counted. @default {5} */
  total?: number;
}

/** One warning. */
export interface DigestWarning {
  /** What to print. */
  text: string;
  /** Its code, e.g. `DECRYPT_FAILED`. */
  code: string;
  /** The sender it is about, when it is about a message. */
  from?: string;
}

/** Counts per sender, for the summary. */
interface Held {
  from: string | undefined;
  count: number;
}

/** Rate-limits warnings per sender and code, and in all, with a summary of what it held back. */
export class WarningDigest {
  readonly #interval: number;
  readonly #perKey: number;
  readonly #total: number;
  #startedAt: number | undefined;
  #shown = 0;
  #perKeyShown = new Map<string, number>();
  #held = new Map<string, Held>();

  /** @param options The interval and how many lines it shows. */
  constructor(options: WarningDigestOptions = {}) {
    this.#interval = options.intervalMs ?? 10_000;
    this.#perKey = options.perKey ?? 2;
    this.#total = options.total ?? 5;
  }

  /**
   * Takes one warning.
   *
   * @param warning The warning.
   * @param now The current time, ms.
   * @returns The lines to print now: the summary of a finished interval, then the warning
   * unless it is held back.
   */
  add(warning: DigestWarning, now: number): string[] {
    const out = this.#startedAt !== undefined && now - this.#startedAt >= this.#interval
      ? this.flush(now)
      : [];
    this.#startedAt ??= now;
    const key = `${warning.from ?? ""}\u0000${warning.code}`;
    const shown = this.#perKeyShown.get(key) ?? 0;
    if (shown < this.#perKey && this.#shown < this.#total) {
      this.#perKeyShown.set(key, shown + 1);
      this.#shown++;
      out.push(warning.text);
      return out;
    }
    const sender = warning.from ?? "";
    const held = this.#held.get(sender) ?? { from: warning.from, count: 0 };
    held.count++;
    this.#held.set(sender, held);
    return out;
  }

  /**
   * Ends the interval if it is over: the summary of what was held back, and a fresh start.
   *
   * @param now The current time, ms.
   * @returns Summary lines (none when nothing was held back or the interval runs on).
   */
  flush(now: number): string[] {
    if (this.#startedAt === undefined || now - this.#startedAt < this.#interval) return [];
    const held = [...this.#held.values()].sort((a, b) => b.count - a.count);
    this.#startedAt = undefined;
    this.#shown = 0;
    this.#perKeyShown.clear();
    this.#held.clear();
    if (held.length === 0) return [];
    const seconds = Math.round(this.#interval / 1000);
    const count = (n: number) => n.toLocaleString("en-US");
    const who = (h: Held) => (h.from === undefined ? "the server" : `"${h.from}"`);
    if (held.length <= 3) {
      return held.map((h) =>
        `… ${count(h.count)} more refused from ${who(h)} in the last ${seconds} s`
      );
    }
    const all = held.reduce((n, h) => n + h.count, 0);
    const top = held.slice(0, 3).map((h) => `${who(h)} ${count(h.count)}`).join(", ");
    return [
      `… ${count(all)} more refused from ${held.length} senders in the last ${seconds} s (${top}, ${
        count(held.length - 3)
      } others)`,
    ];
  }
}
