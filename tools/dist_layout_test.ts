/**
 * The self-extracting file's header: the pure parts from tables, and the script itself run by a
 * real `sh` over a small fake runtime (a script that prints how it was called), so unpacking,
 * reuse, damage and races are checked in seconds without the 95 MB runtime (tests/dist_test.ts
 * runs the real one).
 * @module
 */

import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  type DistLayout,
  ISOLATION_FLAGS,
  payloadRanges,
  PROGRAM_FILE,
  renderHeader,
  RUNTIME_FILE,
  runtimeKeyInput,
  SCRIPT_TOOLS,
  shellQuote,
  taskRunFlags,
} from "./dist_layout.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TASKS = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

const A = "a".repeat(64);
const LAYOUT: DistLayout = {
  version: "0.1.0",
  commit: "977b675d",
  denoVersion: "2.9.6",
  runtime: { storedBytes: 10, sha256: A },
  program: { bytes: 20, sha256: A },
  serveFlags: ["--allow-net"],
  joinFlags: ["--allow-net"],
};

Deno.test("taskRunFlags() reads the serve and join tasks' flags from deno.json", () => {
  deepEqual(taskRunFlags(TASKS.serve, "serve"), [
    "--v8-flags=--heap-growing-percent=25,--max-semi-space-size=16",
    "--unstable-net",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    "--allow-sys=hostname,networkInterfaces",
  ]);
  deepEqual(taskRunFlags(TASKS.join, "join"), [
    "--unstable-net",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
  ]);
  deepEqual(taskRunFlags("deno run main.ts serve", "serve"), []);
});

Deno.test("taskRunFlags() refuses a task of another shape or with a flag that is not a plain word", () => {
  const cases: [string, RegExp][] = [
    ["deno task serve", /expected "deno run FLAGS main.ts serve"/],
    ["deno run --allow-net main.ts join", /expected/],
    ["deno run --allow-net other.ts serve", /expected/],
    ["node run main.ts serve", /expected/],
    ["deno run main.ts", /expected/],
    ["deno run --allow-net stray main.ts serve", /"stray" is not a plain flag/],
    ["deno run --allow-read=$HOME main.ts serve", /"--allow-read=\$HOME" is not a plain flag/],
  ];
  for (const [task, message] of cases) {
    throws(
      () => taskRunFlags(task, "serve"),
      (e) => e instanceof SyntaxError && message.test(e.message),
    );
  }
});

Deno.test("shellQuote() leaves plain words and single-quotes the rest", () => {
  const cases: [string, string][] = [
    ["--allow-net", "--allow-net"],
    ["--v8-flags=--a=25,--b=16", "--v8-flags=--a=25,--b=16"],
    ["a b", "'a b'"],
    ["", "''"],
    ["$HOME", "'$HOME'"],
    ["it's", `'it'"'"'s'`],
  ];
  for (const [word, quoted] of cases) equal(shellQuote(word), quoted, word);
});

Deno.test("renderHeader() states its own length as the payload's offset, in printable ASCII", () => {
  for (const storedBytes of [1, 9, 10, 99_999_999, 100_000_000]) {
    const header = renderHeader({ ...LAYOUT, runtime: { storedBytes, sha256: A } }, A);
    equal(Number(/^ps_offset=(\d+)$/m.exec(header)![1]), header.length);
    equal(new TextEncoder().encode(header).length, header.length);
    ok(header.startsWith("#!/bin/sh\n") && header.endsWith("exit 1\n"));
  }
  // Deterministic: nothing but the layout goes in.
  equal(renderHeader(LAYOUT, A), renderHeader(structuredClone(LAYOUT), A));
});

Deno.test("renderHeader() refuses fields that would not be plain words in the script", () => {
  const cases: [Partial<DistLayout>, string, ErrorConstructor, RegExp][] = [
    [{}, "A".repeat(64), TypeError, /bad key/],
    [{}, "a".repeat(63), TypeError, /bad key/],
    [{ commit: "x; rm -rf ~" }, A, TypeError, /bad commit/],
    [{ version: "1.0 beta" }, A, TypeError, /bad version/],
    [{ program: { bytes: 0, sha256: A } }, A, RangeError, /bad length 0/],
    [{ runtime: { storedBytes: 1.5, sha256: A } }, A, RangeError, /bad length 1.5/],
    [{ runtime: { storedBytes: 1, sha256: "x" } }, A, TypeError, /bad runtime SHA-256/],
  ];
  for (const [change, key, type, message] of cases) {
    throws(
      () => renderHeader({ ...LAYOUT, ...change }, key),
      (e) => e instanceof type && message.test((e as Error).message),
    );
  }
});

