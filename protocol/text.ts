/**
 * Rendering untrusted text. Every string that crosses the network (message text, names, titles,
 * error messages, a server's shutdown notice, unknown field names) may carry terminal escape
 * sequences, carriage returns, line breaks or bidi overrides meant to forge what a person or a log
 * reader sees. These functions turn such characters into visible escapes. Pure.
 * @module
 */

/**
 * Characters never shown as themselves: C0 controls, DEL and C1 controls, the bidi embedding,
 * override and isolate controls, the Arabic letter mark, LRM/RLM, and the Unicode line and paragraph
 * separators. Tab and line feed are decided by the caller.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

function visible(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Options for {@linkcode escapeControls}. */
export interface EscapeOptions {
  /** Keep line feeds (the caller lays out the lines); otherwise they show as `\n`. @default {false} */
  keepNewlines?: boolean;
  /** Keep tabs. @default {true} */
  keepTabs?: boolean;
}

/**
 * Makes untrusted text safe to print: control characters, DEL, C1 controls, bidi overrides and
 * Unicode line separators are replaced by visible escapes such as `\x1b` or `\u202e`. A carriage
 * return always shows as `\r`, so nothing can return to the start of a line.
 *
 * @example
 * ```ts
 * escapeControls("hi\x1b[2J\rbye"); // "hi\\x1b[2J\\rbye"
 * ```
 *
 * @param text The untrusted text.
 * @param options Whether line feeds and tabs are kept.
 * @returns Text that moves the cursor only by its printable characters (and kept line feeds).
 */
export function escapeControls(text: string, options: EscapeOptions = {}): string {
  const keepNewlines = options.keepNewlines ?? false;
  const keepTabs = options.keepTabs ?? true;
  let out = text.replace(UNSAFE, (ch) => ch === "\r" ? "\\r" : visible(ch));
  if (!keepNewlines) out = out.replaceAll("\n", "\\n");
  if (!keepTabs) out = out.replaceAll("\t", "\\t");
  return out;
}

/**
 * Splits untrusted multi-line text into safe lines for a terminal. A CR LF pair counts as one line
 * break; every other control shows escaped, so each returned line is one visual line (up to
 * wrapping) that cannot move the cursor.
 *
 * @example
 * ```ts
 * terminalLines("one\r\ntwo\n\x1b]52;c;...\x07"); // ["one", "two", "\\x1b]52;c;...\\x07"]
 * ```
 *
 * @param text The untrusted text.
 * @returns The lines, at least one.
 */
export function terminalLines(text: string): string[] {
  return escapeControls(text.replaceAll("\r\n", "\n"), { keepNewlines: true }).split("\n");
}

/** The default longest untrusted string written to a log, in characters. */
export const LOG_TEXT_MAX = 120;

/**
 * Quotes untrusted text for a log line: escaped like {@linkcode escapeControls} (line feeds and
 * tabs too), double quotes and backslashes escaped, cut to `max` characters with the number of
 * characters left out, so that one client can neither forge a log line nor flood the log.
 *
 * @example
 * ```ts
 * logText('bob"\njoin #1 "admin'); // "\"bob\\\"\\njoin #1 \\\"admin\""
 * logText("x".repeat(1000), 4); // "\"xxxx\"…(+996)"
 * ```
 *
 * @param text The untrusted text.
 * @param max The most characters kept. @default {LOG_TEXT_MAX}
 * @returns The quoted text.
 */
export function logText(text: string, max: number = LOG_TEXT_MAX): string {
  const chars = [...text.slice(0, max * 2 + 2)];
  const kept = chars.length > max ? chars.slice(0, max).join("") : text;
  const left = text.length - kept.length;
  const quoted = escapeControls(kept.replaceAll("\\", "\\\\").replaceAll('"', '\\"'), {
    keepTabs: false,
  });
  return `"${quoted}"${left > 0 ? `…(+${left})` : ""}`;
}
