import assert from "node:assert/strict";
import {
  ffprobeArgs,
  keyframeTimesArgs,
  ladderArgs,
  remuxArgs,
  sampleArgs,
} from "./ffmpeg_args.ts";

Deno.test("`ffprobeArgs()` asks for JSON with format and streams", () => {
  assert.deepEqual(ffprobeArgs("-x.mp4").slice(-2), ["--", "-x.mp4"]);
  assert.ok(ffprobeArgs("a").includes("-show_streams"));
  assert.ok(keyframeTimesArgs("a").includes("nokey"));
});

Deno.test("`ladderArgs()` aligns keyframes and sets colour tags for H.264", () => {
  const args = ladderArgs({
    inputs: ["a.mp4"],
    outputs: [
      { input: 0, height: 240, dir: "/o/r0", maxBitrate: 400_000 },
      { input: 0, height: 480, dir: "/o/r1", maxBitrate: 1_000_000 },
    ],
    codec: "h264",
    segmentSeconds: 2,
    fps: 25,
    audio: true,
  });
  const text = args.join(" ");
  assert.match(text, /split=2\[s0\]\[s1\]/);
  assert.match(text, /-force_key_frames expr:gte\(t,n_forced\*2\)/);
  assert.match(text, /-sc_threshold 0/);
  assert.match(text, /-g 50 -keyint_min 50/);
  assert.match(text, /-colorspace bt709 -color_primaries bt709 -color_trc bt709/);
  assert.match(text, /-c:a aac -b:a 128k -ar 48000 -ac 2/);
  assert.match(text, /-hls_segment_filename \/o\/r1\/seg_%05d\.ts \/o\/r1\/index\.m3u8/);
  assert.equal(args.filter((a) => a === "libx264").length, 2);
});

Deno.test("`remuxArgs()` copies the video into the same hls output, audio as asked", () => {
  const args = remuxArgs({
    inputs: ["a.mp4", "b.mp4"],
    dirs: ["/o/r0", "/o/r1"],
    segmentSeconds: 2,
    audio: "copy",
  });
  const text = args.join(" ");
  assert.match(
    text,
    /-i a\.mp4 -i b\.mp4 -map 0:v:0 -c:v copy -map 0:a:0 -c:a copy -f hls -hls_time 2 /,
  );
  assert.match(text, /-map 1:v:0 -c:v copy -map 1:a:0 -c:a copy -f hls /);
  assert.match(text, /-hls_segment_filename \/o\/r1\/seg_%05d\.ts \/o\/r1\/index\.m3u8$/);
  assert.ok(!text.includes("libx264") && !text.includes("-filter_complex"));
  const aac = remuxArgs({ inputs: ["a"], dirs: ["/o"], segmentSeconds: 2, audio: "aac" }).join(" ");
  assert.match(aac, /-map 0:a:0 -c:a aac -b:a 128k -ar 48000 -ac 2 -f hls/);
  const none = remuxArgs({ inputs: ["a"], dirs: ["/o"], segmentSeconds: 2, audio: "none" }).join(
    " ",
  );
  assert.match(none, /-c:v copy -an -f hls/);
  assert.throws(
    () => remuxArgs({ inputs: ["a"], dirs: [], segmentSeconds: 2, audio: "none" }),
    RangeError,
  );
});

Deno.test("`ladderArgs()` writes raw MJPEG segments without audio and forces fps for several inputs", () => {
  const args = ladderArgs({
    inputs: ["a.mp4", "b.mp4"],
    outputs: [
      { input: 0, height: 240, dir: "/o/r0", maxBitrate: 1 },
      { input: 1, height: 480, dir: "/o/r1", maxBitrate: 1 },
    ],
    codec: "mjpeg",
    segmentSeconds: 2,
    fps: 25,
    audio: true,
  });
  const text = args.join(" ");
  assert.match(text, /\[0:v:0\]null\[s0\]/);
  assert.match(
    text,
    /\[s1\]fps=25,scale=w='if\(gte\(iw\\,ih\)\\,-2\\,480\)':h='if\(gte\(iw\\,ih\)\\,480\\,-2\)',setsar=1,format=yuvj420p\[v1\]/,
  );
  assert.match(text, /-segment_format mjpeg/);
  assert.doesNotMatch(text, /aac/);
});

Deno.test("`sampleArgs()` builds one lavfi source split to every height", () => {
  const text = sampleArgs({ seconds: 3, heights: [240, 480], outputs: ["a", "b"] }).join(" ");
  assert.match(text, /testsrc2=size=854x480:rate=25:duration=3/);
  assert.match(text, /sine=frequency=440/);
  const silent = sampleArgs({ seconds: 3, heights: [240], outputs: ["a"], toneHz: null }).join(" ");
  assert.doesNotMatch(silent, /sine/);
});
