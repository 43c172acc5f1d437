/**
 * The line editor behind the prompt: keys in, actions and a redraw out. Pure: the terminal feeds
 * it decoded input and writes what {@linkcode LineEditor.render} returns.
 *
 * Every step is linear in what it touches: a run of typed or pasted characters is inserted in one
 * string operation, the line's UTF-8 size is kept incrementally, and a redraw writes only the part
 * of the line that fits the terminal's width (the line scrolls sideways). A line over
 * {@linkcode MAX_LINE_BYTES} is refused at once with `too-long`, and the rest of it, up to the next
 * Enter, is discarded.
 * @module
 */

import { MAX_TEXT_BYTES } from "../protocol/messages.ts";
import { codePointWidth, displayWidth } from "../protocol/text.ts";

/** The longest line: a MESSAGE of the longest text, with the command and a name. */
export const MAX_LINE_BYTES = MAX_TEXT_BYTES + 256;

/** What the editor asks of its terminal. */
export type EditorAction =
  /** Enter: a whole line. */
  | { kind: "line"; line: string }
  /** Ctrl-C; the line was cleared if it had text. */
  | { kind: "interrupt"; hadText: boolean }
  /** Ctrl-D on an empty line. */
  | { kind: "eof" }
  /** The line passed `maxBytes`: it was dropped, and input is discarded up to the next Enter. */
  | { kind: "too-long"; maxBytes: number }
  /** Tab found several completions and no longer common prefix: show them. */
  | { kind: "candidates"; list: string[] }
  /** Ctrl-L. */
  | { kind: "clear-screen" };

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /**
   * Tab completion: given the line up to the cursor, the candidates and the word they replace
   * (the shape of `node:readline`'s completer).
   */
  completer?: (before: string) => [string[], string];
  /** Lines kept for Up and Down. @default {500} */
  historySize?: number;
  /** The longest line in UTF-8 bytes. @default {MAX_LINE_BYTES} */
  maxBytes?: number;
}

/** UTF-8 size of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

function _isLow(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Where the code point before `at` starts. */
function _previous(text: string, at: number): number {
  return at >= 2 && _isLow(text, at - 1) ? at - 2 : at - 1;
}

/** Where the code point after the one at `at` starts. */
function _next(text: string, at: number): number {
  return _isLow(text, at + 1) ? at + 2 : at + 1;
}

/**
 * The furthest index up to `limit` such that `text` from `start` to it takes at most `room`
 * columns; it looks at no more of the text than fits.
 */
function _fitEnd(text: string, start: number, limit: number, room: number): number {
  let at = start;
  let columns = 0;
  while (at < limit) {
    columns += codePointWidth(text.codePointAt(at)!);
    if (columns > room) break;
    at = _next(text, at);
  }
  return Math.min(at, limit);
}

/** The smallest index such that `text` from it to `end` takes at most `room` columns. */
function _fitStart(text: string, end: number, room: number): number {
  let at = end;
  let columns = 0;
  while (at > 0) {
    const before = _previous(text, at);
    columns += codePointWidth(text.codePointAt(before)!);
    if (columns > room) break;
    at = before;
  }
  return at;
}

/** The end of `text` that fits `columns`. */
function _lastColumns(text: string, columns: number): string {
  return text.slice(_fitStart(text, text.length, columns));
}

/** Characters typed or pasted as themselves: no C0 control, no DEL. */
// deno-lint-ignore no-control-regex -- matching controls is the point
const PRINTABLE = /[^\u0000-\u001f\u007f]+/y;

/** The editor: a line, a cursor, history, and the escape sequences of a terminal. */
export class LineEditor {
  readonly #completer?: (before: string) => [string[], string];
  readonly #historySize: number;
  readonly #maxBytes: number;
  #line = "";
  #cursor = 0;
  #bytes = 0;
  #scroll = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #draft = "";
  #pending = "";
  #pasting = false;
  #discarding = false;
  #afterCr = false;
  #actions: EditorAction[] = [];

  /** @param options Completion, history size and the line limit. */
  constructor(options: LineEditorOptions = {}) {
    this.#completer = options.completer;
    this.#historySize = options.historySize ?? 500;
    this.#maxBytes = options.maxBytes ?? MAX_LINE_BYTES;
  }

  /** The line being typed. */
  get line(): string {
    return this.#line;
  }

  /** The cursor, as an index into {@linkcode LineEditor.line}. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Whether input is being discarded after a line that was too long. */
  get discarding(): boolean {
    return this.#discarding;
  }

