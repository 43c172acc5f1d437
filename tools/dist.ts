/**
 * `deno task dist`: writes `dist/peerstream`, one executable file for Linux x86-64 that needs
 * nothing installed (issue 23).
 *
 * - Where a `denort` is at hand (`DENORT_BIN`, or the zip `deno compile` keeps in Deno's cache), it
 *   is `deno compile`'s output, with the `compile` task's flags.
 * - Otherwise (no registry reachable here ships `denort`), it is a self-extracting file: the `sh`
 *   header of `tools/dist_layout.ts`, then the Deno runtime that `./run` installs from the official
 *   npm package (gzip), then the bundled program.
 *
 * Either way the commit is stamped in (`--version`), and the task prints the file's size and
 * SHA-256. The same commit, Deno and runtime package give the same bytes.
 * @module
 */

import { gzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import {
  type DistLayout,
  payloadRanges,
  renderHeader,
  runtimeKeyInput,
  taskRunFlags,
} from "./dist_layout.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Where the stamped `build_info.ts`, its import map and the bundle are made (ignored by git). */
const STAMP_DIR = "dist/.stamp";
/** The only target: what the runtime package and the header are for. */
const TARGET = "x86_64-unknown-linux-gnu";

/** Which kind of file a build makes. */
export type DistKind = "compiled" | "self-extracting";

/** What a build made. */
export interface DistResult {
  /** The file written. */
  path: string;
  kind: DistKind;
  bytes: number;
  /** SHA-256 (hex) of the whole file. */
  sha256: string;
  commit: string;
}

/**
 * Imports the bundle may keep although nothing can resolve them at run time, each with why it is
 * harmless. A new one fails the build, so that a dependency that needs a file beside the bundle is
 * noticed here rather than by a user.
 */
export const OPTIONAL_IMPORTS: Readonly<Record<string, string>> = {
  "@node-rs/xxhash": "@redis/client's digest(), which peerstream never calls",
  "@opentelemetry/api": "@redis/client's OpenTelemetry support, which peerstream never enables",
};

/**
 * Reads the Deno version `./run` pins.
 *
 * @param runScript The text of `./run`.
 * @returns For example `2.9.6`.
 * @throws {SyntaxError} When `./run` has no `DENO_VERSION=X.Y.Z` line.
 */
export function pinnedDenoVersion(runScript: string): string {
  const found = /^DENO_VERSION=(\d+\.\d+\.\d+)$/m.exec(runScript);
  if (found === null) {
    throw new SyntaxError("Cannot find the pinned Deno: ./run has no DENO_VERSION=X.Y.Z line");
  }
  return found[1];
}

/**
 * Where `./run` installs Deno's npm package, and in it the runtime for Linux x86-64 (glibc).
 *
 * @param denoVersion The pinned version.
 * @param env `PEERSTREAM_TOOLS`, `XDG_CACHE_HOME` and `HOME`, as `./run` reads them.
 * @returns The runtime's path.
 */
export function runtimePackagePath(
  denoVersion: string,
  env: { PEERSTREAM_TOOLS?: string; XDG_CACHE_HOME?: string; HOME?: string },
): string {
  const tools = env.PEERSTREAM_TOOLS ||
    `${env.XDG_CACHE_HOME || `${env.HOME ?? ""}/.cache`}/peerstream-tools`;
  return `${tools}/deno-${denoVersion}/node_modules/@deno/linux-x64-glibc/deno`;
}

/**
 * Where `deno compile` keeps the `denort` it downloaded (and looks before downloading).
 *
 * @param denoDir Deno's cache folder (`deno info --json`'s `denoDir`).
 * @param denoVersion The running Deno's version.
 * @returns The zip's path.
 */
export function cachedDenortPath(denoDir: string, denoVersion: string): string {
  return `${denoDir}/dl/release/v${denoVersion}/denort-${TARGET}.zip`;
}

/**
 * Which kind of file to make.
 *
 * @param facts Whether `DENORT_BIN` is set, whether Deno's cache holds a `denort`, and whether the
 *   caller asked for the self-extracting file.
 * @returns `compiled` when a `denort` is at hand and not refused, else `self-extracting`.
 */
export function chooseKind(
  facts: { denortBin: boolean; cachedDenort: boolean; selfExtracting: boolean },
): DistKind {
  if (facts.selfExtracting) return "self-extracting";
  return facts.denortBin || facts.cachedDenort ? "compiled" : "self-extracting";
}

/**
 * Files inside npm packages (relative to Deno's npm cache) that `deno compile` must not embed,
 * each with why. bintrees (prom-client → tdigest → bintrees) ships `test/perf/100k`, 100,000 lines
 * of numbers (`1\n-2\n-3…`); embedding it, `deno compile` 2.9.6 dies with "thread
 * 'tokio-runtime-worker' has overflowed its stack" (checked: excluding that one file is enough; a
 * 100,000-deep subtraction is the likely reading).
 */
export const COMPILE_EXCLUDES: Readonly<Record<string, string>> = {
  "registry.npmjs.org/bintrees/1.0.2/test": "benchmark data that overflows deno compile's parser",
};

/**
 * The `--exclude` flags for {@linkcode COMPILE_EXCLUDES}.
 *
 * @param npmCache Deno's npm cache folder (`deno info --json`'s `npmCache`, which honours
 *   `DENO_DIR`).
 * @returns One `--exclude=PATH` per entry.
 */
export function compileExcludes(npmCache: string): string[] {
  return Object.keys(COMPILE_EXCLUDES).map((path) => `--exclude=${npmCache}/${path}`);
}

/**
 * The `deno compile` flags of the `compile` task, without its `--output` and its `--exclude`s
 * (written for the default `DENO_DIR` there; the dist task makes its own with
 * {@linkcode compileExcludes}).
 *
 * @param task The task (`deno compile FLAGS --output PATH main.ts`).
 * @returns The flags.
 * @throws {SyntaxError} When the task has another shape.
 */
export function compileTaskFlags(task: string): string[] {
  const words = task.trim().split(/\s+/);
  const output = words.indexOf("--output");
  if (
    words[0] !== "deno" || words[1] !== "compile" || words.at(-1) !== "main.ts" || output < 2 ||
    output !== words.length - 3
  ) {
    throw new SyntaxError(
      `Cannot read the "compile" task: expected "deno compile FLAGS --output PATH main.ts", got "${task}"`,
    );
  }
  return words.slice(2, output).filter((word) => !word.startsWith("--exclude="));
}

/**
 * The stamped copy of `cli/build_info.ts`.
 *
 * @param source The module's text.
 * @param commit The commit.
 * @returns The text with `BUILD_COMMIT` set.
 * @throws {SyntaxError} When the module has no empty `BUILD_COMMIT` to fill in.
 */
export function stampBuildInfo(source: string, commit: string): string {
  const line = 'export const BUILD_COMMIT: string = "";';
  if (source.split("\n").filter((l) => l === line).length !== 1) {
    throw new SyntaxError(`Cannot stamp cli/build_info.ts: it must hold the line ${line}`);
  }
  return source.replace(line, `export const BUILD_COMMIT: string = ${JSON.stringify(commit)};`);
}

/**
 * Makes a bundle independent of where Deno's cache is: esbuild names each CommonJS module by its
 * path relative to the checkout, and npm modules live in the cache (as `web/build.ts` does).
 *
 * @param js The bundle.
 * @returns The bundle with those paths as `npm:…`.
 */
export function machineIndependent(js: string): string {
  return js
    .replace(/^\/\/ .*\/registry\.npmjs\.org\//gm, "// npm:")
    .replace(/"[^"\n]*\/registry\.npmjs\.org\//g, '"npm:');
}

/**
 * The specifiers of a bundle's imports that nothing beside the bundle can resolve: static imports
 * of anything but `node:`, and literal dynamic imports and requires of anything but `node:` and
 * {@linkcode OPTIONAL_IMPORTS}.
 *
 * @param js The bundle.
 * @returns The offending specifiers, sorted, each once.
 */
export function unresolvedImports(js: string): string[] {
  const found = new Set<string>();
  for (const m of js.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)";?$/gm)) {
    if (!m[1].startsWith("node:")) found.add(m[1]);
  }
  for (const m of js.matchAll(/\b(?:import|__require)\(\s*"([^"]+)"\s*\)/g)) {
    if (!m[1].startsWith("node:") && !(m[1] in OPTIONAL_IMPORTS)) found.add(m[1]);
  }
  return [...found].sort();
}

async function _sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

async function _git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `Cannot read the commit: git ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }; build from a git checkout`,
    );
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** The commit, with `-dirty` when tracked or new files differ from it (dist/ is ignored). */
async function _commit(): Promise<string> {
  const head = await _git(["rev-parse", "HEAD"]);
  return (await _git(["status", "--porcelain"])) === "" ? head : `${head}-dirty`;
}

