import { deepEqual, equal, ok } from "node:assert/strict";
import type { MediaSink } from "../client/session.ts";
import type { ClientEvent } from "./_helpers.ts";
import { connectClient, startServer } from "./_helpers.ts";

/** Collects a stream's bytes in memory, as a player's stdin would receive them. */
class CollectingSink implements MediaSink {
  chunks: Uint8Array[] = [];
  ended?: string;
  write(data: Uint8Array) {
    this.chunks.push(data.slice());
  }
  close(reason: string) {
    this.ended = reason;
  }
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

async function run(cmd: string, args: string[], stdin?: Uint8Array) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("serve --codec mjpeg streams JPEG frames that decode cleanly across a rendition switch", async () => {
  const root = await Deno.makeTempDir({ prefix: "peerstream-mjpeg-" });
  // A 6 s, 25 fps, 480p source: the server derives a smaller rendition from it.
  const made = await run("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=854x480:rate=25:duration=6",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    `${root}/clip_480p.mp4`,
  ]);
  equal(made.code, 0, made.stderr);
  const server = await startServer({
    args: ["--codec", "mjpeg", "--videos", root],
    cacheDir: `${root}/cache`,
    waitReady: true,
  });
  try {
    const viewer = await connectClient(server.port, "jpegviewer");
    const sink = new CollectingSink();
    const info = await viewer.session.play("clip", { quality: 240, sink: () => sink });
    equal(info.codec, "mjpeg");
    equal(info.container, "mjpeg");
    ok(info.renditions.length >= 2, JSON.stringify(info.renditions));
    const top = info.renditions[info.renditions.length - 1].height;
    await viewer.waitFor((e) => e.kind === "segment");
    await viewer.session.setQuality(top);
    await viewer.waitFor((e) => e.kind === "stream-end", 30_000);
    equal(sink.ended, "finished");
    const heights = viewer.events.flatMap((e: ClientEvent) =>
      e.kind === "segment" ? [e.segment.height] : []
    );
    equal(heights[0], 240);
    equal(heights[heights.length - 1], top);

    // The raw MJPEG stream has no timestamps: the player is told the frame rate.
    const probe = await run("ffprobe", [
      "-v",
      "warning",
      "-f",
      "mjpeg",
      "-framerate",
      String(info.fps),
      "-i",
      "pipe:0",
      "-show_entries",
      "frame=width,height",
      "-of",
      "csv=p=0",
    ], sink.bytes());
    equal(probe.code, 0, probe.stderr);
    equal(probe.stderr.trim(), "");
    const sizes = probe.stdout.trim().split("\n");
    ok(Math.abs(sizes.length - 6 * info.fps) <= 1, `${sizes.length} frames at ${info.fps} fps`);
    // Every frame decoded, and the frame size changed exactly once, from 240p to the top.
    const distinct = sizes.filter((s, i) => i === 0 || s !== sizes[i - 1]);
    deepEqual(distinct.map((s) => Number(s.split(",")[1])), [240, top]);
    await viewer.session.quit();
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});
