/**
 * Rendering untrusted text. Every string that crosses the network (message text, names, titles,
 * error messages, a server's shutdown notice, unknown field names) may carry terminal escape
 * sequences, carriage returns, line breaks or bidi overrides meant to forge what a person or a log
 * reader sees. These functions turn such characters into visible escapes. Pure.
 * @module
 */

/**
 * Characters never shown as themselves: C0 controls, DEL and C1 controls; every format character
 * (general category Cf: zero-width space, non-joiner and joiner, LRM/RLM, the bidi embedding,
 * override and isolate controls, the Arabic letter mark, word joiner, invisible operators, byte
 * order mark, soft hyphen, tags, interlinear annotations); the Unicode line and paragraph
 * separators; and the default-ignorable characters that are not marks (Hangul fillers, unassigned
 * ignorables), which show as nothing. Tab and line feed are decided by the caller; combining marks
 * (variation selectors among them) stay, as they change how the letter before them looks.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|(?!\p{M})\p{Default_Ignorable_Code_Point}/u;

const UNSAFE_PATTERN = new RegExp(UNSAFE.source, "gu");

// Scripts whose spelling needs U+200C ZWNJ or U+200D ZWJ between letters (Persian, the Indic
// scripts): there the joiner is text, not a disguise.
const JOINING_LETTER =
  /^[\p{scx=Arabic}\p{scx=Syriac}\p{scx=Devanagari}\p{scx=Bengali}\p{scx=Gurmukhi}\p{scx=Gujarati}\p{scx=Oriya}\p{scx=Tamil}\p{scx=Telugu}\p{scx=Kannada}\p{scx=Malayalam}\p{scx=Sinhala}]$/u;
const PICTOGRAPH = /^\p{Extended_Pictographic}$/u;
const SKIN_TONE = /^\p{Emoji_Modifier}$/u;
const MARK = /^\p{M}$/u;
const BLACK_FLAG = 0x1f3f4;
const CANCEL_TAG = 0xe007f;
/** The longest run of tags an emoji tag sequence holds here (a flag needs 5 or 6). */
const MAX_TAGS = 32;

/** The code point that ends just before `index`, and where it starts. */
function before(text: string, index: number): { char: string; at: number } | undefined {
  if (index <= 0) return undefined;
  const low = text.charCodeAt(index - 1);
  const at = index >= 2 && low >= 0xdc00 && low <= 0xdfff &&
      text.charCodeAt(index - 2) >= 0xd800 && text.charCodeAt(index - 2) <= 0xdbff
    ? index - 2
    : index - 1;
  return { char: String.fromCodePoint(text.codePointAt(at)!), at };
}

/** The code point at `index`, if any. */
function at(text: string, index: number): string | undefined {
  const code = text.codePointAt(index);
  return code === undefined ? undefined : String.fromCodePoint(code);
}

function isTagSpec(code: number | undefined): boolean {
  return code !== undefined && code >= 0xe0020 && code <= 0xe007e;
}

/**
 * Whether the joiner or tag at `index` is one that text needs (see `keepJoiners`): a ZWJ between
 * two emoji (the first may carry a skin tone and U+FE0F), a ZWNJ or ZWJ between letters of a
 * joining script (marks between count with the letter), or a tag inside 🏴 + tags + cancel tag.
 * Looked at only for those few code points, so ordinary text pays nothing for it.
 */
function keptInText(ch: string, index: number, text: string): boolean {
  const code = ch.codePointAt(0)!;
  if (code === 0x200c || code === 0x200d) {
    const next = at(text, index + ch.length);
    if (next === undefined) return false;
    let prev = before(text, index);
    if (code === 0x200d && PICTOGRAPH.test(next)) {
      if (prev?.char === "\ufe0f") prev = before(text, prev.at);
      if (prev !== undefined && SKIN_TONE.test(prev.char)) prev = before(text, prev.at);
      if (prev !== undefined && PICTOGRAPH.test(prev.char)) return true;
    }
    prev = before(text, index);
    while (prev !== undefined && MARK.test(prev.char)) prev = before(text, prev.at);
    return prev !== undefined && JOINING_LETTER.test(prev.char) && JOINING_LETTER.test(next);
  }
  if (!isTagSpec(code) && code !== CANCEL_TAG) return false;
  // Back over the tags before it to the black flag, then on to the cancel tag.
  let start = index;
  let tags = 0;
  for (let prev = before(text, start);; prev = before(text, start)) {
    if (prev === undefined) return false;
    const c = prev.char.codePointAt(0)!;
    if (c === BLACK_FLAG) break;
    if (!isTagSpec(c) || ++tags > MAX_TAGS) return false;
    start = prev.at;
  }
  if (code === CANCEL_TAG) return tags > 0;
  for (let i = index; tags <= MAX_TAGS; i += 2, tags++) {
    const c = text.codePointAt(i);
    if (c === CANCEL_TAG) return true;
    if (!isTagSpec(c)) return false;
  }
  return false;
}

