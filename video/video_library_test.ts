import assert from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { preparationOrder, VideoLibrary } from "./video_library.ts";
import { makeClip } from "./_test_media.ts";

async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_videos_" });
  await Deno.mkdir(`${dir}/videos`);
  await Promise.all([
    makeClip(`${dir}/videos/dog_160p.mp4`, { height: 160, seconds: 2 }),
    makeClip(`${dir}/videos/dog_240p.mp4`, { height: 240, seconds: 2 }),
    // 3 s with one keyframe: one 3 s segment would be too long for 1 s segments, so cat is encoded.
    makeClip(`${dir}/videos/cat.mp4`, { height: 240, seconds: 3, toneHz: null }),
  ]);
  await Deno.writeTextFile(`${dir}/videos/readme.txt`, "hi");
  return dir;
}

Deno.test("`VideoLibrary` lists titles, prepares them in the background and resolves ready()", async () => {
  const dir = await fixture();
  const log: string[] = [];
  const videos = await VideoLibrary.open({
    dir: `${dir}/videos`,
    cacheDir: `${dir}/cache`,
    segmentSeconds: 1,
    onLog: (l) => log.push(l),
  });
  try {
    const first = videos.list();
    assert.deepEqual(first.map((t) => t.title), ["cat", "dog"]);
    assert.deepEqual(first[1].heights, [160, 240]);
    assert.equal(first[1].hasAudio, true);
    assert.equal(first[0].hasAudio, false);
    assert.equal(first[1].status.state, "preparing");
    const dog = await videos.ready("dog");
    assert.deepEqual(dog.renditions.map((r) => r.height), [160, 240]);
    await videos.ready("cat");
    const after = videos.list();
    assert.deepEqual(after.map((t) => t.status), [{ state: "ready" }, { state: "ready" }]);
    assert.deepEqual(after[0].heights, [240]);
    assert.equal(videos.get("dog")?.prepared, dog);
    assert.equal(videos.get("nope"), null);
    // Each ready title has its poster frame in its prepared folder; unknown titles have none.
    for (const title of ["cat", "dog"]) {
      const poster = videos.poster(title);
      assert.equal(poster, `${videos.get(title)?.prepared?.dir}/poster.jpg`);
      const bytes = await Deno.readFile(poster!);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], `${title}: a JPEG`);
    }
    assert.equal(videos.poster("nope"), null);
    assert.ok(log.some((l) => l.startsWith('Skipping "readme.txt"')));
    // Both dog files have a single keyframe (at 0 s) and last 2 s: one segment, no re-encode.
    assert.ok(
      log.some((l) =>
        /^Prepared "dog" by remuxing \(no re-encode\) \(2 renditions, 1 segment\) in \d+\.\d s$/
          .test(l)
      ),
      log.join("\n"),
    );
    assert.equal(dog.method, "remux");
    assert.ok(
      log.some((l) =>
        /^Prepared "cat" by encoding \(1 rendition, 3 segments\) in \d+\.\d s$/.test(l)
      ),
      log.join("\n"),
    );
    assert.ok(
      log.includes(
        'Preparing "cat" by encoding: its keyframes are too far apart to cut 1 s segments ' +
          "without re-encoding (3.00 s from 0.00 s; at most 2 s)",
      ),
      log.join("\n"),
    );
    await assert.rejects(
      videos.ready("dgo"),
      (e: unknown) =>
        e instanceof PeerstreamError && e.code === "VIDEO_NOT_FOUND" &&
        e.message === 'Cannot play "dgo": no such title; did you mean "dog"?',
    );
    await assert.rejects(
      videos.ready("zebra"),
      (e: unknown) =>
        e instanceof PeerstreamError &&
        e.message === 'Cannot play "zebra": no such title; run LIST to see titles',
    );
  } finally {
    await videos.close();
  }
  // A second open reuses the prepared segments.
  const log2: string[] = [];
  const again = await VideoLibrary.open({
    dir: `${dir}/videos`,
    cacheDir: `${dir}/cache`,
    segmentSeconds: 1,
    onLog: (l) => log2.push(l),
  });
  try {
    await again.ready("dog");
    await again.ready("cat");
    assert.ok(!log2.some((l) => l.startsWith("Preparing")), log2.join("\n"));
    // A cache hit says so, without a preparation time.
    assert.ok(!log2.some((l) => l.startsWith("Prepared ")), log2.join("\n"));
    assert.ok(
      log2.includes('Ready "cat" (1 rendition, 3 segments), prepared earlier'),
      log2.join("\n"),
    );
  } finally {
    await again.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes a 2 s H.264 clip of the given size (no audio). */
async function _sizedClip(path: string, size: string): Promise<void> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-f", "lavfi", "-i", `testsrc2=size=${size}:rate=25:duration=2`]
      .concat(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path]),
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("`VideoLibrary` lists the same resolution labels before and after preparation, portrait too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_videos_" });
  await Deno.mkdir(`${dir}/videos`);
  await Promise.all([
    _sizedClip(`${dir}/videos/tall.mp4`, "360x640"),
    _sizedClip(`${dir}/videos/wide.mp4`, "640x360"),
    _sizedClip(`${dir}/videos/square.mp4`, "300x300"),
  ]);
  const videos = await VideoLibrary.open({ dir: `${dir}/videos`, cacheDir: `${dir}/cache` });
  try {
    const before = videos.list();
    assert.ok(before.every((t) => t.status.state === "preparing"));
    const heights = (list: typeof before) => list.map((t) => [t.title, t.heights]);
    // One rule, the shorter side: a portrait 360x640 clip is 360p like a 640x360 one.
    const expected = [["square", [240]], ["tall", [240, 360]], ["wide", [240, 360]]];
    assert.deepEqual(heights(before), expected);
    const tall = await videos.ready("tall");
    await videos.ready("wide");
    await videos.ready("square");
    assert.deepEqual(heights(videos.list()), expected);
    // The portrait top rendition keeps the whole picture (360 wide), scaled by its shorter side.
    assert.deepEqual(tall.renditions.map((r) => [r.width, r.height]), [[240, 240], [360, 360]]);
  } finally {
    await videos.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`VideoLibrary.close()` stops preparation and rejects waiting callers", async () => {
  const dir = await fixture();
  const videos = await VideoLibrary.open({ dir: `${dir}/videos`, cacheDir: `${dir}/cache` });
  try {
    const waiting = videos.ready("dog");
    await videos.close();
    await videos.close();
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof PeerstreamError && e.code === "SHUTTING_DOWN",
    );
    assert.ok(videos.list().every((t) => t.status.state !== "preparing"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`VideoLibrary` marks a title failed when ffmpeg is missing", async () => {
  const dir = await fixture();
  Deno.env.set("PEERSTREAM_FFMPEG", "/nonexistent/ffmpeg");
  const log: string[] = [];
  const videos = await VideoLibrary.open({
    dir: `${dir}/videos`,
    cacheDir: `${dir}/cache`,
    onLog: (l) => log.push(l),
  });
  try {
    await assert.rejects(
      videos.ready("dog"),
      (e: unknown) =>
        e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
        /^Cannot run "ffmpeg": not found; /.test(e.message),
    );
    const status = videos.get("dog")!.status;
    assert.equal(status.state, "failed");
    assert.ok(
      log.includes(
        'Cannot run "ffmpeg": not found; install it (apt-get install ffmpeg) or put it on PATH',
      ),
    );
  } finally {
    Deno.env.delete("PEERSTREAM_FFMPEG");
    await videos.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`VideoLibrary.open()` rejects a missing folder with VIDEO_NOT_FOUND", async () => {
  await assert.rejects(
    VideoLibrary.open({ dir: "/nonexistent/videos", cacheDir: "/nonexistent/cache" }),
    (e: unknown) => e instanceof PeerstreamError && e.code === "VIDEO_NOT_FOUND",
  );
});

Deno.test("`VideoLibrary.open()` without a folder uses the embedded samples", async () => {
  const cache = await Deno.makeTempDir({ prefix: "peerstream_videos_" });
  const videos = await VideoLibrary.open({ cacheDir: cache });
  try {
    const list = videos.list();
    assert.deepEqual(list.map((t) => t.title), ["bars", "pattern", "testcard"]);
    assert.deepEqual(list[2].heights, [240, 480, 720]);
    assert.equal(list[2].hasAudio, true);
    assert.ok(Math.abs(list[2].duration - 12) < 0.1);
  } finally {
    await videos.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("preparationOrder() puts the named titles first, in their order, then the rest by name", () => {
  const table: readonly [string[], string[], string[]][] = [
    [["bars", "pattern", "testcard"], ["testcard", "bars", "pattern"], [
      "testcard",
      "bars",
      "pattern",
    ]],
    [["b", "a", "testcard", "c"], ["testcard"], ["testcard", "a", "b", "c"]],
    [["b", "a"], [], ["a", "b"]],
    [[], ["testcard"], []],
    [["zeta", "bars"], ["testcard", "bars"], ["bars", "zeta"]],
  ];
  for (const [titles, first, expected] of table) {
    assert.deepEqual(preparationOrder(titles, first), expected, JSON.stringify([titles, first]));
  }
});
