/**
 * A command line's words read the way a shell reads them (blanks, quotes, backslashes), and a
 * word written so that it reads back unchanged: what the parser and tab completion share with
 * whatever prints a title or a name for the person to type again. Pure.
 * @module
 */

/** Words of a line as the parser reads them, and how the last one was typed. */
export interface WordScan {
  /** The words, unquoted. */
  words: string[];
  /** The last word as typed (with its quotes); empty after trailing blanks. */
  rawLast: string;
  /** The quote left open at the end, if any. */
  open: "'" | '"' | null;
  /** A backslash ends the line. */
  escape: boolean;
}

/**
 * Reads words the way a shell does: blanks separate words; `"..."` keeps blanks, and a backslash
 * in it escapes `"` or `\`; `'...'` keeps everything as typed; a backslash outside quotes keeps
 * the next character (`my\ film`). Quotes may join parts (`"my "film`).
 *
 * @param text The line, or the part of it after the command word.
 * @returns The words, the last one as typed, and a quote or backslash left open at the end.
 */
export function scanWords(text: string): WordScan {
  const words: string[] = [];
  let word = "";
  let started = false;
  let rawStart = 0;
  let open: "'" | '"' | null = null;
  let escape = false;
  const chars = [...text];
  let offset = 0;
  for (const ch of chars) {
    const at = offset;
    offset += ch.length;
    if (escape) {
      // In double quotes only \" and \\ are escapes; elsewhere the backslash stays.
      if (open === '"' && ch !== '"' && ch !== "\\") word += "\\";
      word += ch;
      escape = false;
    } else if (open === "'") {
      if (ch === "'") open = null;
      else word += ch;
    } else if (ch === "\\") {
      if (!started) rawStart = at;
      started = true;
      escape = true;
    } else if (open === '"') {
      if (ch === '"') open = null;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      if (!started) rawStart = at;
      started = true;
      open = ch;
    } else if (/\s/.test(ch)) {
      if (started) words.push(word);
      word = "";
      started = false;
      rawStart = offset;
    } else {
      if (!started) rawStart = at;
      started = true;
      word += ch;
    }
  }
  if (started) words.push(word);
  return { words, rawLast: started ? text.slice(rawStart) : "", open, escape };
}

/**
 * Splits the arguments of a command line into words, honouring quotes and backslashes as
 * {@linkcode quoteWord} writes them: `"my film"`, `'l’été'`, `my\ film`.
 *
 * @param text The arguments.
 * @returns The words, unquoted.
 * @throws {SyntaxError} On a quote left open or a backslash at the end.
 */
export function splitWords(text: string): string[] {
  const scan = scanWords(text);
  if (scan.open !== null) {
    throw new SyntaxError(
      `Invalid line: the quote ${scan.open} is not closed; close it, e.g. PLAY "my film"`,
    );
  }
  if (scan.escape) {
    throw new SyntaxError("Invalid line: it ends with a backslash; remove it or quote the word");
  }
  return scan.words;
}

/**
 * Writes a word so that {@linkcode splitWords} reads it back unchanged: as it is when it has no
 * blanks, quotes or backslashes, else in double quotes with `"` and `\` escaped.
 *
 * @param word A title or a name.
 * @returns The word as typed.
 * @example
 * ```ts
 * quoteWord("my film"); // '"my film"'
 * ```
 */
export function quoteWord(word: string): string {
  if (word !== "" && !/[\s"'\\]/.test(word)) return word;
  return `"${word.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
