import assert from "node:assert/strict";
import { scanLibrary, type Title } from "./library_scan.ts";
import { runTool } from "./ffmpeg.ts";
import { sampleArgs } from "./ffmpeg_args.ts";
import { prepareTitle } from "./segmenter.ts";
import { MANIFEST_NAME } from "./prepared_title.ts";
import { ContinuityFixer, isValidTsSegment } from "./ts_packet.ts";
import {
  firstFrameIsKey,
  isFfmpegMissing,
  makeClip,
  pipeThrough,
  withoutFfmpeg,
} from "./_test_media.ts";
import { concatBytes } from "../tests/_util.ts";

/**
 * The width of every decoded video frame in `stream`, as ffprobe reports it.
 *
 * @param stream The bytes, fed on stdin.
 * @param inputArgs ffprobe options that pick the stream or name the demuxer.
 */
async function frameWidths(stream: Uint8Array, inputArgs: string[]): Promise<number[]> {
  const sizes = await pipeThrough(
    "ffprobe",
    ["-v", "error", ...inputArgs, "-show_entries", "frame=width", "-of", "csv=p=0", "pipe:0"],
    stream,
  );
  return sizes.stdout.trim().split("\n").map((l) => Number(l.split(",")[0])).filter((w) => w > 0);
}

/** Asserts that ffmpeg decodes `stream` without a warning, failing at the first corrupt packet. */
async function assertDecodesCleanly(stream: Uint8Array): Promise<void> {
  const decode = await pipeThrough(
    "ffmpeg",
    ["-v", "warning", "-err_detect", "explode", "-i", "pipe:0", "-f", "null", "-"],
    stream,
  );
  assert.equal(decode.code, 0, decode.stderr);
  assert.equal(decode.stderr.trim(), "");
}

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
    const stream = concatBytes(chunks.map((c) => fixer.fix(c)));
    await assertDecodesCleanly(stream);
    const widths = await frameWidths(stream, ["-select_streams", "v:0"]);
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
      assert.deepEqual(again, { ...first, cached: true });
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
    const widths = await frameWidths(concatBytes(parts), ["-f", "mjpeg", "-framerate", "25"]);
    assert.deepEqual(widths.filter((w, i) => i === 0 || w !== widths[i - 1]), [284, 426]);
    assert.equal(widths.indexOf(426), 25);
  });
});

