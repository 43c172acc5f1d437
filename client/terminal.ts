/**
 * The interactive terminal: a readline prompt with history and tab completion, and notices that
 * appear above the line being typed without garbling it.
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";

/** Options for {@linkcode Terminal}. */
export interface TerminalOptions {
  /** Tab completion. */
  completer?: (line: string) => [string[], string];
  /** The prompt on a terminal. @default {"> "} */
  prompt?: string;
}

/** Line input and notice output. */
export class Terminal {
  readonly #rl: readline.Interface;
  readonly #interactive: boolean;
  #queue: string[] = [];
  #waiters: ((line: string | null) => void)[] = [];
  #ended = false;
  #prompt: string;

  /** @param options Completion and prompt. */
  constructor(options: TerminalOptions = {}) {
    this.#interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
    this.#prompt = options.prompt ?? "> ";
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: this.#interactive,
      completer: options.completer,
      historySize: 500,
      prompt: this.#prompt,
    });
    this.#rl.on("line", (line: string) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#queue.push(line);
    });
    this.#rl.on("close", () => {
      this.#ended = true;
      for (const waiter of this.#waiters.splice(0)) waiter(null);
    });
  }

  /** Whether input and output are a terminal (prompts and redraws) or pipes (plain lines). */
  get interactive(): boolean {
    return this.#interactive;
  }

  /**
   * Reads the next line.
   *
   * @param prompt Shown on a terminal; defaults to the main prompt.
   * @returns The line, or null at end of input.
   */
  read(prompt = this.#prompt): Promise<string | null> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.resolve(null);
    if (this.#interactive) {
      this.#rl.setPrompt(prompt);
      this.#rl.prompt();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Changes the main prompt, e.g. to show what is playing; redraws it on a terminal.
   *
   * @param prompt The new prompt.
   */
  setPrompt(prompt: string): void {
    const waiting = this.#interactive && this.#waiters.length > 0 &&
      this.#rl.getPrompt() === this.#prompt;
    this.#prompt = prompt;
    if (waiting) {
      this.#rl.setPrompt(prompt);
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      this.#rl.prompt(true);
    }
  }

  /** Prints a notice on stdout above the line being typed. */
  print(line: string): void {
    this.#write(process.stdout, line);
  }

  /** Prints an error or warning on stderr above the line being typed. */
  error(line: string): void {
    this.#write(process.stderr, line);
  }

  #write(stream: { write(text: string): unknown }, line: string) {
    if (!this.#interactive) {
      stream.write(`${line}\n`);
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    stream.write(`${line}\n`);
    if (this.#waiters.length > 0) this.#rl.prompt(true);
  }

  /** Stops reading input. */
  close(): void {
    this.#rl.close();
  }
}
