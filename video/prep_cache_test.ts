import assert from "node:assert/strict";
import type { Title } from "./library_scan.ts";
import type { ProbeInfo } from "./ffmpeg_parse.ts";
import {
  PREPARATION_VERSION,
  preparationKey,
  sweepStaleFolders,
  temporaryFolder,
} from "./prep_cache.ts";

Deno.test("`sweepStaleFolders()` removes only temporary folders untouched for staleMs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_sweep_" });
  try {
    assert.deepEqual(await sweepStaleFolders(dir), [], "no prepared folder yet");
    const root = `${dir}/prepared`;
    for (const name of [".tmp-old-1", ".tmp-fresh-2", "0123abcd", ".tmp-file"]) {
      if (name === ".tmp-file") await Deno.writeTextFile(`${root}/${name}`, "");
      else await Deno.mkdir(`${root}/${name}/r0`, { recursive: true });
    }
    const now = Date.now();
    const old = new Date(now - 10 * 60_000);
    await Deno.utime(`${root}/.tmp-old-1`, old, old);
    await Deno.utime(`${root}/0123abcd`, old, old);
    assert.deepEqual(await sweepStaleFolders(dir, { staleMs: 60_000, now }), [".tmp-old-1"]);
    const left = [];
    for await (const e of Deno.readDir(root)) left.push(e.name);
    assert.deepEqual(left.sort(), [".tmp-file", ".tmp-fresh-2", "0123abcd"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A title of two sources written as plain files: the key only reads their size and mtime. */
async function fakeTitle(dir: string): Promise<Title> {
  const probe = (height: number): ProbeInfo => ({
    duration: 3,
    width: Math.round((height * 16) / 9),
    height,
    videoCodec: "h264",
    audioCodec: "aac",
    fps: 25,
    bitrate: 0,
    pixFmt: "yuv420p",
  });
  const renditions = [];
  for (const height of [160, 240]) {
    const path = `${dir}/dog_${height}p.mp4`;
    await Deno.writeTextFile(path, `source ${height}`);
    renditions.push({ height, width: probe(height).width, path, probe: probe(height) });
  }
  return { name: "dog", duration: 3, hasAudio: true, renditions };
}

Deno.test("`preparationKey()` changes with the encoder settings, the sources and the preparation version", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_key_" });
  try {
    const dog = await fakeTitle(dir);
    const key = await preparationKey(dog, "h264", 2);
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(await preparationKey(dog, "h264", 2), key, "stable");
    assert.notEqual(await preparationKey(dog, "h264", 1), key, "segment length");
    assert.notEqual(await preparationKey(dog, "mjpeg", 2), key, "codec");
    // Another frame rate changes the encoder's arguments (-r, keyframe interval).
    const faster = {
      ...dog,
      renditions: dog.renditions.map((r) => ({ ...r, probe: { ...r.probe, fps: 50 } })),
    };
    assert.notEqual(await preparationKey(faster, "h264", 2), key, "encoder settings");
    const later = new Date(Date.now() + 60_000);
    await Deno.utime(dog.renditions[0].path, later, later);
    assert.notEqual(await preparationKey(dog, "h264", 2), key, "a source's mtime");
    assert.equal(PREPARATION_VERSION, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`temporaryFolder()` names a fresh .tmp- folder beside the final one, per call", () => {
  const key = "0123456789abcdef".repeat(4);
  const a = temporaryFolder("/c/prepared", key);
  assert.match(a, /^\/c\/prepared\/\.tmp-0123456789abcdef-[0-9a-f]{8}$/);
  assert.notEqual(temporaryFolder("/c/prepared", key), a);
});
