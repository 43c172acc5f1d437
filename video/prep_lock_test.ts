import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { isPreparing, lockPath, lockPreparation } from "./prep_lock.ts";
import { makeClip } from "./_test_media.ts";
import { MANIFEST_NAME } from "./prepared_title.ts";
import { LineReader, PROGRAM_PERMISSIONS } from "../tests/_helpers.ts";
import { until } from "../tests/_util.ts";

const CHILD = new URL("./_prepare_child.ts", import.meta.url).pathname;
const KEY = "0123456789abcdef0123456789abcdef";

Deno.test("lockPreparation() makes a second holder wait until the first releases", async () => {
  const root = await Deno.makeTempDir();
  try {
    equal(await isPreparing(root, KEY), false);
    const first = await lockPreparation(root, KEY);
    equal(await isPreparing(root, KEY), true);
    equal(await isPreparing(root, KEY.slice(0, 16)), true);
    let waits = 0;
    let second = false;
    // The waiter checks its signal after each pause between tries: counting those checks shows
    // its tries as events, so "still waiting" is proven after several tries, not after a sleep.
    const signal = new AbortController().signal;
    let checks = 0;
    const check = signal.throwIfAborted.bind(signal);
    signal.throwIfAborted = () => {
      checks++;
      check();
    };
    const waiting = lockPreparation(root, KEY, { onWait: () => waits++, pollMs: 20, signal }).then(
      (lock) => {
        second = true;
        return lock;
      },
    );
    // Two checks per try: three more tries after the first, all refused while the first holds.
    await until(() => checks >= 8, { ms: 10_000, what: "the waiter to try four times" });
    equal(second, false);
    equal(waits, 1);
    await first.release();
    await first.release();
    const lock = await waiting;
    equal(waits, 1);
    await lock.release();
    equal(await isPreparing(root, KEY), false);
    // The lock file stays (deleting it could let two holders in).
    ok((await Deno.stat(lockPath(root, KEY))).isFile);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lockPreparation() stops waiting when its signal aborts", async () => {
  const root = await Deno.makeTempDir();
  try {
    const first = await lockPreparation(root, KEY);
    const abort = new AbortController();
    const waiting = lockPreparation(root, KEY, { signal: abort.signal, pollMs: 20 });
    abort.abort(new Error("closing"));
    await rejects(waiting, /closing/);
    await first.release();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function prepareInChild(videos: string, cache: string, env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PROGRAM_PERMISSIONS, CHILD, videos, cache],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, out: new LineReader(child.stdout), err: new LineReader(child.stderr) };
}

async function listTmp(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(".tmp-")) out.push(entry.name);
  }
  return out;
}

Deno.test("two processes sharing a cache prepare one title once and both get the result", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-shared-" });
  try {
    await Deno.mkdir(`${dir}/videos`);
    await makeClip(`${dir}/videos/clip.mp4`, { height: 240, seconds: 4, toneHz: 440 });
    const a = prepareInChild(`${dir}/videos`, `${dir}/cache`);
    const b = prepareInChild(`${dir}/videos`, `${dir}/cache`);
    const [sa, sb] = await Promise.all([a.child.status, b.child.status]);
    await Promise.all([a.out.done, a.err.done, b.out.done, b.err.done]);
    equal(sa.code, 0, a.err.lines.join("\n"));
    equal(sb.code, 0, b.err.lines.join("\n"));
    const lines = [...a.out.lines, ...b.out.lines];
    const results = lines.filter((l) => l.startsWith("prepared clip "));
    equal(results.length, 2);
    equal(results[0], results[1]);
    // One of them encoded; the other waited and read the result.
    equal(lines.filter((l) => /^log Preparing "clip" by encoding/.test(l)).length, 1);
    equal(lines.filter((l) => /^log Waiting for another server/.test(l)).length, 1);
    const final = results[0].split(" ")[2];
    const manifest = JSON.parse(await Deno.readTextFile(`${final}/${MANIFEST_NAME}`));
    equal(manifest.name, "clip");
    deepEqual(await listTmp(`${dir}/cache/prepared`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a killed preparer frees the title at once; its live work was never touched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-shared-" });
  try {
    await Deno.mkdir(`${dir}/videos`);
    await makeClip(`${dir}/videos/long.mp4`, { height: 240, seconds: 2 });
    const root = `${dir}/cache/prepared`;
    // A's "ffmpeg" never finishes (it waits for its parent to die), so A is caught mid-work.
    const stuck = `${dir}/stuck-ffmpeg`;
    await Deno.writeTextFile(
      stuck,
      "#!/bin/sh\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.1; done\n",
    );
    await Deno.chmod(stuck, 0o755);
    const a = prepareInChild(`${dir}/videos`, `${dir}/cache`, { PEERSTREAM_FFMPEG: stuck });
    await a.out.waitFor(/^log Preparing "long"/, { timeoutMs: 30_000 });
    const [tmp] = await listTmp(root);
    match(tmp, /^\.tmp-[0-9a-f]{16}-/);
    const key16 = tmp.slice(5, 21);
    // While A lives, its folder is work in progress: a cleaner must leave it.
    equal(await isPreparing(`${dir}/cache/locks`, key16), true);
    a.child.kill("SIGKILL");
    await a.child.status;
    await Promise.all([a.out.done, a.err.done]);
    equal(await isPreparing(`${dir}/cache/locks`, key16), false);
    const b = prepareInChild(`${dir}/videos`, `${dir}/cache`);
    const status = await b.child.status;
    await Promise.all([b.out.done, b.err.done]);
    equal(status.code, 0, b.err.lines.join("\n"));
    equal(b.out.lines.filter((l) => /^log Waiting for another server/.test(l)).length, 0);
    ok(b.out.lines.some((l) => l.startsWith("prepared long ")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
