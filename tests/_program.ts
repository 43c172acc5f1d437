/**
 * The program as the end-to-end tests run it: its root, the permissions and V8 flags it runs with,
 * the shared test cache, `serve --release`, and `LineReader`, which collects a child's output lines
 * and lets a test wait for one.
 * @module
 */

/** The repository's root folder (where `main.ts` is), with a trailing slash. */
export const ROOT = new URL("..", import.meta.url).pathname;

/**
 * The V8 flags `serve` runs with (the `serve` and `compile` tasks): the old generation grows by
 * 25 % between full collections instead of V8's up to 4x, so that a server holding thousands of
 * connections stays near its live memory (docs/benchmarks-history.md, issue 12).
 */
export const SERVER_V8_FLAGS = ["--v8-flags=--heap-growing-percent=25,--max-semi-space-size=16"];

/**
 * The permissions the program runs with (the same as the compiled binary), and `--unstable-net`,
 * which `serve --reuse-port` needs (as the tasks and the compiled binary have it).
 */
export const PROGRAM_PERMISSIONS = [
  "--unstable-net",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys=hostname,networkInterfaces",
];

/**
 * Frees a name with the operator's `serve --release` on a data folder (no server running on it,
 * or one that applies it).
 *
 * @param data The server's `--data` folder.
 * @param name The name to free.
 */
export async function releaseName(data: string, name: string): Promise<void> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PROGRAM_PERMISSIONS,
      `${ROOT}main.ts`,
      "serve",
      "--release",
      name,
      "--data",
      data,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (result.code !== 0) {
    throw new Error(
      `serve --release ${name} exited ${result.code}: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
}

/** A cache of generated and prepared samples shared by the test files of one run. */
export const TEST_CACHE = Deno.env.get("PEERSTREAM_TEST_CACHE") ??
  `${Deno.env.get("TMPDIR") ?? "/tmp"}/peerstream-test-cache`;

/** Collects a child's output lines and lets a test wait for one. */
export class LineReader {
  readonly lines: string[] = [];
  #waiters: {
    re: RegExp;
    from: number;
    resolve: (line: string) => void;
    reject: (error: Error) => void;
  }[] = [];
  #ended = false;
  readonly done: Promise<void>;

  /** @param stream The child's stdout or stderr. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>) {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#add(line);
    }
    if (rest !== "") this.#add(rest);
    // No line can match any more: a child that exits early fails its waits at once.
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new Error(`No line matching ${waiter.re}: the stream ended`));
    }
  }

  #add(line: string) {
    this.lines.push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.re.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /**
   * Waits for a line matching `re`, among lines from index `from` on.
   *
   * @param re The pattern.
   * @param options Deadline (ms) and where to start looking.
   * @returns The line.
   */
  waitFor(re: RegExp, options: { timeoutMs?: number; from?: number } = {}): Promise<string> {
    const from = options.from ?? 0;
    const found = this.lines.slice(from).find((line) => re.test(line));
    if (found !== undefined) return Promise.resolve(found);
    if (this.#ended) {
      return Promise.reject(new Error(`No line matching ${re}: the stream ended`));
    }
    // Generous: a loaded 2-core machine can take seconds to start a child or make keys.
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `No line matching ${re} within ${timeoutMs} ms; got:\n${this.lines.join("\n")}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        re,
        from,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

/** A running `peerstream serve` process. */
