import assert from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { scanLibrary, type Title } from "./library.ts";
import {
  checkAlignment,
  MANIFEST_NAME,
  maxBitrateFor,
  planLadder,
  prepareTitle,
} from "./segmenter.ts";
import { ContinuityFixer, isValidTsSegment } from "./ts_packet.ts";
import { firstFrameIsKey, makeClip, pipeThrough } from "./_test_media.ts";

Deno.test("`planLadder()` derives at most 3 heights from one source and keeps several sources", () => {
  const table: [number[], number[]][] = [
    [[1080], [240, 480, 1080]],
    [[720], [240, 480, 720]],
    [[480], [240, 360, 480]],
    [[360], [240, 360]],
    [[300], [240]],
    [[240], [240]],
    [[160], [160]],
    [[161], [160]],
    [[160, 240, 720], [160, 240, 720]],
  ];
  for (const [sources, want] of table) {
    assert.deepEqual(planLadder(sources).map((s) => s.height), want, sources.join(","));
  }
  assert.deepEqual(planLadder([160, 240]).map((s) => s.source), [0, 1]);
});

Deno.test("`checkAlignment()` reports count and boundary differences", () => {
  const d = (...xs: number[]) => xs.map((duration) => ({ duration }));
  assert.equal(checkAlignment([d(2, 2, 1), d(2, 2, 1)], 0.02), null);
  assert.equal(checkAlignment([d(2, 2, 1), d(2.01, 1.99, 1)], 0.02), null);
  assert.match(
    checkAlignment([d(2, 2), d(2, 2, 1)], 0.02)!,
    /rendition 1 has 3 segments, rendition 0 has 2/,
  );
  assert.match(checkAlignment([d(2, 2, 1), d(2, 1.5, 1.5)], 0.02)!, /^segment 1 of rendition 1/);
  assert.equal(checkAlignment([], 0.02), null);
});

Deno.test("`maxBitrateFor()` grows with height and has a floor", () => {
  assert.equal(maxBitrateFor(160), 300_000);
  assert.ok(maxBitrateFor(720) > maxBitrateFor(480));
});

