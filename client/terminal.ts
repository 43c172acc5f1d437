/**
 * The interactive terminal: a raw-mode prompt driven by {@linkcode LineEditor} (history, Tab
 * completion, a sideways-scrolling line, bracketed paste), and notices that appear above the line
 * being typed without garbling it. When stdin or stdout is not a terminal it reads plain lines and
 * prints no prompt. Either way a line over {@linkcode MAX_LINE_BYTES} is refused at once.
 * @module
 */

import { type EditorAction, LineEditor, MAX_LINE_BYTES, utf8Length } from "./line_editor.ts";

/** Options for {@linkcode Terminal}. */
export interface TerminalOptions {
  /** Tab completion: the line up to the cursor → candidates and the word they replace. */
  completer?: (line: string) => [string[], string];
  /** Ctrl-C: the typed line was cleared when it had text. */
  onInterrupt?: (hadText: boolean) => void;
  /** The main prompt. @default {"> "} */
  prompt?: string;
}

/** Lines typed ahead of the reader are kept up to this many; more are dropped with a notice. */
const MAX_QUEUED_LINES = 1000;

const encoder = new TextEncoder();

function _writeAll(out: { writeSync(p: Uint8Array): number }, text: string) {
  const bytes = encoder.encode(text);
  let at = 0;
  while (at < bytes.length) at += out.writeSync(bytes.subarray(at));
}

/** Line input and notice output. */
export class Terminal {
  readonly #interactive: boolean;
  readonly #editor: LineEditor;
  readonly #onInterrupt: (hadText: boolean) => void;
  #prompt: string;
  #mainPrompt: string;
  #queue: string[] = [];
  #waiters: ((line: string | null) => void)[] = [];
  #ended = false;
  #closed = false;

  /** @param options Completion, Ctrl-C and the prompt. */
  constructor(options: TerminalOptions = {}) {
    this.#interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
    this.#mainPrompt = this.#prompt = options.prompt ?? "> ";
    this.#onInterrupt = options.onInterrupt ?? (() => {});
    this.#editor = new LineEditor({ completer: options.completer });
    if (this.#interactive) {
      Deno.stdin.setRaw(true);
      // Bracketed paste: a pasted line break is text, not Enter.
      _writeAll(Deno.stdout, "\x1b[?2004h");
      this.#redraw();
    }
    this.#pump().catch(() => this.#end());
  }

  /** Whether input and output are a terminal (prompts and redraws) or pipes (plain lines). */
  get interactive(): boolean {
    return this.#interactive;
  }

