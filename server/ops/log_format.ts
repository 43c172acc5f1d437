/**
 * How one server log record becomes one line: the human `text` form (a timestamp and the message)
 * or `json` for log collectors (`serve --log-format json`). Either way a line holds no line break,
 * no control character and no invisible or bidi character as itself: they show as visible escapes,
 * so that nothing a peer sends can forge or hide part of a line. Pure.
 * @module
 */

import { escapeControls } from "../../protocol/text.ts";

/** How bad an event is. */
export type LogLevel = "info" | "warn" | "error";

/** Extra facts of an event, kept as JSON fields (and left out of the text form). */
export type LogFields = Record<string, string | number | boolean>;

/** The formats of `serve --log-format`. */
export const LOG_FORMATS = ["text", "json"] as const;

/** A format of `serve --log-format`. */
export type LogFormat = typeof LOG_FORMATS[number];

/** One event to write. */
export interface LogRecord {
  /** When, ms since the epoch. */
  time: number;
  /** How bad. */
  level: LogLevel;
  /** A short stable name for the kind of event (`connect`, `refused`, `internal-error`, …). */
  event: string;
  /** The line a person reads. */
  msg: string;
  /** Extra facts for collectors. */
  fields?: LogFields;
  /** Set on a summary: how many more events like this one were held back, over how long. */
  repeated?: { count: number; seconds: number };
}

/**
 * Zero-width and invisible format characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM) that
 * `escapeControls` leaves alone for terminals (they join emoji) but that have no place in a log.
 */
const INVISIBLE = /[\u200b-\u200d\u2060\ufeff]/g;

/**
 * Makes text safe to put in a log line: every control, bidi, line separator and invisible
 * character shows as a visible escape (`\n`, `\x1b`, `\u202e`, `\u200b`).
 *
 * @param text The text.
 * @returns One line of visible characters.
 */
export function escapeLogText(text: string): string {
  return escapeControls(text, { keepTabs: false }).replace(
    INVISIBLE,
    (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
}

/**
 * What `JSON.stringify` leaves as itself but a log viewer may act on: DEL, C1 controls, bidi
 * controls and marks, line separators and invisible characters. They only occur inside strings.
 */
const JSON_UNSAFE =
  /[\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g;

/**
 * The suffix of a summary in the text form: ` (1,998 more like this in the last 10 s)`.
 *
 * @param repeated The count and the window.
 * @returns The suffix.
 */
export function repeatedSuffix(repeated: { count: number; seconds: number }): string {
  return ` (${
    repeated.count.toLocaleString("en-US")
  } more like this in the last ${repeated.seconds} s)`;
}

/**
 * A record as a text line: `2026-12-07 06:07:37.138 connect #1 127.0.0.1:41448`.
 *
 * @param record The record.
 * @param options Whether the line starts with its time (the CLI's lines do).
 * @returns The line.
 */
export function formatText(record: LogRecord, options: { timestamps?: boolean } = {}): string {
  const line = escapeLogText(record.msg) +
    (record.repeated === undefined ? "" : repeatedSuffix(record.repeated));
  if (!options.timestamps) return line;
  return `${new Date(record.time).toISOString().replace("T", " ").replace("Z", "")} ${line}`;
}

/**
 * A record as one JSON object: `{"time":…,"level":…,"event":…,"msg":…}` then its fields, and
 * `repeated` and `window_s` on a summary. Strings are escaped as in text lines, then the JSON text
 * itself escapes what `JSON.stringify` would leave, so a line is one line of visible characters.
 *
 * @param record The record.
 * @returns The line.
 */
export function formatJson(record: LogRecord): string {
  const out: Record<string, string | number | boolean> = {
    time: new Date(record.time).toISOString(),
    level: record.level,
    event: record.event,
    msg: escapeLogText(record.msg),
  };
  for (const [key, value] of Object.entries(record.fields ?? {})) {
    if (Object.hasOwn(out, key)) continue;
    out[key] = typeof value === "string" ? escapeLogText(value) : value;
  }
  if (record.repeated !== undefined) {
    out.repeated = record.repeated.count;
    out.window_s = record.repeated.seconds;
  }
  return JSON.stringify(out).replace(
    JSON_UNSAFE,
    (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
}

/**
 * The line maker for a format.
 *
 * @param format `text` or `json`.
 * @param options Whether text lines start with their time.
 * @returns A function from record to line.
 */
export function lineFormatter(
  format: LogFormat,
  options: { timestamps?: boolean } = {},
): (record: LogRecord) => string {
  return format === "json" ? formatJson : (record) => formatText(record, options);
}