async function _run(program: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) throw new Error(`Cannot ${what}: ${text(out.stderr).trim()}`);
  return text(out.stdout);
}

/** Writes the stamped build_info.ts and an import map that puts it in place of the source's. */
async function _stamp(commit: string): Promise<string> {
  const dir = `${ROOT}${STAMP_DIR}`;
  await Deno.mkdir(dir, { recursive: true });
  const source = await Deno.readTextFile(`${ROOT}cli/build_info.ts`);
  await Deno.writeTextFile(`${dir}/build_info.ts`, stampBuildInfo(source, commit));
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const map = {
    imports: {
      ...config.imports,
      [new URL("../cli/build_info.ts", import.meta.url).href]: "./build_info.ts",
    },
  };
  await Deno.writeTextFile(`${dir}/import_map.json`, JSON.stringify(map, null, 2) + "\n");
  return `${STAMP_DIR}/import_map.json`;
}

/** The bundled program, stamped, machine-independent, checked for imports it cannot resolve. */
async function _bundle(importMap: string): Promise<Uint8Array<ArrayBuffer>> {
  const out = `${STAMP_DIR}/peerstream.js`;
  await _run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--import-map",
    importMap,
    "-o",
    out,
    "main.ts",
  ], "bundle main.ts");
  const js = machineIndependent(await Deno.readTextFile(`${ROOT}${out}`));
  const unresolved = unresolvedImports(js);
  if (unresolved.length > 0) {
    throw new Error(
      `Cannot bundle main.ts into one file: it imports ${
        unresolved.map((s) => `"${s}"`).join(", ")
      }, which nothing beside the bundle provides; bundle them or list them in OPTIONAL_IMPORTS with why`,
    );
  }
  return new TextEncoder().encode(js);
}