  /** Lines entered, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * Feeds decoded terminal input: characters and escape sequences, possibly cut anywhere.
   *
   * @param text The input.
   * @returns What the terminal should do, in order.
   */
  feed(text: string): EditorAction[] {
    this.#actions = [];
    const input = this.#pending + text;
    this.#pending = "";
    let i = 0;
    while (i < input.length) {
      PRINTABLE.lastIndex = i;
      const run = PRINTABLE.exec(input);
      if (run !== null) {
        this.#afterCr = false;
        this.#insert(run[0]);
        i += run[0].length;
        continue;
      }
      const used = input[i] === "\x1b" ? this.#escape(input, i) : this.#control(input[i]);
      if (used === 0) {
        // An escape sequence cut by the read: wait for the rest.
        this.#pending = input.slice(i);
        break;
      }
      i += used;
    }
    return this.#actions;
  }

  /** Clears the line (a new prompt). */
  clear(): void {
    this.#setLine("", 0);
    this.#historyIndex = this.#history.length;
  }

  /**
   * The bytes that redraw the prompt and the visible part of the line, and put the cursor in
   * place: one terminal row, whatever the line's length.
   *
   * @param prompt The prompt (plain text, already safe).
   * @param columns The terminal's width.
   * @returns Text to write.
   */
  render(prompt: string, columns: number): string {
    const width = Math.max(20, columns);
    const shown = _lastColumns(prompt, width - 10);
    const room = width - displayWidth(shown) - 1;
    if (this.#discarding) {
      const note = "[discarding a line that is too long; Enter ends it]".slice(0, room);
      return `\r${shown}${note}\x1b[K`;
    }
    const line = this.#line;
    if (this.#cursor < this.#scroll) this.#scroll = this.#cursor;
    // The cursor stays within `room` columns of the left edge, and a short tail fills the row.
    if (_fitEnd(line, this.#scroll, this.#cursor, room) < this.#cursor) {
      this.#scroll = _fitStart(line, this.#cursor, room);
    }
    this.#scroll = Math.min(this.#scroll, _fitStart(line, line.length, room));
    const end = _fitEnd(line, this.#scroll, line.length, room);
    const column = displayWidth(shown) + displayWidth(line.slice(this.#scroll, this.#cursor));
    return `\r${shown}${line.slice(this.#scroll, end)}\x1b[K\r${
      column > 0 ? `\x1b[${column}C` : ""
    }`;
  }

  #insert(text: string) {
    if (this.#discarding) return;
    const bytes = utf8Length(text);
    if (this.#bytes + bytes > this.#maxBytes) {
      this.#setLine("", 0);
      this.#discarding = true;
      this.#actions.push({ kind: "too-long", maxBytes: this.#maxBytes });
      return;
    }
    this.#line = this.#line.slice(0, this.#cursor) + text + this.#line.slice(this.#cursor);
    this.#cursor += text.length;
    this.#bytes += bytes;
  }

  #setLine(line: string, cursor = line.length) {
    this.#line = line;
    this.#cursor = cursor;
    this.#bytes = utf8Length(line);
    if (line === "") this.#scroll = 0;
  }

  /** Handles one control character; returns how many characters it used (always 1). */
  #control(ch: string): number {
    const afterCr = this.#afterCr;
    this.#afterCr = ch === "\r";
    if (this.#pasting && (ch === "\r" || ch === "\n" || ch === "\t")) {
      // A pasted line break or tab is text, not Enter or completion.
      this.#insert(" ");
      return 1;
    }
    if (this.#discarding) {
      if (ch === "\r" || (ch === "\n" && !afterCr)) this.#discarding = false;
      else if (ch === "\x03") {
        this.#discarding = false;
        this.#actions.push({ kind: "interrupt", hadText: true });
      }
      return 1;
    }
    switch (ch) {
      case "\r":
        this.#submit();
        break;
      case "\n":
        if (!afterCr) this.#submit();
        break;
      case "\t":
        this.#complete();
        break;
      case "\x03":
        this.#actions.push({ kind: "interrupt", hadText: this.#line !== "" });
        this.clear();
        break;
      case "\x04":
        if (this.#line === "") this.#actions.push({ kind: "eof" });
        else this.#deleteForward();
        break;
      case "\x0c":
        this.#actions.push({ kind: "clear-screen" });
        break;
      default:
        this.#editKey(ch);
    }
    return 1;
  }

  #editKey(ch: string) {
    switch (ch) {
      case "\x7f":
      case "\x08":
        return this.#deleteBack();
      case "\x01":
        return this.#move(0);
      case "\x05":
        return this.#move(this.#line.length);
      case "\x02":
        return this.#left();
      case "\x06":
        return this.#right();
      case "\x0b":
        return this.#setLine(this.#line.slice(0, this.#cursor));
      case "\x15":
        return this.#setLine(this.#line.slice(this.#cursor), 0);
      case "\x17":
        return this.#deleteWordBack();
      case "\x10":
        return this.#historyStep(-1);
      case "\x0e":
        return this.#historyStep(1);
    }
  }

  /** Handles an escape sequence at `at`; returns its length, or 0 when it is incomplete. */
  #escape(input: string, at: number): number {
    if (at + 1 >= input.length) return 0;
    const next = input[at + 1];
    if (next === "[") {
      let end = at + 2;
      while (end < input.length && !/[\x40-\x7e]/.test(input[end])) end++;
      if (end >= input.length) return input.length - at > 32 ? input.length - at : 0;
      this.#csi(input.slice(at + 2, end), input[end]);
      return end - at + 1;
    }
    if (next === "O") {
      if (at + 2 >= input.length) return 0;
      this.#csi("", input[at + 2]);
      return 3;
    }
    if (this.#discarding) return 2;
    // Alt + key.
    if (next === "b") this.#wordLeft();
    else if (next === "f") this.#wordRight();
    else if (next === "\x7f") this.#deleteWordBack();
    return 2;
  }

  #csi(params: string, final: string) {
    if (final === "~" && params === "200") this.#pasting = true;
    if (final === "~" && params === "201") this.#pasting = false;
    if (this.#discarding) return;
    const ctrl = params.endsWith(";5");
    switch (final) {
      case "A":
        return this.#historyStep(-1);
      case "B":
        return this.#historyStep(1);
      case "C":
        return ctrl ? this.#wordRight() : this.#right();
      case "D":
        return ctrl ? this.#wordLeft() : this.#left();
      case "H":
        return this.#move(0);
      case "F":
        return this.#move(this.#line.length);
      case "~":
        if (params === "1" || params === "7") this.#move(0);
        else if (params === "4" || params === "8") this.#move(this.#line.length);
        else if (params === "3") this.#deleteForward();
    }
  }

  #submit() {
    const line = this.#line;
    if (line.trim() !== "" && this.#history[this.#history.length - 1] !== line) {
      this.#history.push(line);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    this.clear();
    this.#actions.push({ kind: "line", line });
  }

  #move(to: number) {
    this.#cursor = Math.max(0, Math.min(this.#line.length, to));
  }

  /** One character left, with the combining marks that follow it. */
  #left() {
    let at = this.#cursor;
    while (at > 0) {
      at = _previous(this.#line, at);
      if (codePointWidth(this.#line.codePointAt(at)!) > 0) break;
    }
    this.#cursor = at;
  }

  /** One character right, with the combining marks that follow it. */
  #right() {
    const line = this.#line;
    if (this.#cursor >= line.length) return;
    let at = _next(line, this.#cursor);
    while (at < line.length && codePointWidth(line.codePointAt(at)!) === 0) at = _next(line, at);
    this.#cursor = at;
  }

  #wordLeft() {
    let i = this.#cursor;
    while (i > 0 && /\s/.test(this.#line[i - 1])) i--;
    while (i > 0 && !/\s/.test(this.#line[i - 1])) i--;
    this.#cursor = i;
  }

  #wordRight() {
    let i = this.#cursor;
    while (i < this.#line.length && /\s/.test(this.#line[i])) i++;
    while (i < this.#line.length && !/\s/.test(this.#line[i])) i++;
    this.#cursor = i;
  }

  #deleteBack() {
    if (this.#cursor === 0) return;
    const end = this.#cursor;
    this.#left();
    this.#setLine(this.#line.slice(0, this.#cursor) + this.#line.slice(end), this.#cursor);
  }

  #deleteForward() {
    if (this.#cursor >= this.#line.length) return;
    const start = this.#cursor;
    this.#right();
    this.#setLine(this.#line.slice(0, start) + this.#line.slice(this.#cursor), start);
  }

  #deleteWordBack() {
    const end = this.#cursor;
    this.#wordLeft();
    this.#setLine(this.#line.slice(0, this.#cursor) + this.#line.slice(end), this.#cursor);
  }

  #historyStep(step: -1 | 1) {
    const to = this.#historyIndex + step;
    if (to < 0 || to > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.#line;
    this.#historyIndex = to;
    this.#setLine(to === this.#history.length ? this.#draft : this.#history[to]);
  }

  #complete() {
    if (this.#completer === undefined) return;
    const [candidates, word] = this.#completer(this.#line.slice(0, this.#cursor));
    if (candidates.length === 0) return;
    let common = candidates[0];
    for (const c of candidates) {
      while (!c.startsWith(common)) common = common.slice(0, -1);
    }
    const start = this.#cursor - word.length;
    if (common.length > word.length && start >= 0) {
      // The candidate replaces the word: "pl" becomes "PLAY ".
      this.#setLine(this.#line.slice(0, start) + this.#line.slice(this.#cursor), start);
      this.#insert(common);
    } else if (candidates.length > 1) {
      this.#actions.push({ kind: "candidates", list: candidates.map((c) => c.trimEnd()) });
    }
  }
}