async function withFixture(fn: (dir: string, titles: Title[]) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_seg_" });
  try {
    await Deno.mkdir(`${dir}/videos`);
    await Promise.all([
      makeClip(`${dir}/videos/dog_160p.mp4`, { height: 160, seconds: 3 }),
      makeClip(`${dir}/videos/dog_240p.mp4`, { height: 240, seconds: 3 }),
      makeClip(`${dir}/videos/solo.mp4`, { height: 240, seconds: 2, toneHz: null }),
    ]);
    await fn(dir, await scanLibrary(`${dir}/videos`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("`prepareTitle()` makes aligned H.264 segments that splice cleanly", async () => {
  await withFixture(async (dir, titles) => {
    const dog = titles.find((t) => t.name === "dog")!;
    const progress: number[] = [];
    const p = await prepareTitle(dog, {
      cacheDir: `${dir}/cache`,
      segmentSeconds: 1,
      onProgress: (f) => progress.push(f),
    });
    assert.equal(p.name, "dog");
    assert.equal(p.codec, "h264");
    assert.equal(p.container, "mpegts");
    assert.equal(p.hasAudio, true);
    assert.equal(p.fps, 25);
    assert.deepEqual(p.renditions.map((r) => [r.width, r.height]), [[284, 160], [426, 240]]);
    assert.equal(progress.at(-1), 1);
    assert.ok(progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1])));
    const [low, high] = p.renditions;
    assert.equal(low.segments.length, 3);
    assert.ok(Math.abs(p.duration - 3) < 0.05, String(p.duration));
    assert.deepEqual(
      low.segments.map((s) => [s.index, s.start, s.duration]),
      high.segments.map((s) => [s.index, s.start, s.duration]),
    );
    assert.ok(high.bitrate > 0 && low.bitrate > 0);
    for (const r of p.renditions) {
      for (const s of r.segments) {
        const bytes = await Deno.readFile(s.path);
        assert.equal(bytes.length, s.bytes);
        assert.ok(isValidTsSegment(bytes), s.path);
        assert.ok(await firstFrameIsKey(s.path), `${s.path} starts with a keyframe`);
      }
    }
    // Splice low -> high -> low through the fixer: no demuxer or decoder complaint.
    const fixer = new ContinuityFixer();
    const parts = [low.segments[0], high.segments[1], low.segments[2]];
    const chunks = await Promise.all(parts.map((s) => Deno.readFile(s.path)));
    const fixed = chunks.map((c) => fixer.fix(c));
    const stream = new Uint8Array(fixed.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of fixed) {
      stream.set(c, at);
      at += c.length;
    }
    const decode = await pipeThrough(
      "ffmpeg",
      ["-v", "warning", "-err_detect", "explode", "-i", "pipe:0", "-f", "null", "-"],
      stream,
    );
    assert.equal(decode.code, 0, decode.stderr);
    assert.equal(decode.stderr.trim(), "");
    const sizes = await pipeThrough(
      "ffprobe",
      [
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "frame=width",
        "-of",
        "csv=p=0",
        "pipe:0",
      ],
      stream,
    );
    const widths = sizes.stdout.trim().split("\n").map((l) => Number(l.split(",")[0])).filter((
      w,
    ) => w > 0);
    assert.ok(widths.length >= 75 && widths.length <= 77, String(widths.length));
    const runs = widths.filter((w, i) => i === 0 || w !== widths[i - 1]);
    assert.deepEqual(runs, [284, 426, 284]);
    assert.equal(widths.indexOf(426), 25, "the size changes exactly at the boundary");
  });
});

Deno.test("`prepareTitle()` reuses the cache and rebuilds after a source changes", async () => {
  await withFixture(async (dir, titles) => {
    const solo = titles.find((t) => t.name === "solo")!;
    const options = { cacheDir: `${dir}/cache`, segmentSeconds: 1 };
    const first = await prepareTitle(solo, options);
    assert.equal(first.hasAudio, false);
    assert.deepEqual(first.renditions.map((r) => r.height), [240]);
    const manifest = first.renditions[0].segments[0].path.replace(/r0\/[^/]+$/, MANIFEST_NAME);
    const before = (await Deno.stat(manifest)).mtime;
    // A second prepare with ffmpeg made unavailable still succeeds: nothing is run.
    Deno.env.set("PEERSTREAM_FFMPEG", "/nonexistent/ffmpeg");
    try {
      const again = await prepareTitle(solo, options);
      assert.deepEqual(again, first);
      assert.deepEqual((await Deno.stat(manifest)).mtime, before);
    } finally {
      Deno.env.delete("PEERSTREAM_FFMPEG");
    }
    // Changing the source (new content, size and mtime) gives a new key and a rebuild.
    await makeClip(`${dir}/videos/solo.mp4`, { height: 240, seconds: 3, toneHz: 300 });
    const [changed] = (await scanLibrary(`${dir}/videos`)).filter((t) => t.name === "solo");
    const rebuilt = await prepareTitle(changed, options);
    assert.notEqual(rebuilt.renditions[0].segments[0].path, first.renditions[0].segments[0].path);
    assert.equal(rebuilt.hasAudio, true);
    assert.equal(rebuilt.renditions[0].segments.length, 3);
    // A folder without a manifest is incomplete: it is rebuilt.
    const rebuiltManifest = rebuilt.renditions[0].segments[0].path.replace(
      /r0\/[^/]+$/,
      MANIFEST_NAME,
    );
    await Deno.remove(rebuiltManifest);
    const again = await prepareTitle(changed, options);
    const shape = (t: typeof rebuilt) =>
      t.renditions.map((r) => [r.height, r.segments.map((s) => [s.path, s.start, s.duration])]);
    assert.deepEqual(shape(again), shape(rebuilt));
    await Deno.stat(rebuiltManifest);
    // No temporary folder is left behind.
    const names = [];
    for await (const e of Deno.readDir(`${dir}/cache/prepared`)) names.push(e.name);
    assert.ok(names.every((n) => !n.startsWith(".tmp")), names.join(","));
  });
});

Deno.test("`prepareTitle()` makes aligned MJPEG segments without audio", async () => {
  await withFixture(async (dir, titles) => {
    const dog = titles.find((t) => t.name === "dog")!;
    const p = await prepareTitle(dog, {
      cacheDir: `${dir}/cache`,
      codec: "mjpeg",
      segmentSeconds: 1,
    });
    assert.equal(p.codec, "mjpeg");
    assert.equal(p.container, "mjpeg");
    assert.equal(p.hasAudio, false);
    assert.equal(p.fps, 25);
    assert.deepEqual(p.renditions.map((r) => r.height), [160, 240]);
    const [low, high] = p.renditions;
    assert.equal(low.segments.length, 3);
    assert.deepEqual(low.segments.map((s) => s.start), high.segments.map((s) => s.start));
    const bytes = await Deno.readFile(low.segments[0].path);
    assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], "starts with a JPEG SOI");
    const parts = await Promise.all(
      [low.segments[0], high.segments[1]].map((s) => Deno.readFile(s.path)),
    );
    const stream = new Uint8Array(parts[0].length + parts[1].length);
    stream.set(parts[0]);
    stream.set(parts[1], parts[0].length);
    const sizes = await pipeThrough(
      "ffprobe",
      [
        "-v",
        "error",
        "-f",
        "mjpeg",
        "-framerate",
        "25",
        "-show_entries",
        "frame=width",
        "-of",
        "csv=p=0",
        "pipe:0",
      ],
      stream,
    );
    const widths = sizes.stdout.trim().split("\n").map((l) => Number(l.split(",")[0])).filter((
      w,
    ) => w > 0);
    assert.deepEqual(widths.filter((w, i) => i === 0 || w !== widths[i - 1]), [284, 426]);
    assert.equal(widths.indexOf(426), 25);
  });
});

Deno.test("`prepareTitle()` fails clearly when ffmpeg is missing", async () => {
  await withFixture(async (dir, titles) => {
    Deno.env.set("PEERSTREAM_FFMPEG", "/nonexistent/ffmpeg");
    try {
      await assert.rejects(
        prepareTitle(titles[0], { cacheDir: `${dir}/cache` }),
        (e: unknown) =>
          e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
          e.message ===
            'Cannot run "ffmpeg": not found; install it (apt-get install ffmpeg) or put it on PATH',
      );
    } finally {
      Deno.env.delete("PEERSTREAM_FFMPEG");
    }
    const names = [];
    for await (const e of Deno.readDir(`${dir}/cache/prepared`)) names.push(e.name);
    assert.deepEqual(names, []);
  });
});

Deno.test("`prepareTitle()` stops and cleans up when aborted", async () => {
  await withFixture(async (dir, titles) => {
    const controller = new AbortController();
    const p = prepareTitle(titles[0], {
      cacheDir: `${dir}/cache`,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error("stop")),
    });
    await assert.rejects(p, /stop/);
    const names = [];
    for await (const e of Deno.readDir(`${dir}/cache/prepared`)) names.push(e.name);
    assert.deepEqual(names, []);
  });
});