/** Reads the runtime from `./run`'s npm install, checking it is Deno `version` for x86-64. */
async function _runtime(version: string): Promise<Uint8Array<ArrayBuffer>> {
  const path = runtimePackagePath(version, Deno.env.toObject());
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(
      `Cannot find Deno ${version}'s runtime at "${path}" (${
        (error as Error).message
      }); run ./run once (it installs the deno npm package there) or set PEERSTREAM_TOOLS`,
      { cause: error },
    );
  }
  // ELF, 64-bit, little-endian, machine 0x3e (x86-64).
  const elf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46 &&
    bytes[4] === 2 && bytes[5] === 1 && bytes[18] === 0x3e && bytes[19] === 0;
  if (!elf) throw new Error(`Cannot use "${path}": it is not an x86-64 ELF executable`);
  const said = (await _run(path, ["--version"], `run "${path}"`)).split("\n")[0];
  if (!said.startsWith(`deno ${version} `)) {
    throw new Error(`Cannot use "${path}": it says "${said}", not Deno ${version}`);
  }
  return bytes;
}

async function _writeAtomically(path: string, parts: Uint8Array[]): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/") + 1) || ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o755 });
    try {
      for (const part of parts) {
        for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
      }
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

async function _selfExtracting(output: string, version: string, commit: string): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const denoVersion = pinnedDenoVersion(await Deno.readTextFile(`${ROOT}run`));
  if (Deno.version.deno !== denoVersion) {
    throw new Error(
      `Cannot build dist/peerstream with Deno ${Deno.version.deno}: ./run pins ${denoVersion}; run the task with that Deno`,
    );
  }
  const runtime = await _runtime(denoVersion);
  const program = await _bundle(await _stamp(commit));
  // Level 6 (zlib's default): level 9 saves 3 % for 2.5x the time; unpacking costs the same.
  const stored = new Uint8Array(gzipSync(runtime, { level: 6 }));
  const layout: DistLayout = {
    version,
    commit,
    denoVersion,
    runtime: { storedBytes: stored.length, sha256: await _sha256(runtime) },
    program: { bytes: program.length, sha256: await _sha256(program) },
    serveFlags: taskRunFlags(config.tasks.serve, "serve"),
    joinFlags: taskRunFlags(config.tasks.join, "join"),
  };
  const key = await _sha256(
    new TextEncoder().encode(runtimeKeyInput(layout.runtime.sha256, layout.program.sha256)),
  );
  const header = new TextEncoder().encode(renderHeader(layout, key));
  const parts = [header, stored, program];
  const total = payloadRanges(header.length, layout).total;
  if (parts.reduce((n, p) => n + p.length, 0) !== total) throw new Error("Layout mismatch");
  await _writeAtomically(output, parts);
}

