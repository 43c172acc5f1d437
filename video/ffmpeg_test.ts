import assert from "node:assert/strict";
import { PeerstreamError } from "../protocol/errors.ts";
import { probe, runTool, toolPath } from "./ffmpeg.ts";
import { isFfmpegMissing, makeClip, withoutFfmpeg } from "./_test_media.ts";

Deno.test("`runTool()` reports a missing ffmpeg clearly", async () => {
  await withoutFfmpeg(async () => {
    assert.equal(toolPath("ffmpeg"), "/nonexistent/ffmpeg");
    await assert.rejects(runTool("ffmpeg", ["-version"]), isFfmpegMissing);
  });
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
