import assert from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import {
  ffprobeArgs,
  keyframeTimesArgs,
  ladderArgs,
  parseHlsPlaylist,
  parseKeyframeTimes,
  parseProbe,
  parseProgressLine,
  parseSegmentCsv,
  probe,
  remuxArgs,
  runTool,
  sampleArgs,
  toolPath,
} from "./ffmpeg.ts";
import { makeClip } from "./_test_media.ts";

const PROBE_JSON = JSON.stringify({
  streams: [
    {
      codec_type: "video",
      codec_name: "h264",
      width: 426,
      height: 240,
      avg_frame_rate: "30000/1001",
    },
    { codec_type: "audio", codec_name: "aac" },
  ],
  format: { duration: "12.000000", bit_rate: "551445" },
});

Deno.test("`parseProbe()` reads the first video and audio streams", () => {
  assert.deepEqual(parseProbe(PROBE_JSON), {
    duration: 12,
    width: 426,
    height: 240,
    videoCodec: "h264",
    audioCodec: "aac",
    fps: 29.97,
    bitrate: 551445,
  });
});

Deno.test("`parseProbe()` handles no audio, r_frame_rate and missing format fields", () => {
  const info = parseProbe(JSON.stringify({
    streams: [
      {
        codec_type: "video",
        codec_name: "mjpeg",
        width: 2,
        height: 2,
        disposition: { attached_pic: 1 },
      },
      {
        codec_type: "video",
        codec_name: "vp9",
        width: 640,
        height: 360,
        avg_frame_rate: "0/0",
        r_frame_rate: "25/1",
        duration: "3.5",
      },
    ],
  }));
  assert.deepEqual(info, {
    duration: 3.5,
    width: 640,
    height: 360,
    videoCodec: "vp9",
    audioCodec: null,
    fps: 25,
    bitrate: 0,
  });
});

Deno.test("`parseProbe()` throws SyntaxError on bad input", () => {
  const cases: [string, RegExp][] = [
    ["not json", /not JSON/],
    ["null", /not an object/],
    ["{}", /no video stream/],
    [JSON.stringify({ streams: [{ codec_type: "audio" }] }), /no video stream/],
    [JSON.stringify({ streams: [{ codec_type: "video", width: 0, height: 0 }] }), /no size/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseProbe(text),
      (e: unknown) => e instanceof SyntaxError && re.test(e.message),
      text,
    );
  }
});

Deno.test("`ffprobeArgs()` asks for JSON with format and streams", () => {
  assert.deepEqual(ffprobeArgs("-x.mp4").slice(-2), ["--", "-x.mp4"]);
  assert.ok(ffprobeArgs("a").includes("-show_streams"));
  assert.ok(keyframeTimesArgs("a").includes("nokey"));
});

Deno.test("`parseKeyframeTimes()` reads one time per line", () => {
  assert.deepEqual(parseKeyframeTimes("1.400000\n3.400000,\n\nN/A\n5.4\n"), [1.4, 3.4, 5.4]);
  assert.deepEqual(parseKeyframeTimes(""), []);
});

Deno.test("`parseHlsPlaylist()` reads EXTINF durations and files", () => {
  const text =
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\nseg_00000.ts\n" +
    "#EXTINF:1.520000,\r\nseg_00001.ts\n#EXT-X-ENDLIST\n";
  assert.deepEqual(parseHlsPlaylist(text), [
    { file: "seg_00000.ts", duration: 2 },
    { file: "seg_00001.ts", duration: 1.52 },
  ]);
  assert.deepEqual(parseHlsPlaylist("#EXTM3U\n"), []);
  assert.throws(() => parseHlsPlaylist("#EXTINF:x,\na.ts"), SyntaxError);
  assert.throws(() => parseHlsPlaylist("a.ts"), SyntaxError);
  assert.throws(() => parseHlsPlaylist("#EXTINF:2,"), SyntaxError);
});

Deno.test("`parseSegmentCsv()` reads file,start,end lines", () => {
  assert.deepEqual(
    parseSegmentCsv("seg_00000.mjpeg,0.000000,2.000000\nseg_00001.mjpeg,2.000000,3.000000\n"),
    [
      { file: "seg_00000.mjpeg", duration: 2 },
      { file: "seg_00001.mjpeg", duration: 1 },
    ],
  );
  assert.throws(() => parseSegmentCsv("a,1"), SyntaxError);
  assert.throws(() => parseSegmentCsv("a,2,1"), SyntaxError);
});

Deno.test("`parseProgressLine()` reads out_time_us and out_time_ms", () => {
  assert.equal(parseProgressLine("out_time_us=1500000"), 1.5);
  assert.equal(parseProgressLine("out_time_ms=2000000"), 2);
  assert.equal(parseProgressLine("out_time=00:00:01.500000"), null);
  assert.equal(parseProgressLine("progress=end"), null);
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

Deno.test("`runTool()` reports a missing ffmpeg clearly", async () => {
  Deno.env.set("PEERSTREAM_FFMPEG", "/nonexistent/ffmpeg");
  try {
    assert.equal(toolPath("ffmpeg"), "/nonexistent/ffmpeg");
    await assert.rejects(
      runTool("ffmpeg", ["-version"]),
      (e: unknown) =>
        e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
        e.message ===
          'Cannot run "ffmpeg": not found; install it (apt-get install ffmpeg) or put it on PATH',
    );
  } finally {
    Deno.env.delete("PEERSTREAM_FFMPEG");
  }
  assert.equal(toolPath("ffmpeg"), "ffmpeg");
});

Deno.test("`runTool()` collects output and stderr lines, and aborts", async () => {
  const lines: string[] = [];
  const r = await runTool("ffmpeg", ["-hide_banner", "-v", "error", "-i", "/nonexistent.mp4"], {
    onStderrLine: (l) => lines.push(l),
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /No such file/);
  assert.ok(lines.some((l) => /No such file/.test(l)));
  const v = await runTool("ffprobe", ["-version"]);
  assert.equal(v.code, 0);
  assert.match(new TextDecoder().decode(v.stdout), /^ffprobe version/);
  const controller = new AbortController();
  const p = runTool("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-re",
    "-i",
    "testsrc2",
    "-f",
    "null",
    "-",
  ], {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error("stop")), 200);
  await assert.rejects(p, /stop/);
  await assert.rejects(runTool("ffmpeg", [], { signal: controller.signal }), /stop/);
});

Deno.test("`probe()` reads a generated clip and fails clearly on junk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream_probe_" });
  try {
    await makeClip(`${dir}/c.mp4`, { height: 160, seconds: 2 });
    const info = await probe(`${dir}/c.mp4`);
    assert.equal(info.height, 160);
    assert.equal(info.width, 284);
    assert.equal(info.videoCodec, "h264");
    assert.equal(info.audioCodec, "aac");
    assert.equal(info.fps, 25);
    assert.equal(info.pixFmt, "yuv420p");
    assert.ok(Math.abs(info.duration - 2) < 0.1, String(info.duration));
    assert.ok(info.bitrate > 0);
    await Deno.writeTextFile(`${dir}/junk.mp4`, "not a video");
    await assert.rejects(
      probe(`${dir}/junk.mp4`),
      (e: unknown) =>
        e instanceof PeerstreamError && e.code === "VIDEO_FAILED" &&
        /^Cannot probe ".*junk\.mp4": .*; check that it is a video file$/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