async function _compiled(
  output: string,
  facts: { version: string; commit: string; npmCache: string },
): Promise<void> {
  const { version, commit } = facts;
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const importMap = await _stamp(commit);
  const tmp = `${output}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await _run(Deno.execPath(), [
      "compile",
      "--quiet",
      ...compileTaskFlags(config.tasks.compile),
      ...compileExcludes(facts.npmCache),
      "--import-map",
      importMap,
      "--output",
      tmp,
      "main.ts",
    ], "compile main.ts");
    // DENORT_BIN pointing at `deno` itself gives a file that is just the Deno CLI: refuse it.
    const said = (await _run(tmp, ["--version"], `run "${tmp}"`)).trim();
    const expected = `peerstream ${version} (commit ${commit}, Deno `;
    if (!said.startsWith(expected)) {
      throw new Error(
        `Cannot use deno compile's output: its --version says "${
          said.split("\n")[0]
        }", not "${expected}…" (is DENORT_BIN a denort of Deno ${Deno.version.deno}, not deno?); unset DENORT_BIN for the self-extracting file`,
      );
    }
    await Deno.rename(tmp, output);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Options for {@linkcode buildDist}. */
export interface BuildDistOptions {
  /** The file to write, relative to the checkout. @default {"dist/peerstream"} */
  output?: string;
  /** Make the self-extracting file even where a `denort` is at hand. @default {false} */
  selfExtracting?: boolean;
}

/**
 * Builds `dist/peerstream`.
 *
 * @param options Where to write it, and which kind.
 * @returns What it made.
 */
export async function buildDist(options: BuildDistOptions = {}): Promise<DistResult> {
  const output = options.output ?? "dist/peerstream";
  const path = output.startsWith("/") ? output : `${ROOT}${output}`;
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const commit = await _commit();
  const info = JSON.parse(await _run(Deno.execPath(), ["info", "--json"], "run deno info"));
  if (typeof info?.denoDir !== "string") {
    throw new Error("Cannot find Deno's cache: deno info --json has no denoDir");
  }
  const denoDir: string = info.denoDir;
  const npmCache: string = typeof info.npmCache === "string" ? info.npmCache : `${denoDir}/npm`;
  const kind = chooseKind({
    denortBin: (Deno.env.get("DENORT_BIN") ?? "") !== "",
    cachedDenort: await Deno.stat(cachedDenortPath(denoDir, Deno.version.deno)).then(
      () => true,
      () => false,
    ),
    selfExtracting: options.selfExtracting ?? false,
  });
  if (kind === "compiled") {
    await _compiled(path, { version: config.version, commit, npmCache });
  } else await _selfExtracting(path, config.version, commit);
  const bytes = await Deno.readFile(path);
  return { path, kind, bytes: bytes.length, sha256: await _sha256(bytes), commit };
}

const USAGE = `Usage: deno task dist [--output FILE] [--self-extracting]

Writes dist/peerstream: one executable file for Linux x86-64 that needs nothing installed.
With a denort at hand (DENORT_BIN, or Deno's cache) it is deno compile's output; otherwise, or
with --self-extracting, a sh script carrying Deno's runtime and the bundled program.`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      output: { type: "string" },
      "self-extracting": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
  } else {
    try {
      const result = await buildDist({
        output: values.output,
        selfExtracting: values["self-extracting"],
      });
      const what = result.kind === "compiled"
        ? "deno compile's output"
        : `self-extracting: Deno ${Deno.version.deno}'s runtime and the bundled program`;
      console.log(`Wrote ${result.path} (${what}), commit ${result.commit}`);
      console.log(`size: ${result.bytes} bytes`);
      console.log(`sha256: ${result.sha256}`);
    } catch (error) {
      console.error(`error: ${(error as Error).message}`);
      Deno.exitCode = 1;
    }
  }
}
