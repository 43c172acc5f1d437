import assert from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { ensureSampleLibrary, scanLibrary } from "./library_scan.ts";
import { makeClip } from "./_test_media.ts";

Deno.test("`scanLibrary()` finds renditions and single files and skips junk with warnings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_lib_" });
  try {
    await Promise.all([
      makeClip(`${dir}/dog_160p.mp4`, { height: 160, seconds: 2 }),
      makeClip(`${dir}/dog_240p.mp4`, { height: 240, seconds: 2 }),
      makeClip(`${dir}/clip.mkv`, { height: 160, seconds: 2, toneHz: null }),
    ]);
    await Deno.writeTextFile(`${dir}/notes.txt`, "hello");
    await Deno.writeTextFile(`${dir}/broken.mp4`, "not a video");
    await Deno.writeTextFile(`${dir}/.hidden.mp4`, "hidden");
    await Deno.mkdir(`${dir}/sub_240p.mp4`);
    const warnings: string[] = [];
    const titles = await scanLibrary(dir, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(titles.map((t) => t.name), ["clip", "dog"]);
    const [clip, dog] = titles;
    assert.equal(clip.hasAudio, false);
    assert.deepEqual(clip.renditions.map((r) => [r.width, r.height]), [[284, 160]]);
    assert.equal(clip.renditions[0].path, `${dir}/clip.mkv`);
    assert.equal(dog.hasAudio, true);
    assert.deepEqual(dog.renditions.map((r) => r.height), [160, 240]);
    assert.ok(Math.abs(dog.duration - 2) < 0.1);
    assert.equal(dog.renditions[1].probe.videoCodec, "h264");
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.ok(warnings.some((w) => w.startsWith('Skipping "notes.txt": not a video file name')));
    assert.ok(warnings.some((w) => /^Skipping "broken\.mp4": Cannot probe /.test(w)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`scanLibrary()` rejects a missing folder with VIDEO_NOT_FOUND", async () => {
  await assert.rejects(
    scanLibrary("/nonexistent/videos"),
    (e: unknown) =>
      e instanceof PeerstreamError && e.code === "VIDEO_NOT_FOUND" &&
      /^Cannot read video folder "\/nonexistent\/videos": .*; check the --videos path$/.test(
        e.message,
      ),
  );
});

Deno.test("`scanLibrary()` warns when a suffix does not match the probed height", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_lib_" });
  try {
    await makeClip(`${dir}/x_720p.mp4`, { height: 160, seconds: 1 });
    const warnings: string[] = [];
    const titles = await scanLibrary(dir, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(titles[0].renditions.map((r) => r.height), [160]);
    assert.deepEqual(warnings, ['File "x_720p.mp4" is 160p, not 720p; using 160p']);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`scanLibrary()` fails clearly when ffprobe is missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_lib_" });
  Deno.env.set("PEERSTREAM_FFPROBE", "/nonexistent/ffprobe");
  try {
    await Deno.writeTextFile(`${dir}/a.mp4`, "x");
    await assert.rejects(
      scanLibrary(dir),
      (e: unknown) =>
        e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
        /^Cannot run "ffprobe": not found; /.test(e.message),
    );
  } finally {
    Deno.env.delete("PEERSTREAM_FFPROBE");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`ensureSampleLibrary()` generates samples once and reuses them", async () => {
  const cache = await Deno.makeTempDir({ prefix: "peerstream_samples_" });
  try {
    const titles = [
      { name: "tiny", pattern: "testsrc2" as const, seconds: 2, heights: [160, 240], toneHz: 440 },
      {
        name: "one",
        pattern: "smptebars" as const,
        seconds: 1,
        heights: [240],
        single: true,
        toneHz: null,
      },
    ];
    const progress: string[] = [];
    const dir = await ensureSampleLibrary(cache, { titles, onProgress: (m) => progress.push(m) });
    assert.equal(dir, `${cache}/samples`);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["one.mp4", "tiny_160p.mp4", "tiny_240p.mp4"]);
    assert.deepEqual(progress, ['Generating sample "tiny"', 'Generating sample "one"']);
    const mtime = (await Deno.stat(`${dir}/tiny_160p.mp4`)).mtime;
    progress.length = 0;
    await ensureSampleLibrary(cache, { titles, onProgress: (m) => progress.push(m) });
    assert.deepEqual(progress, []);
    assert.deepEqual((await Deno.stat(`${dir}/tiny_160p.mp4`)).mtime, mtime);
    const scanned = await scanLibrary(dir);
    assert.deepEqual(scanned.map((t) => [t.name, t.renditions.map((r) => r.height)]), [
      ["one", [240]],
      ["tiny", [160, 240]],
    ]);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("`ensureSampleLibrary()` leaves no temporary file when ffmpeg is missing", async () => {
  const cache = await Deno.makeTempDir({ prefix: "peerstream_samples_" });
  Deno.env.set("PEERSTREAM_FFMPEG", "/nonexistent/ffmpeg");
  try {
    await assert.rejects(
      ensureSampleLibrary(cache),
      (e: unknown) =>
        e instanceof PeerstreamError && /^Cannot run "ffmpeg": not found; /.test(e.message),
    );
    const names = [];
    for await (const e of Deno.readDir(`${cache}/samples`)) names.push(e.name);
    assert.deepEqual(names, []);
  } finally {
    Deno.env.delete("PEERSTREAM_FFMPEG");
    await Deno.remove(cache, { recursive: true });
  }
});