  /**
   * The terminal's width in columns, or undefined when not a terminal or its size is unknown (a pty
   * nobody sized, as under `script`, says 0): lines are then not cut.
   */
  get columns(): number | undefined {
    if (!this.#interactive) return undefined;
    try {
      const { columns } = Deno.consoleSize();
      return columns > 0 ? columns : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Reads the next line.
   *
   * @param prompt Shown on a terminal; defaults to the main prompt.
   * @returns The line, or null at the end of input.
   */
  read(prompt?: string): Promise<string | null> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.resolve(null);
    this.#prompt = prompt ?? this.#mainPrompt;
    this.#redraw();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Changes the main prompt, e.g. to show what is playing; redraws it on a terminal.
   *
   * @param prompt The new prompt.
   */
  setPrompt(prompt: string): void {
    const showing = this.#prompt === this.#mainPrompt;
    this.#mainPrompt = prompt;
    if (!showing || this.#prompt === prompt) return;
    this.#prompt = prompt;
    this.#redraw();
  }

  /** Prints a notice on stdout above the line being typed. */
  print(line: string): void {
    this.#write(Deno.stdout, line);
  }

  /** Prints an error or warning on stderr above the line being typed. */
  error(line: string): void {
    this.#write(Deno.stderr, line);
  }

  /** Stops reading input (a pending read gets null) and gives the terminal back. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#end();
    if (this.#interactive) {
      _writeAll(Deno.stdout, "\r\x1b[K\x1b[?2004l");
      try {
        Deno.stdin.setRaw(false);
      } catch {
        // stdin is gone.
      }
    }
  }

  #write(out: { writeSync(p: Uint8Array): number }, line: string) {
    if (this.#closed || !this.#interactive) {
      _writeAll(out, `${line}\n`);
      return;
    }
    _writeAll(Deno.stdout, "\r\x1b[K");
    // Raw mode: a line feed does not return the carriage.
    _writeAll(out, `${line}\r\n`);
    this.#redraw();
  }

  #redraw() {
    if (!this.#interactive || this.#closed) return;
    _writeAll(Deno.stdout, this.#editor.render(this.#prompt, this.columns ?? 80));
  }

  #end() {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  #deliver(line: string) {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#prompt = this.#mainPrompt;
      waiter(line);
    } else if (this.#queue.length < MAX_QUEUED_LINES) {
      this.#queue.push(line);
    } else {
      this.error(`error: Too many lines typed ahead; dropped "${line.slice(0, 40)}"`);
    }
  }

  async #pump() {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    const lines = new _LineSplitter((line) => this.#deliver(line), (max) => this.#tooLong(max));
    while (!this.#closed) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      const text = decoder.decode(buffer.subarray(0, n), { stream: true });
      if (this.#interactive) this.#actions(this.#editor.feed(text));
      else lines.push(text);
    }
    if (!this.#interactive) lines.flush();
    this.#end();
  }

  #actions(actions: EditorAction[]) {
    for (const action of actions) {
      switch (action.kind) {
        case "line":
          _writeAll(Deno.stdout, `\r${this.#prompt}${action.line.slice(0, 200)}\x1b[K\r\n`);
          this.#deliver(action.line);
          break;
        case "interrupt":
          this.#onInterrupt(action.hadText);
          break;
        case "eof":
          this.#end();
          break;
        case "too-long":
          this.#tooLong(action.maxBytes);
          break;
        case "candidates":
          this.print(action.list.join("  "));
          break;
        case "clear-screen":
          _writeAll(Deno.stdout, "\x1b[H\x1b[2J");
          break;
      }
    }
    this.#redraw();
  }

  #tooLong(maxBytes: number) {
    this.error(
      `error: Cannot take a line over ${maxBytes} bytes (messages take up to 64 KiB); it was not sent`,
    );
  }
}

/** Splits piped input into lines, linearly, refusing lines over the limit. */
class _LineSplitter {
  #partial: string[] = [];
  #bytes = 0;
  #discarding = false;
  readonly #onLine: (line: string) => void;
  readonly #onTooLong: (max: number) => void;

  constructor(onLine: (line: string) => void, onTooLong: (max: number) => void) {
    this.#onLine = onLine;
    this.#onTooLong = onTooLong;
  }

  push(text: string) {
    let start = 0;
    while (start <= text.length) {
      const end = text.indexOf("\n", start);
      const piece = text.slice(start, end < 0 ? text.length : end);
      this.#add(piece);
      if (end < 0) return;
      this.#finish();
      start = end + 1;
    }
  }

  flush() {
    if (this.#partial.length > 0 || this.#discarding) this.#finish();
  }

  #add(piece: string) {
    if (this.#discarding || piece === "") return;
    this.#bytes += utf8Length(piece);
    if (this.#bytes > MAX_LINE_BYTES) {
      this.#partial = [];
      this.#discarding = true;
      this.#onTooLong(MAX_LINE_BYTES);
      return;
    }
    this.#partial.push(piece);
  }

  #finish() {
    const line = this.#partial.join("").replace(/\r$/, "");
    const discarded = this.#discarding;
    this.#partial = [];
    this.#bytes = 0;
    this.#discarding = false;
    if (!discarded) this.#onLine(line);
  }
}
