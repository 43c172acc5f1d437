/**
 * Support of the `tests/cli_*_test.ts` suites: `main.ts` run with the program's permissions, a
 * fresh HOME and a deadline; its error lines; a closed port; a CLI finished and cleaned up; and a
 * check that a client printed no colour.
 * @module
 */

import { ok } from "node:assert/strict";
import { type CliClient, homeEnv, PROGRAM_PERMISSIONS } from "./_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** The start of every ANSI escape sequence. */
export const ANSI = "\x1b[";

/** What a run of `main.ts` printed and how it exited. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main.ts` with the program's permissions, a fresh HOME and a deadline. */
export async function run(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const home = await Deno.makeTempDir({ prefix: "peerstream-cli-" });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...PROGRAM_PERMISSIONS, MAIN, ...args],
      cwd: home,
      env: { NO_COLOR: "1", ...homeEnv(home), ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
    await Deno.remove(home, { recursive: true });
  }
}

/** The lines of `text` that start with `error: `. */
export function errorLines(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith("error: "));
}

/** A port with nothing listening on it. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Waits for a CLI to exit and removes its HOME; resolves with its exit code. */
export async function finishCli(cli: CliClient): Promise<number> {
  try {
    return await cli.finish();
  } finally {
    await Deno.remove(cli.home, { recursive: true });
  }
}

/** No ANSI escape in anything the client printed (startCli sets NO_COLOR=1). */
export function assertNoColor(cli: CliClient): void {
  for (const line of [...cli.out.lines, ...cli.err.lines]) {
    ok(!line.includes(ANSI), `ANSI escape in ${JSON.stringify(line)}`);
  }
}
