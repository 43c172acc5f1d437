import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { makeClip } from "./_test_media.ts";
import { ensurePoster, POSTER_NAME, posterArgs, posterTime } from "./poster.ts";

Deno.test("posterTime() takes a tenth into the title, never past half a second before its end", () => {
  const cases: [number, number][] = [
    [12, 1.2],
    [100, 10],
    [0.4, 0],
    [0.6, 0.06],
    [0, 0],
    [-3, 0],
    [Number.NaN, 0],
  ];
  for (const [duration, at] of cases) equal(posterTime(duration), at, `duration ${duration}`);
});

Deno.test("posterArgs() writes one frame at the instant, at most 640 px wide, as JPEG", () => {
  deepEqual(posterArgs("/v/a.mp4", 1.2, "/p/x.jpg"), [
    "-hide_banner",
    "-nostdin",
    "-y",
    "-v",
    "error",
    "-ss",
    "1.2",
    "-i",
    "/v/a.mp4",
    "-frames:v",
    "1",
    "-vf",
    "scale='min(640,iw)':-2",
    "-q:v",
    "4",
    "-f",
    "image2",
    "/p/x.jpg",
  ]);
});

Deno.test("ensurePoster() makes a JPEG once, and says why when it cannot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-poster-" });
  try {
    const clip = `${dir}/clip.mp4`;
    await makeClip(clip, { height: 240, seconds: 2 });
    const path = await ensurePoster(dir, clip, 2);
    equal(path, `${dir}/${POSTER_NAME}`);
    const bytes = await Deno.readFile(path);
    deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], "a JPEG");
    const made = (await Deno.stat(path)).mtime?.getTime();
    // Made once: a second call finds it and leaves it as it is, even with no source left.
    await Deno.remove(clip);
    equal(await ensurePoster(dir, clip, 2), path);
    equal((await Deno.stat(path)).mtime?.getTime(), made);
    // No temporary files left beside it.
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    deepEqual(names, [POSTER_NAME]);

    const other = `${dir}/other`;
    await Deno.mkdir(other);
    await rejects(ensurePoster(other, `${dir}/missing.mp4`, 2), (error: Error) => {
      ok(error.message.startsWith(`Cannot make the poster of "${dir}/missing.mp4"`), error.message);
      return true;
    });
    deepEqual([...Deno.readDirSync(other)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
