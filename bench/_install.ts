/**
 * The peer engines the bench compares against (Debian's `nginx` and `nats-server`): found on the
 * PATH or in /usr/sbin, and installed with apt-get when missing (with sudo when not root), as
 * `./run` installs ffmpeg.
 * @module
 */

import type { ScenarioResult } from "./_scenario.ts";

/** An engine the bench runs side by side with peerstream. */
export interface Engine {
  /** The command. */
  command: string;
  /** Arguments that print its version and exit 0. */
  versionArgs: string[];
  /** The Debian package that provides it. */
  package: string;
}

/** Debian's nginx. */
export const NGINX: Engine = { command: "nginx", versionArgs: ["-v"], package: "nginx" };
/** Debian's NATS server. */
export const NATS_SERVER: Engine = {
  command: "nats-server",
  versionArgs: ["--version"],
  package: "nats-server",
};

/**
 * Finds an engine's executable and its version line.
 *
 * @param engine The engine.
 * @returns The path and version, or null when it is not installed.
 */
export async function findEngine(
  engine: Engine,
): Promise<{ path: string; version: string } | null> {
  // /usr/sbin is not on every user's PATH, and both packages install there.
  for (const path of [engine.command, `/usr/sbin/${engine.command}`]) {
    try {
      const out = await new Deno.Command(path, {
        args: engine.versionArgs,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) continue;
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { path, version: text.trim().split("\n")[0] };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return null;
}

async function run(args: string[]): Promise<void> {
  // sudo drops the environment, so the variable goes on its command line; stdin stays the
  // terminal's so that sudo can ask for a password.
  const sudo = Deno.uid() === 0 ? [] : ["sudo", "DEBIAN_FRONTEND=noninteractive"];
  const [cmd, ...rest] = [...sudo, ...args];
  const out = await new Deno.Command(cmd, {
    args: rest,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "inherit",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const tail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" / ");
    throw new Error(`"${[cmd, ...rest].join(" ")}" exited with code ${out.code}: ${tail}`);
  }
}

/**
 * The engine of a side-by-side scenario, or null when the scenario is skipped. Plain `--quick`
 * runs no side-by-side scenario, so that it stays about a minute; the full run and any `--only`
 * run find the engine, installing it with apt-get when it is missing. A skip says so in the
 * scenario's title and notes.
 *
 * @param engine The engine.
 * @param ctx Whether the side-by-side scenarios run, and a progress logger.
 * @param result The scenario's result, retitled and noted when skipped.
 * @returns The path and version, or null when skipped.
 * @throws {Error} When the engine is missing and cannot be installed.
 */
export async function peerEngine(
  engine: Engine,
  ctx: { peers: boolean; log: (line: string) => void },
  result: ScenarioResult,
): Promise<{ path: string; version: string } | null> {
  if (!ctx.peers) {
    result.title += " (skipped in quick mode)";
    result.notes.push(
      `Skipped: plain --quick runs no side-by-side scenario, so that it stays about a minute; "deno task bench --quick --only ${result.id}" runs its tiny version, the full run the real one`,
    );
    return null;
  }
  return await ensureEngine(engine, ctx);
}

/**
 * Finds an engine, installing its Debian package with apt-get first when it is missing.
 * Installing Debian's nginx may also start its default service on port 80, where the init system
 * allows; the bench never uses, changes or stops it.
 *
 * @param engine The engine.
 * @param options A progress logger.
 * @returns The path and version line.
 * @throws {Error} When it is missing and cannot be installed.
 */
export async function ensureEngine(
  engine: Engine,
  options: { log: (line: string) => void },
): Promise<{ path: string; version: string }> {
  const found = await findEngine(engine);
  if (found !== null) return found;
  const remedy = `install it with apt-get install ${engine.package}`;
  options.log(`installing ${engine.package} with apt-get`);
  try {
    await run(["apt-get", "update", "-qq"]);
    await run(["apt-get", "install", "-y", "-qq", engine.package]);
  } catch (error) {
    throw new Error(`Cannot start ${engine.command}: ${(error as Error).message}; ${remedy}`);
  }
  const installed = await findEngine(engine);
  if (installed === null) {
    throw new Error(`Cannot start ${engine.command}: still missing after apt-get; ${remedy}`);
  }
  return installed;
}
