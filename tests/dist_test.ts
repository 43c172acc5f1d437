/**
 * Issue 23: `deno task dist` makes one file to hand out. Built once for this file (the real task,
 * self-extracting: no `denort` is reachable here), copied alone into an empty folder and run with
 * `env -i`: a fresh HOME, a PATH without Deno, nothing else. `serve` makes its samples, serves the
 * page, two `join`s from the same file chat and one plays a title into a real decoder; two nodes
 * share a real Redis. The build fails this file, never skips it, when the runtime package is
 * missing.
 * @module
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { LineReader, LOOPBACK_LIMITS } from "./_helpers.ts";
import { RedisServer } from "./_redis.ts";
import { TEST_CLUSTER_LIMITS } from "./_cluster.ts";
import { ISOLATION_FLAGS, PROGRAM_FILE, RUNTIME_FILE, taskRunFlags } from "../tools/dist_layout.ts";
import { pinnedDenoVersion, runtimePackagePath } from "../tools/dist.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CONFIG = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
/** The Deno the file carries: the one ./run pins. */
const DENO_VERSION = pinnedDenoVersion(Deno.readTextFileSync(`${ROOT}run`));
/** What a stock Debian has on its PATH: no Deno there (checked below). */
const PATH = "/usr/bin:/bin";

interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno task -q dist ARGS` in the checkout, as a person would. */
async function runDistTask(args: string[], env: Record<string, string> = {}): Promise<TaskRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "dist", ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(150_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

interface Built {
  file: string;
  size: number;
  sha256: string;
  commit: string;
  /** The key of the folder it unpacks into (from its header). */
  key: string;
}

const WORK = Deno.makeTempDirSync({ prefix: "peerstream-dist-test-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(WORK, { recursive: true });
  } catch {
    // A failed test's child may still hold a file there; the system cleans temporary folders.
  }
});

async function build(output: string): Promise<Built> {
  const run = await runDistTask(["--self-extracting", "--output", output]);
  equal(run.code, 0, `deno task dist failed:\n${run.stderr}`);
  const commit = /, commit ([0-9a-f]{40}(?:-dirty)?)$/m.exec(run.stdout)?.[1];
  const size = /^size: (\d+) bytes$/m.exec(run.stdout)?.[1];
  const sha256 = /^sha256: ([0-9a-f]{64})$/m.exec(run.stdout)?.[1];
  ok(commit && size && sha256, run.stdout);
  match(run.stdout, /self-extracting/);
  const head = new TextDecoder().decode((await Deno.readFile(output)).subarray(0, 8192));
  const key = /^ps_key=([0-9a-f]{64})$/m.exec(head)?.[1];
  ok(key, "no ps_key in the header");
  return { file: output, size: Number(size), sha256, commit, key };
}

let first: Promise<Built> | undefined;
/** The file every test here uses, built once. */
function built(): Promise<Built> {
  first ??= build(`${WORK}/build/peerstream`);
  return first;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

async function gitCommit(): Promise<string> {
  const git = (args: string[]) =>
    new Deno.Command("git", { args, cwd: ROOT, stdout: "piped" }).output().then((o) =>
      new TextDecoder().decode(o.stdout).trim()
    );
  const head = await git(["rev-parse", "HEAD"]);
  return (await git(["status", "--porcelain"])) === "" ? head : `${head}-dirty`;
}

/** A process of the file run with `env -i`. */
interface FileProcess {
  child: Deno.ChildProcess;
  out: LineReader;
  err: LineReader;
  type(line: string): Promise<void>;
  /** Ends it (closing stdin, or a signal) and waits; SIGKILL after a deadline. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Where and how the file runs. */
interface FileOptions {
  /** A fresh HOME; TMPDIR is `tmp` beside it (checked to stay empty). */
  home: string;
  cwd: string;
  env?: Record<string, string>;
  /** Run it in a network namespace of its own, with no network at all. */
  offline?: boolean;
}

function spawnFile(file: string, args: string[], options: FileOptions): FileProcess {
  const env = {
    HOME: options.home,
    PATH,
    TMPDIR: `${options.home}/../tmp`,
    NO_COLOR: "1",
    ...options.env,
  };
  const command = [
    // A user namespace too, so that this works without root where user namespaces are allowed.
    ...(options.offline ? ["unshare", "--user", "--map-root-user", "--net"] : []),
    "env",
    "-i",
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    file,
    ...args,
  ];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: options.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const out = new LineReader(child.stdout);
  const err = new LineReader(child.stderr);
  let stopped: Promise<number> | undefined;
  return {
    child,
    out,
    err,
    type: (line) => writer.write(new TextEncoder().encode(`${line}\n`)),
    stop(signal) {
      stopped ??= (async () => {
        await writer.close().catch(() => {});
        if (signal !== undefined) {
          try {
            child.kill(signal);
          } catch {
            // Already exited.
          }
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already exited.
          }
        }, 30_000);
        const status = await child.status;
        clearTimeout(timer);
        await Promise.all([out.done, err.done]);
        return status.code;
      })();
      return stopped;
    },
  };
}

/** Runs the file to its end with `env -i`. */
async function runFile(file: string, args: string[], options: FileOptions): Promise<TaskRun> {
  const process = spawnFile(file, args, options);
  const code = await process.stop();
  const text = (reader: LineReader) => reader.lines.join("\n").trimEnd();
  return { code, stdout: text(process.out), stderr: text(process.err) };
}

/** Runs `./run ARGS` (the reference the file must match). */
async function runScript(args: string[]): Promise<TaskRun> {
  const out = await new Deno.Command(`${ROOT}run`, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trimEnd();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The folder's entries, recursively, sorted; `depth` levels at most. */
async function tree(dir: string, depth: number): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string, rel: string, level: number) => {
    for await (const entry of Deno.readDir(path)) {
      const name = rel === "" ? entry.name : `${rel}/${entry.name}`;
      found.push(name);
      if (entry.isDirectory && level < depth) await walk(`${path}/${entry.name}`, name, level + 1);
    }
  };
  await walk(dir, "", 1);
  return found.sort();
}

/**
 * The command line a process runs now (after the script's `exec`). Read by `cat`: Deno asks for
 * --allow-all to read another process's /proc entries, and the test task does not grant it.
 */
async function cmdline(pid: number): Promise<string[]> {
  const read = await new Deno.Command("cat", { args: [`/proc/${pid}/cmdline`], stderr: "piped" })
    .output();
  equal(read.code, 0, new TextDecoder().decode(read.stderr));
  return new TextDecoder().decode(read.stdout).split("\0").slice(0, -1);
}

/** An empty folder holding only a copy of the file, and a fresh HOME. */
async function handOut(name: string): Promise<{ file: string; folder: string; home: string }> {
  const { file } = await built();
  const folder = `${WORK}/${name}/empty`;
  const home = `${WORK}/${name}/home`;
  await Deno.mkdir(folder, { recursive: true });
  await Deno.mkdir(home, { recursive: true });
  await Deno.mkdir(`${WORK}/${name}/tmp`, { recursive: true });
  await Deno.copyFile(file, `${folder}/peerstream`);
  await Deno.chmod(`${folder}/peerstream`, 0o755);
  deepEqual(await tree(folder, 1), ["peerstream"]);
  return { file: `${folder}/peerstream`, folder, home };
}

Deno.test("deno task dist writes the same bytes twice, and prints their size and SHA-256", async () => {
  const a = await built();
  const b = await build(`${WORK}/again/peerstream`);
  const [bytesA, bytesB] = await Promise.all([Deno.readFile(a.file), Deno.readFile(b.file)]);
  equal(a.size, bytesA.length);
  equal(a.sha256, await sha256(bytesA));
  equal(b.sha256, a.sha256, "two builds of one commit differ");
  ok(bytesA.every((byte, i) => byte === bytesB[i]));
  equal(a.commit, await gitCommit());
  // One file, executable, a sh script carrying more than the bundle: the runtime.
  equal((await Deno.stat(a.file)).mode! & 0o111, 0o111);
  ok(new TextDecoder().decode(bytesA.subarray(0, 10)) === "#!/bin/sh\n");
  ok(a.size > 30_000_000, `${a.size} bytes`);
});

/** Asserts that a process of the file runs the unpacked runtime with exactly a task's flags. */
async function assertTaskFlags(pid: number, subcommand: "serve" | "join", args: string[]) {
  const line = await cmdline(pid);
  match(line[0], new RegExp(`/\\.cache/peerstream/runtime-[0-9a-f]{64}/${RUNTIME_FILE}$`));
  deepEqual(line.slice(1), [
    "run",
    ...ISOLATION_FLAGS,
    ...taskRunFlags(CONFIG.tasks[subcommand], subcommand),
    line[0].replace(RUNTIME_FILE, PROGRAM_FILE),
    subcommand,
    ...args,
  ]);
}

/** The first run unpacks (offline) and prints the version; help and misuse are ./run's. */
async function assertVersionAndHelp(file: string, at: FileOptions) {
  const { commit, key } = await built();
  const version = await runFile(file, ["--version"], { ...at, offline: true });
  equal(version.code, 0, version.stderr);
  equal(version.stdout, `peerstream ${CONFIG.version} (commit ${commit}, Deno ${DENO_VERSION})`);
  equal(
    version.stderr,
    `peerstream: unpacking Deno ${DENO_VERSION} and the program into ${at.home}/.cache/peerstream/runtime-${key} (once)`,
  );
  // Nothing unpacked again (stderr would say so), and the same as ./run, exit codes included.
  for (const args of [["serve", "--help"], ["join", "--help"], ["serve", "--bogus"], ["join"]]) {
    const [mine, theirs] = await Promise.all([runFile(file, args, at), runScript(args)]);
    deepEqual(mine, theirs, args.join(" "));
  }
  const help = await runFile(file, ["--help"], at);
  equal(help.code, 0);
  match(help.stdout, /^peerstream \S+: end-to-end encrypted chat/);
}

/** Video frames in a framecrc file, and in a source file as ffprobe counts them. */
async function frames(crc: string, source: string): Promise<{ decoded: number; source: number }> {
  const decoded = (await Deno.readTextFile(crc)).split("\n").filter((l) => /^0,/.test(l)).length;
  const probe = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-count_frames", "-select_streams", "v:0"].concat(
      ["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", source],
    ),
    stdout: "piped",
  }).output();
  return { decoded, source: Number(new TextDecoder().decode(probe.stdout).trim()) };
}

/** Nothing written but the file's cache folder, the program's XDG folders; TMPDIR empty. */
async function assertWroteOnly(folder: string, home: string) {
  deepEqual(await tree(folder, 1), ["peerstream"]);
  deepEqual(await tree(`${home}/../tmp`, 1), []);
  const written = await tree(home, 3);
  deepEqual(written.filter((p) => !p.includes("/")), [".cache", ".config", ".local"]);
  const cached = written.filter((p) => p.startsWith(".cache/")).map((p) => p.split("/")[1]);
  deepEqual([...new Set(cached)], ["peerstream"]);
  equal(written.filter((p) => p.startsWith(".cache/peerstream/runtime-")).length, 1);
}

Deno.test("dist/peerstream alone with no deno on the PATH: --version, --help, the page, chat and a PLAY into a real decoder", async () => {
  const { file, folder, home } = await handOut("e2e");
  const which = await new Deno.Command("sh", {
    args: ["-c", "command -v deno"],
    env: { PATH },
    clearEnv: true,
  }).output();
  ok(!which.success, `deno is on ${PATH}: the test would prove nothing`);
  const at = { home, cwd: folder };
  await assertVersionAndHelp(file, at);

  const serveArgs = ["--host", "127.0.0.1", "--port", "0", "--web", "127.0.0.1:0"];
  const server = spawnFile(file, ["serve", ...serveArgs], {
    ...at,
    env: { PEERSTREAM_LIMITS: JSON.stringify(LOOPBACK_LIMITS) },
  });
  const clients: FileProcess[] = [];
  try {
    const listening = await server.out.waitFor(/^Listening on /, { timeoutMs: 60_000 });
    const port = Number(/:(\d+)$/.exec(listening)![1]);
    await assertTaskFlags(server.child.pid, "serve", serveArgs);

    // The page, from the file.
    const web = (await server.out.waitFor(/^Web page at /)).slice("Web page at ".length).trim();
    ok((await (await fetch(web)).text()).includes("/app.js"));
    const script = await (await fetch(`${web}app.js`)).text();
    ok(script.length > 50_000, `app.js is ${script.length} bytes`);
    // The samples, made with the ffmpeg found on the minimal PATH.
    await server.out.waitFor(/Prepared "pattern"/, { timeoutMs: 120_000 });

    const crc = `${WORK}/e2e/decoded.crc`;
    const join = (args: string[]) => {
      const client = spawnFile(file, ["join", ...args], at);
      clients.push(client);
      return client;
    };
    const at_ = ["--server", `127.0.0.1:${port}`];
    const ann = join([
      "--name",
      "ann",
      ...at_,
      "--player",
      `ffmpeg -v error -i pipe:0 -f framecrc ${crc}`,
    ]);
    await ann.out.waitFor(/^Joined /);
    const bobArgs = ["--name", "bob", ...at_, "--player", "none"];
    const bob = join(bobArgs);
    await bob.out.waitFor(/^Joined /);
    await ann.out.waitFor(/^\* bob joined$/);
    await assertTaskFlags(bob.child.pid, "join", bobArgs);

    await bob.type("MESSAGE ann hello from the one file");
    await ann.out.waitFor(/^<bob> hello from the one file$/);
    await bob.out.waitFor(/delivered to ann/);

    await ann.type("PLAY pattern");
    await ann.out.waitFor(/^\* finished "pattern"$/, { timeoutMs: 60_000 });
    await server.out.waitFor(/stream #\d+ "ann" pattern: finished/);
    for (const client of [ann, bob]) {
      await client.type("QUIT");
      equal(await client.stop(), 0, client.err.lines.join("\n"));
    }
    // The decoder decoded every frame of the title.
    const count = await frames(crc, `${home}/.cache/peerstream/samples/pattern.mp4`);
    ok(count.source > 100, `pattern has ${count.source} frames`);
    equal(count.decoded, count.source);
  } finally {
    await Promise.all(clients.map((c) => c.stop("SIGTERM")));
    equal(await server.stop("SIGTERM"), 0, server.err.lines.join("\n"));
  }
  await assertWroteOnly(folder, home);
});

Deno.test("dist/peerstream serve --redis: two nodes from the file share a real Redis and a message crosses them", async () => {
  const { file, folder, home } = await handOut("cluster");
  const redis = await RedisServer.start();
  const videos = `${WORK}/cluster/videos`;
  await Deno.mkdir(videos);
  const limits = JSON.stringify({ ...LOOPBACK_LIMITS, ...TEST_CLUSTER_LIMITS });
  const processes: FileProcess[] = [];
  try {
    const ports: number[] = [];
    for (const node of ["n0", "n1"]) {
      const server = spawnFile(file, [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--videos",
        videos,
        "--redis",
        redis.url,
        "--node",
        node,
      ], { home, cwd: folder, env: { PEERSTREAM_LIMITS: limits } });
      processes.push(server);
      const listening = await server.out.waitFor(/^Listening on /, { timeoutMs: 60_000 });
      ports.push(Number(/:(\d+)$/.exec(listening)![1]));
    }
    const join = (name: string, port: number) => {
      const client = spawnFile(file, [
        "join",
        "--name",
        name,
        "--server",
        `127.0.0.1:${port}`,
        "--player",
        "none",
        "--ephemeral",
      ], { home, cwd: folder });
      processes.push(client);
      return client;
    };
    const ann = join("ann", ports[0]);
    await ann.out.waitFor(/^Joined /);
    const bob = join("bob", ports[1]);
    await bob.out.waitFor(/^Joined /);
    await ann.out.waitFor(/^\* bob joined$/);
    await bob.type("MESSAGE ann across the cluster");
    await ann.out.waitFor(/^<bob> across the cluster$/);
    await bob.out.waitFor(/delivered to ann/);
  } finally {
    // Clients first: a client whose server went away first exits 1, and says so.
    const clients = await Promise.all(processes.slice(2).map((p) => p.stop("SIGTERM")));
    const servers = await Promise.all(processes.slice(0, 2).map((p) => p.stop("SIGTERM")));
    await redis.close();
    const codes = [...servers, ...clients];
    deepEqual(codes, codes.map(() => 0));
  }
});

Deno.test("deno task dist refuses deno compile's output when DENORT_BIN is deno itself", async () => {
  // Where a denort is at hand the task uses deno compile. The one at hand here is the deno
  // binary, which makes a file that is just the Deno CLI: the task must notice and say so.
  const deno = runtimePackagePath(DENO_VERSION, Deno.env.toObject());
  const run = await runDistTask(["--output", `${WORK}/compiled/peerstream`], { DENORT_BIN: deno });
  equal(run.code, 1, run.stdout);
  match(run.stderr, /^error: Cannot use deno compile's output: its --version says "deno \d/);
  match(run.stderr, /unset DENORT_BIN for the self-extracting file/);
  // Nothing half-made is left where the file would go.
  deepEqual(await tree(`${WORK}/compiled`, 1).catch(() => []), []);
});

Deno.test("deno task dist fails, and says how to get it, when the runtime package is missing", async () => {
  const tools = `${WORK}/no-tools`;
  await Deno.mkdir(tools, { recursive: true });
  const run = await runDistTask(["--self-extracting", "--output", `${WORK}/none/peerstream`], {
    PEERSTREAM_TOOLS: tools,
  });
  equal(run.code, 1);
  match(
    run.stderr,
    /^error: Cannot find Deno [\d.]+'s runtime at ".*no-tools\/deno-[\d.]+\/node_modules\/@deno\/linux-x64-glibc\/deno" .*; run \.\/run once/,
  );
});
