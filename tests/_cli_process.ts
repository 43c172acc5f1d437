/**
 * Real `join` processes for the end-to-end tests: the terminal client with piped output lines, or
 * in a pty read through a virtual screen, each with a HOME of its own.
 * @module
 */

import { LineReader, PROGRAM_PERMISSIONS, ROOT } from "./_program.ts";

/**
 * Environment that points a child's HOME and XDG folders into `home`, so that nothing it writes
 * leaks between tests, while it keeps the shared Deno cache.
 *
 * @param home A fresh folder.
 * @returns The variables.
 */
export function homeEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    XDG_CONFIG_HOME: `${home}/.config`,
    XDG_CACHE_HOME: `${home}/.cache`,
    XDG_DATA_HOME: `${home}/.local/share`,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
  };
}

/**
 * The command line of a `peerstream join` of a loopback server: `deno run` with the program's
 * permissions.
 *
 * @param port The server's port.
 * @param name The name to join as.
 * @param options Extra `join` arguments (default `--player none`), another checkout's `main.ts`.
 * @returns The program and its arguments.
 */
function joinCommand(
  port: number,
  name: string,
  options: { args?: string[]; main?: string; host?: string; wrap?: readonly string[] },
): string[] {
  return [
    ...(options.wrap ?? []),
    Deno.execPath(),
    "run",
    ...PROGRAM_PERMISSIONS,
    options.main ?? `${ROOT}main.ts`,
    "join",
    "--name",
    name,
    "--server",
    `${options.host ?? "127.0.0.1"}:${port}`,
    ...(options.args ?? ["--player", "none"]),
  ];
}

/** A `peerstream join` process driven through stdin and stdout. */
export interface CliClient {
  child: Deno.ChildProcess;
  out: LineReader;
  err: LineReader;
  /** Types a line. */
  type(line: string): Promise<void>;
  /** Closes stdin and waits for the exit code (killing after a deadline). */
  finish(timeoutMs?: number): Promise<number>;
  /** The config folder (fresh per client). */
  home: string;
}

/**
 * Starts `main.ts join` with a fresh HOME and working folder.
 *
 * @param port The server's port.
 * @param name The name.
 * @param options Extra arguments; `home` to reuse folders; `main` to run another program (the bundle).
 * @returns The client, once it printed "Joined" (unless `waitJoined` is false).
 */
export async function startCli(
  port: number,
  name: string,
  options: {
    args?: string[];
    waitJoined?: boolean;
    home?: string;
    env?: Record<string, string>;
    /** Another checkout's `main.ts` (the bench's "before" figures). */
    main?: string;
    /** The server's address. @default {"127.0.0.1"} */
    host?: string;
    /** A prefix the client runs under, e.g. `ip netns exec NS` (a shaped link). @default {[]} */
    wrap?: readonly string[];
  } = {},
): Promise<CliClient> {
  const home = options.home ?? await Deno.makeTempDir({ prefix: "peerstream-home-" });
  const [program, ...args] = joinCommand(port, name, options);
  const child = new Deno.Command(program, {
    args,
    cwd: home,
    env: { NO_COLOR: "1", ...homeEnv(home), ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const out = new LineReader(child.stdout);
  const err = new LineReader(child.stderr);
  const client: CliClient = {
    child,
    out,
    err,
    home,
    async type(line) {
      await writer.write(new TextEncoder().encode(`${line}\n`));
    },
    async finish(timeoutMs = 30_000) {
      try {
        await writer.close();
      } catch {
        // Already closed.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
      }, timeoutMs);
      const status = await child.status;
      clearTimeout(timer);
      await Promise.all([out.done, err.done]);
      return status.code;
    },
  };
  if (options.waitJoined !== false) {
    try {
      await out.waitFor(/^Joined /, { timeoutMs: 20_000 });
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited already (e.g. refused by the server): its stderr says why.
      }
      await client.finish();
      throw new Error(`${(error as Error).message}\nstderr:\n${err.lines.join("\n")}`);
    }
  }
  return client;
}

/** What a program showed on a pseudo-terminal, and a way to wait for text in it. */
export class PtyScreen {
  /** Everything it wrote, escape sequences included (colour checks). */
  raw = "";
  /** The same without escape sequences, carriage returns as line breaks (what a person reads). */
  text = "";
  #waiters: { re: RegExp; from: number; resolve: () => void }[] = [];
  /** Resolves when the output ends. */
  readonly done: Promise<void>;

  /** @param stream The pty's output. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.raw += chunk;
        // deno-lint-ignore no-control-regex -- stripping terminal escapes
        this.text += chunk.replace(/\x1b\[[0-9;?]*[A-Za-z~]/g, "").replace(/\r/g, "\n");
        for (const w of [...this.#waiters]) {
          if (w.re.test(this.text.slice(w.from))) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    })();
  }

  /**
   * Waits for `re` in the text shown from `from` on.
   *
   * @param re What to wait for.
   * @param timeoutMs The deadline. @default {20000}
   * @param from Where in {@linkcode PtyScreen.text} to look from. @default {the end so far}
   */
  waitFor(re: RegExp, timeoutMs = 20_000, from: number = this.text.length): Promise<void> {
    if (re.test(this.text.slice(from))) return Promise.resolve();
    const found = new Promise<void>((resolve) => this.#waiters.push({ re, from, resolve }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Timed out after ${timeoutMs} ms: ${re} on the screen; it shows:\n${
                this.text.slice(-2000)
              }`,
            ),
          ),
        timeoutMs,
      );
    });
    return Promise.race([found, late]).finally(() => clearTimeout(timer));
  }
}

/** A `peerstream join` on a pseudo-terminal. */
export interface PtyClient {
  /** The `script` process that holds the pty. */
  child: Deno.ChildProcess;
  /** What the client showed. */
  screen: PtyScreen;
  /** Types keys: `\r` is Enter, `\x03` Ctrl-C, `\x04` Ctrl-D. */
  type(keys: string): Promise<void>;
  /** Kills the client if it still runs, waits for it and removes its HOME. */
  finish(): Promise<void>;
}

/**
 * Starts `join` on a pseudo-terminal (util-linux `script`; the test fails if it is missing), so the
 * raw-mode line editor and colours run as a person meets them. The environment is given whole
 * (`PATH`, `TERM=xterm`, a fresh HOME and `env`), so that `NO_COLOR` is set only when asked.
 *
 * @param port The server's port.
 * @param name The name to join as.
 * @param options Extra `join` arguments (default `--player none`) and environment.
 * @returns The running client.
 */
export async function startPtyJoin(
  port: number,
  name: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<PtyClient> {
  const home = await Deno.makeTempDir({ prefix: "peerstream-pty-" });
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = joinCommand(port, name, options).map(quote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: home,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      TERM: "xterm",
      ...homeEnv(home),
      ...options.env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const screen = new PtyScreen(child.stdout);
  const errors = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  return {
    child,
    screen,
    type: (keys) => writer.write(new TextEncoder().encode(keys)),
    async finish() {
      await writer.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await screen.done;
      await errors;
      await Deno.remove(home, { recursive: true });
    },
  };
}
