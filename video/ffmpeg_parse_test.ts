import assert from "node:assert/strict";
import {
  parseHlsPlaylist,
  parseKeyframeTimes,
  parseProbe,
  parseProgressLine,
  parseSegmentCsv,
} from "./ffmpeg_parse.ts";

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