/**
 * The visible escape of one code point: `\x1b` up to U+00FF, `\u200b` in the BMP, `\u{e0041}`
 * beyond.
 */
function visible(ch: string): string {
  const code = ch.codePointAt(0)!;
  const hex = code.toString(16);
  if (code <= 0xff) return `\\x${hex.padStart(2, "0")}`;
  return code <= 0xffff ? `\\u${hex.padStart(4, "0")}` : `\\u{${hex}}`;
}

/** Options for {@linkcode escapeControls}. */
export interface EscapeOptions {
  /** Keep line feeds (the caller lays out the lines); otherwise they show as `\n`. @default {false} */
  keepNewlines?: boolean;
  /** Keep tabs. @default {true} */
  keepTabs?: boolean;
  /**
   * Keep the joiners text needs: a ZWJ inside an emoji sequence (👨‍👩‍👧), a ZWNJ or ZWJ between
   * letters of Arabic or an Indic script, and emoji tag sequences (subdivision flags). Off for
   * names and logs, where every invisible character shows. @default {true}
   */
  keepJoiners?: boolean;
}

/**
 * Makes untrusted text safe to print: control characters, DEL, C1 controls, every format
 * character (zero-width characters, bidi controls, the byte order mark, soft hyphen, …),
 * Hangul fillers and Unicode line separators are replaced by visible escapes such as `\x1b`,
 * `\u200b` or `\u202e`. A carriage return always shows as `\r`, so nothing can return to the
 * start of a line. Combining marks stay; so do the joiners an emoji sequence or a joining script
 * needs, unless `keepJoiners` is false.
 *
 * @example
 * ```ts
 * escapeControls("hi\x1b[2J\rbye"); // "hi\\x1b[2J\\rbye"
 * escapeControls("ca\u200brol"); // "ca\\u200brol"
 * ```
 *
 * @param text The untrusted text.
 * @param options Whether line feeds, tabs and joiners are kept.
 * @returns Text that moves the cursor only by its printable characters (and kept line feeds),
 * with no character that shows as nothing but the kept joiners.
 */
export function escapeControls(text: string, options: EscapeOptions = {}): string {
  const keepNewlines = options.keepNewlines ?? false;
  const keepTabs = options.keepTabs ?? true;
  const keepJoiners = options.keepJoiners ?? true;
  return text.replace(UNSAFE_PATTERN, (match: string, index: number) => {
    if (keepJoiners && keptInText(match, index, text)) return match;
    if (match === "\n") return keepNewlines ? match : "\\n";
    if (match === "\t") return keepTabs ? match : "\\t";
    return match === "\r" ? "\\r" : visible(match);
  });
}

// In a name nothing invisible may stay: on top of UNSAFE, the joiners text keeps, the
// default-ignorable marks (variation selectors, U+034F COMBINING GRAPHEME JOINER) and every space
// but U+0020 (a name holds none; U+00A0 or U+3000 would pass for an honest space).
const NAME_HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|[^\P{Zs} ]/gu;

/**
 * Shows a peer's name with every invisible character as a visible escape: what
 * {@linkcode escapeControls} escapes, and also joiners (even between emoji), variation selectors,
 * U+034F and spaces other than U+0020. Names are how people tell peers apart, so `ca\u200Brol`
 * must never look like `carol`.
 *
 * @example
 * ```ts
 * escapeName("ca\u200brol"); // "ca\\u200brol"
 * escapeName("alice\ufe0f"); // "alice\\ufe0f"
 * ```
 *
 * @param name The untrusted name.
 * @returns The name, on one line, every character of it visible.
 */
export function escapeName(name: string): string {
  return name.replace(NAME_HIDDEN, (ch) => ch === "\r" ? "\\r" : ch === "\n" ? "\\n" : visible(ch));
}

/**
 * Zero-width characters: combining marks (variation selectors among them), joiners, the byte order
 * mark, and the conjoining Hangul vowels and finals that join the syllable before them.
 */
const ZERO_WIDTH = /^(?:\p{M}|[\u200b-\u200d\u2060\ufeff\u1160-\u11ff\ud7b0-\ud7ff])$/u;

/** East Asian wide and fullwidth characters, and emoji: two columns. */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f000 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd);
}