Deno.test("payloadRanges() puts the runtime right after the header, then the program", () => {
  deepEqual(payloadRanges(100, LAYOUT), { runtime: [100, 110], program: [110, 130], total: 130 });
});

// ---------------------------------------------------------------------------------------------
// The script run by a real sh over a fake runtime

/** A fake runtime: prints its arguments one per line, then the variables the script sets. */
const FAKE_RUNTIME = `#!/bin/sh
for arg in "$@"; do printf 'arg:%s\\n' "$arg"; done
printf 'env:DENO_DIR=%s\\n' "$DENO_DIR"
printf 'env:DENO_NO_UPDATE_CHECK=%s\\n' "$DENO_NO_UPDATE_CHECK"
`;
const PROGRAM = "console.log('the program');\n";

interface FakeBuild {
  bytes: Uint8Array<ArrayBuffer>;
  key: string;
  layout: DistLayout;
}

async function fakeBuild(): Promise<FakeBuild> {
  const runtime = new TextEncoder().encode(FAKE_RUNTIME);
  const stored = new Uint8Array(gzipSync(runtime));
  const program = new TextEncoder().encode(PROGRAM);
  const layout: DistLayout = {
    ...LAYOUT,
    runtime: { storedBytes: stored.length, sha256: await sha256(runtime) },
    program: { bytes: program.length, sha256: await sha256(program) },
    serveFlags: taskRunFlags(TASKS.serve, "serve"),
    joinFlags: taskRunFlags(TASKS.join, "join"),
  };
  const key = await sha256(
    new TextEncoder().encode(runtimeKeyInput(layout.runtime.sha256, layout.program.sha256)),
  );
  const header = new TextEncoder().encode(renderHeader(layout, key));
  const bytes = new Uint8Array(payloadRanges(header.length, layout).total);
  bytes.set(header);
  bytes.set(stored, header.length);
  bytes.set(program, header.length + stored.length);
  return { bytes, key, layout };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the file with `env -i`: a fresh HOME, a minimal PATH and nothing else. */
async function runFile(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  const out = await new Deno.Command("env", {
    args: ["-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), file, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

async function tree(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string, rel: string) => {
    for await (const entry of Deno.readDir(path)) {
      const name = rel === "" ? entry.name : `${rel}/${entry.name}`;
      found.push(name);
      if (entry.isDirectory) await walk(`${path}/${entry.name}`, name);
    }
  };
  await walk(dir, "");
  return found.sort();
}

async function withFile(
  fn: (file: string, home: string, build: FakeBuild) => Promise<void>,
  damage?: (bytes: Uint8Array, build: FakeBuild) => void,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "peerstream-dist-layout-" });
  try {
    const build = await fakeBuild();
    damage?.(build.bytes, build);
    const file = `${root}/bin/peerstream`;
    await Deno.mkdir(`${root}/bin`);
    await Deno.mkdir(`${root}/home`);
    await Deno.writeFile(file, build.bytes, { mode: 0o755 });
    await fn(file, `${root}/home`, build);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const PATH = "/usr/bin:/bin";

Deno.test("the script unpacks once into the cache folder, then runs the runtime with each task's flags", async () => {
  await withFile(async (file, home, { key, layout }) => {
    const dir = `${home}/.cache/peerstream/runtime-${key}`;
    const first = await runFile(file, ["serve", "--port", "0", "a b", "$HOME"], {
      HOME: home,
      PATH,
    });
    equal(first.code, 0, first.stderr);
    equal(first.stderr, `peerstream: unpacking Deno 2.9.6 and the program into ${dir} (once)\n`);
    const args = (run: Run) =>
      run.stdout.split("\n").filter((l) => l.startsWith("arg:")).map((l) => l.slice(4));
    deepEqual(args(first), [
      "run",
      ...ISOLATION_FLAGS,
      ...layout.serveFlags,
      `${dir}/${PROGRAM_FILE}`,
      "serve",
      "--port",
      "0",
      "a b",
      "$HOME",
    ]);
    match(first.stdout, new RegExp(`^env:DENO_DIR=${dir}/deno_dir$`, "m"));
    match(first.stdout, /^env:DENO_NO_UPDATE_CHECK=1$/m);
    deepEqual(await tree(home), [
      ".cache",
      ".cache/peerstream",
      `.cache/peerstream/runtime-${key}`,
      `.cache/peerstream/runtime-${key}/${RUNTIME_FILE}`,
      `.cache/peerstream/runtime-${key}/${PROGRAM_FILE}`,
    ]);
    equal(await Deno.readTextFile(`${dir}/${RUNTIME_FILE}`), FAKE_RUNTIME);
    equal(await Deno.readTextFile(`${dir}/${PROGRAM_FILE}`), PROGRAM);

    // Later runs reuse the folder and say nothing.
    const join = await runFile(file, ["join", "--name", "ann"], { HOME: home, PATH });
    equal(join.code, 0);
    equal(join.stderr, "");
    deepEqual(args(join), [
      "run",
      ...ISOLATION_FLAGS,
      ...layout.joinFlags,
      `${dir}/${PROGRAM_FILE}`,
      "join",
      "--name",
      "ann",
    ]);
    // Anything else (help, --version, a mistake) runs with no permission at all.
    for (const other of [["--version"], ["help", "serve"], []]) {
      const run = await runFile(file, other, { HOME: home, PATH });
      deepEqual(args(run), ["run", ...ISOLATION_FLAGS, `${dir}/${PROGRAM_FILE}`, ...other]);
    }
  });
});

Deno.test("the script honours XDG_CACHE_HOME, and says what to set when neither it nor HOME is set", async () => {
  await withFile(async (file, home, { key }) => {
    const run = await runFile(file, ["--version"], { XDG_CACHE_HOME: `${home}/xdg`, PATH });
    equal(run.code, 0, run.stderr);
    deepEqual(await tree(`${home}/xdg`), [
      "peerstream",
      `peerstream/runtime-${key}`,
      `peerstream/runtime-${key}/${RUNTIME_FILE}`,
      `peerstream/runtime-${key}/${PROGRAM_FILE}`,
    ]);
    const neither = await runFile(file, ["--version"], { PATH });
    equal(neither.code, 1);
    equal(
      neither.stderr,
      "error: Cannot start peerstream: neither XDG_CACHE_HOME nor HOME is set; set HOME\n",
    );
  });
});

Deno.test("the script refuses a damaged file and leaves nothing behind", async () => {
  const damages: [string, (bytes: Uint8Array, build: FakeBuild) => void][] = [
    ["a byte of the program", (bytes) => bytes[bytes.length - 3] ^= 1],
    ["a byte of the runtime", (bytes, b) => bytes[bytes.length - b.layout.program.bytes - 12] ^= 1],
  ];
  for (const [what, damage] of damages) {
    await withFile(async (file, home) => {
      const run = await runFile(file, ["serve"], { HOME: home, PATH });
      equal(run.code, 1, what);
      match(run.stderr, /error: Cannot unpack peerstream: ".*" is damaged \(a checksum differs\)/);
      equal(run.stdout, "", what);
      // The temporary folder is gone, and no runtime folder was made.
      deepEqual(await tree(home), [".cache", ".cache/peerstream"], what);
    }, damage);
  }
  // A truncated file (a download cut short) too.
  await withFile(async (file, home) => {
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.subarray(0, bytes.length - 5));
    const run = await runFile(file, ["serve"], { HOME: home, PATH });
    equal(run.code, 1);
    match(run.stderr, /is damaged/);
    deepEqual(await tree(home), [".cache", ".cache/peerstream"]);
  });
});

Deno.test("the script's first runs, started together, all run and leave one folder", async () => {
  await withFile(async (file, home, { key }) => {
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => runFile(file, ["join", `n${i}`], { HOME: home, PATH })),
    );
    for (const [i, run] of runs.entries()) {
      equal(run.code, 0, run.stderr);
      match(run.stdout, new RegExp(`^arg:n${i}$`, "m"));
    }
    deepEqual(await tree(`${home}/.cache/peerstream`), [
      `runtime-${key}`,
      `runtime-${key}/${RUNTIME_FILE}`,
      `runtime-${key}/${PROGRAM_FILE}`,
    ]);
  });
});

Deno.test("the script says what to do when its folder was left incomplete or may not run programs", async () => {
  await withFile(async (file, home, { key }) => {
    const dir = `${home}/.cache/peerstream/runtime-${key}`;
    await Deno.mkdir(dir, { recursive: true });
    const run = await runFile(file, ["serve"], { HOME: home, PATH });
    equal(run.code, 1);
    equal(
      run.stderr,
      `error: Cannot start peerstream: "${dir}" is incomplete; remove that folder and run again\n`,
    );
    // As a noexec mount looks to access(2), for a user other than root: not executable.
    await Deno.remove(dir);
    equal((await runFile(file, ["serve"], { HOME: home, PATH })).code, 0);
    await Deno.chmod(`${dir}/${RUNTIME_FILE}`, 0o644);
    const noexec = await runFile(file, ["serve"], { HOME: home, PATH });
    equal(noexec.code, 1);
    match(
      noexec.stderr,
      /^error: Cannot start peerstream: ".*\/deno" may not be run \(a noexec mount\?\); set XDG_CACHE_HOME/,
    );
  });
});

Deno.test("the script copes with spaces and quotes in the cache folder's path", async () => {
  await withFile(async (file, home, { key, layout }) => {
    const xdg = `${home}/it's a "cache"`;
    const run = await runFile(file, ["serve", "x"], { XDG_CACHE_HOME: xdg, PATH });
    equal(run.code, 0, run.stderr);
    match(run.stdout, new RegExp(`^arg:${layout.serveFlags.at(-1)}$`, "m"));
    ok((await Deno.stat(`${xdg}/peerstream/runtime-${key}/${PROGRAM_FILE}`)).isFile);
    equal((await runFile(file, ["serve", "x"], { XDG_CACHE_HOME: xdg, PATH })).stderr, "");
  });
});

Deno.test("the script needs no command but SCRIPT_TOOLS", async () => {
  await withFile(async (file, home, { key }) => {
    // A PATH holding only those commands (env, which starts it, is the caller's).
    const bin = `${home}/../only`;
    await Deno.mkdir(bin);
    for (const tool of SCRIPT_TOOLS) {
      const found = await new Deno.Command("sh", {
        args: ["-c", `command -v ${tool}`],
        stdout: "piped",
      })
        .output();
      ok(found.success, `${tool} is not installed`);
      await Deno.symlink(new TextDecoder().decode(found.stdout).trim(), `${bin}/${tool}`);
    }
    const env = { HOME: home, PATH: bin };
    for (const expectUnpack of [true, false]) {
      const run = await runFile(file, ["join", "x"], env);
      equal(run.code, 0, run.stderr);
      equal(run.stderr !== "", expectUnpack, run.stderr);
      match(run.stdout, /^arg:x$/m);
    }
    ok((await Deno.stat(`${home}/.cache/peerstream/runtime-${key}/${RUNTIME_FILE}`)).isFile);
    // Without one of them, it says which, and does nothing.
    await Deno.remove(`${home}/.cache`, { recursive: true });
    for (const tool of SCRIPT_TOOLS.filter((t) => t !== "sh")) {
      await Deno.rename(`${bin}/${tool}`, `${bin}/_${tool}`);
      const without = await runFile(file, ["join", "x"], env);
      equal(without.code, 1, tool);
      equal(
        without.stderr,
        `error: Cannot start peerstream: "${tool}" is not on the PATH; put it there (every Debian has it)\n`,
      );
      await Deno.rename(`${bin}/_${tool}`, `${bin}/${tool}`);
    }
    deepEqual(await tree(home), []);
  });
});

Deno.test("the script sweeps temporary folders a killed first run left an hour ago, not newer ones", async () => {
  await withFile(async (file, home, { key }) => {
    const cache = `${home}/.cache/peerstream`;
    // As a run killed while unpacking leaves them; and one another run is writing right now.
    for (const name of [".runtime-old.AAAAAA", ".runtime-now.BBBBBB"]) {
      await Deno.mkdir(`${cache}/${name}`, { recursive: true });
      await Deno.writeTextFile(`${cache}/${name}/deno`, "partial");
    }
    const hourAgo = new Date(Date.now() - 61 * 60_000);
    await Deno.utime(`${cache}/.runtime-old.AAAAAA`, hourAgo, hourAgo);
    const run = await runFile(file, ["join"], { HOME: home, PATH });
    equal(run.code, 0, run.stderr);
    deepEqual(await tree(cache), [
      ".runtime-now.BBBBBB",
      ".runtime-now.BBBBBB/deno",
      `runtime-${key}`,
      `runtime-${key}/${RUNTIME_FILE}`,
      `runtime-${key}/${PROGRAM_FILE}`,
    ]);
  });
});