Deno.test("`prepareTitle()` fails clearly when ffmpeg is missing", async () => {
  await withFixture(async (dir, titles) => {
    await withoutFfmpeg(() =>
      assert.rejects(prepareTitle(titles[0], { cacheDir: `${dir}/cache` }), isFfmpegMissing)
    );
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

/**
 * Write `NAME_240p.mp4` and `NAME_480p.mp4` (6 s, AAC tone) from one lavfi source with `ultrafast`
 * x264; `aligned` forces a keyframe every 2 s in both, else x264's default keyint (250 frames)
 * leaves one keyframe at 0 s.
 */
async function makePair(dir: string, name: string, aligned: boolean): Promise<void> {
  const outputs = [`${dir}/${name}_240p.mp4`, `${dir}/${name}_480p.mp4`];
  const args = sampleArgs({ seconds: 6, heights: [240, 480], outputs });
  if (aligned) {
    const keys = ["-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0", "-g", "48"];
    for (const out of outputs) args.splice(args.indexOf(out) - 4, 0, ...keys);
  }
  const result = await runTool("ffmpeg", args);
  assert.equal(result.code, 0, result.stderr);
}

/** MD5 of every decoded video frame of a file or of concatenated MPEG-TS segments. */
async function frameMd5(paths: string[]): Promise<string> {
  const parts = await Promise.all(paths.map((p) => Deno.readFile(p)));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const r = await pipeThrough(
    "ffmpeg",
    ["-v", "error", "-i", "pipe:0", "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "md5", "-"],
    bytes,
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

Deno.test("`prepareTitle()` remuxes aligned H.264 sources and encodes unaligned ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_remux_" });
  try {
    await Deno.mkdir(`${dir}/videos`);
    await Promise.all([
      makePair(`${dir}/videos`, "dog", true),
      makePair(`${dir}/videos`, "cat", false),
    ]);
    const titles = await scanLibrary(`${dir}/videos`);
    const dog = titles.find((t) => t.name === "dog")!;
    const cat = titles.find((t) => t.name === "cat")!;
    const log: string[] = [];
    const options = { cacheDir: `${dir}/cache`, onLog: (l: string) => log.push(l) };

    const remuxed = await prepareTitle(dog, options);
    assert.equal(remuxed.method, "remux");
    assert.deepEqual(log, [
      'Preparing "dog" by remuxing (no re-encode): its sources are aligned H.264',
    ]);
    assert.equal(remuxed.hasAudio, true);
    assert.equal(remuxed.fps, 25);
    // The sources' own sizes (the encode path would give 426x240 from scale=-2:240).
    assert.deepEqual(remuxed.renditions.map((r) => [r.width, r.height]), [[428, 240], [854, 480]]);
    const [low, high] = remuxed.renditions;
    assert.deepEqual(low.segments.map((s) => [s.start, s.duration]), [[0, 2], [2, 2], [4, 2]]);
    assert.deepEqual(
      high.segments.map((s) => [s.start, s.duration]),
      low.segments.map((s) => [s.start, s.duration]),
    );
    for (const r of remuxed.renditions) {
      for (const s of r.segments) {
        assert.ok(isValidTsSegment(await Deno.readFile(s.path)), s.path);
        assert.ok(await firstFrameIsKey(s.path), `${s.path} starts with a keyframe`);
      }
    }
    const audio = await runTool("ffprobe", [
      "-v",
      "error",
      "-select_streams",
      "a:0",
      "-show_entries",
      "stream=codec_name",
      "-of",
      "csv=p=0",
      low.segments[1].path,
    ]);
    assert.equal(new TextDecoder().decode(audio.stdout).trim().split("\n")[0], "aac");
    // Proof that the video was copied, not re-encoded: H.264 is lossy, so any re-encode (even with
    // the sources' own settings) changes the decoded pixels. Identical MD5s of every decoded frame
    // of the source and of its concatenated segments mean the same bitstream, frame for frame. The
    // encoded title below is the control: the same check tells it apart from its sources.
    for (const [i, r] of remuxed.renditions.entries()) {
      assert.equal(
        await frameMd5(r.segments.map((s) => s.path)),
        await frameMd5([dog.renditions[i].path]),
        `rendition ${r.height}p`,
      );
    }
    // Switching rendition at segment boundaries decodes cleanly (each segment has its own SPS/PPS).
    const fixer = new ContinuityFixer();
    const parts = [low.segments[0], high.segments[1], low.segments[2]];
    const chunks = await Promise.all(parts.map((s) => Deno.readFile(s.path)));
    const stream = concatBytes(chunks.map((c) => fixer.fix(c)));
    await assertDecodesCleanly(stream);
    // The cached manifest keeps the method.
    assert.deepEqual(await prepareTitle(dog, options), { ...remuxed, cached: true });

    log.length = 0;
    const encoded = await prepareTitle(cat, options);
    assert.equal(encoded.method, "encode");
    assert.deepEqual(log, [
      'Preparing "cat" by encoding: its keyframes are too far apart to cut 2 s segments without ' +
      "re-encoding (6.00 s from 0.00 s; at most 4 s)",
    ]);
    assert.deepEqual(encoded.renditions.map((r) => r.segments.length), [3, 3]);
    assert.notEqual(
      await frameMd5(encoded.renditions[0].segments.map((s) => s.path)),
      await frameMd5([cat.renditions[0].path]),
    );

    // When the remux fails, the title is encoded instead and the log says why.
    const fake = `${dir}/ffmpeg-no-copy.sh`;
    await Deno.writeTextFile(
      fake,
      '#!/bin/sh\ncase "$*" in *"-c:v copy"*) echo "copy refused" >&2; exit 3;; esac\n' +
        'exec ffmpeg "$@"\n',
    );
    await Deno.chmod(fake, 0o755);
    log.length = 0;
    Deno.env.set("PEERSTREAM_FFMPEG", fake);
    try {
      const fallback = await prepareTitle(dog, { ...options, cacheDir: `${dir}/cache2` });
      assert.equal(fallback.method, "encode");
      assert.deepEqual(fallback.renditions.map((r) => r.segments.length), [3, 3]);
    } finally {
      Deno.env.delete("PEERSTREAM_FFMPEG");
    }
    assert.deepEqual(log, [
      'Preparing "dog" by remuxing (no re-encode): its sources are aligned H.264',
      'Cannot remux "dog": ffmpeg exited with code 3 (copy refused); encoding it instead',
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