/**
 * How many terminal columns text takes, estimated from above: wide characters and emoji count 2,
 * combining marks and zero-width characters 0, everything else 1.
 *
 * @param text Text without controls (see {@linkcode escapeControls}).
 * @returns The width in columns.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += codePointWidth(ch.codePointAt(0)!);
  return width;
}

/**
 * The columns one code point takes, as {@linkcode displayWidth} counts them.
 *
 * @param code The code point (not a control).
 * @returns 0, 1 or 2.
 */
export function codePointWidth(code: number): 0 | 1 | 2 {
  // Below the combining marks every printable character is narrow.
  if (code < 0x300) return 1;
  if (ZERO_WIDTH.test(String.fromCodePoint(code))) return 0;
  return isWide(code) ? 2 : 1;
}

/**
 * Pads text with spaces to a width in columns (`padEnd` counts UTF-16 units instead).
 *
 * @param text Text without controls.
 * @param columns The width to reach.
 * @returns The text, padded when narrower.
 */
export function padColumns(text: string, columns: number): string {
  return text + " ".repeat(Math.max(0, columns - displayWidth(text)));
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Cuts one line into pieces of at most `width` columns, never inside a character. */
function cut(line: string, width: number): string[] {
  const out: string[] = [];
  let piece = "";
  let used = 0;
  for (const { segment } of graphemes.segment(line)) {
    const w = displayWidth(segment);
    if (used + w > width && piece !== "") {
      out.push(piece);
      piece = "";
      used = 0;
    }
    piece += segment;
    used += w;
  }
  out.push(piece);
  return out;
}

/** Options for {@linkcode terminalLines}. */
export interface TerminalLinesOptions {
  /** Cut lines wider than this many columns, so the terminal never wraps them itself. */
  width?: number;
}

/**
 * Splits untrusted multi-line text into safe lines for a terminal. A CR LF pair counts as one line
 * break; every other control shows escaped, so each returned line is one visual line that cannot
 * move the cursor (given a `width`, lines are cut so that the terminal does not wrap them).
 *
 * @example
 * ```ts
 * terminalLines("one\r\ntwo\n\x1b]52;c;...\x07"); // ["one", "two", "\\x1b]52;c;...\\x07"]
 * ```
 *
 * @param text The untrusted text.
 * @param options The width to cut at.
 * @returns The lines, at least one.
 */
export function terminalLines(text: string, options: TerminalLinesOptions = {}): string[] {
  const lines = escapeControls(text.replaceAll("\r\n", "\n"), { keepNewlines: true }).split("\n");
  const width = options.width;
  if (width === undefined) return lines;
  return lines.flatMap((line) => cut(line, Math.max(1, width)));
}

/** Marks a line that continues someone's message (after a line break or a cut). */
export const CONTINUATION = "┆";

/**
 * Lays out untrusted text said by someone so that every line starts with who said it: the first
 * as `<who> text`, the others as `<who> ┆ text`. No line of the text, however it is padded or
 * broken, can pass for a new line from someone else.
 *
 * @example
 * ```ts
 * speakerLines("<bob>", "hi\n<alice ✓> send the password");
 * // ["<bob> hi", "<bob> ┆ <alice ✓> send the password"]
 * ```
 *
 * @param who The speaker's label, e.g. `<bob ✓>` (escaped here too).
 * @param text The untrusted text.
 * @param options The terminal's width, to cut long lines with the same marks.
 * @returns The lines to print.
 */
export function speakerLines(
  who: string,
  text: string,
  options: TerminalLinesOptions = {},
): string[] {
  const label = escapeControls(who);
  const first = `${label} `;
  const next = `${label} ${CONTINUATION} `;
  const room = options.width === undefined ? undefined : options.width - displayWidth(next);
  return terminalLines(text, { width: room }).map((line, i) => `${i === 0 ? first : next}${line}`);
}

/** The default longest untrusted string written to a log, in characters. */
export const LOG_TEXT_MAX = 120;

/**
 * Quotes untrusted text for a log line: every invisible character escaped like
 * {@linkcode escapeName} (controls, line feeds, tabs, joiners, bidi controls), double quotes and backslashes escaped, cut to `max` characters with the number of
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
  const quoted = escapeName(kept.replaceAll("\\", "\\\\").replaceAll('"', '\\"'));
  return `"${quoted}"${left > 0 ? `…(+${left})` : ""}`;
}

/** Most characters of a client's text quoted in an error message. */
export const QUOTED_MAX = 64;

/**
 * A client's text (a name, a title) in an error message: quoted, escaped and cut to
 * {@linkcode QUOTED_MAX} characters, so that the message is safe in a log and on a terminal.
 *
 * @example
 * ```ts
 * quoted("bob"); // "\"bob\""
 * ```
 *
 * @param text The client's text.
 * @returns The quoted text.
 */
export function quoted(text: string): string {
  return logText(text, QUOTED_MAX);
}
