/**
 * What the page's video shows, read in the page itself: a test title whose every frame carries its
 * number, and probes that record each presented frame (`requestVideoFrameCallback`: its media
 * time, its height and the number read from its pixels). Shared by the page's quality tests and
 * the benchmark's web scenario.
 * @module
 */

import type { Page } from "puppeteer-core";
import { runTool } from "../video/ffmpeg.ts";
import { TEST_CACHE } from "./_helpers.ts";
import { inPage, waitInPage } from "./_page.ts";

/** The numbered title's name, frame rate, length and heights. */
export const NUMBERED = { title: "numbered", fps: 25, seconds: 40, heights: [240, 480, 720] };

/**
 * The H.264 profile of each source: one file per rendition, encoded separately, as a person's own
 * ladder often is. Baseline has no B-frames, Main and High have them, and each file's AAC is
 * encoded on its own, so the renditions' first video and audio timestamps differ by tens of
 * milliseconds at every segment boundary (the server remuxes aligned sources as they are). This
 * is what froze the page's video in Chromium at a switch down (issue 18).
 */
const PROFILES: Record<number, string> = { 240: "baseline", 480: "main", 720: "high" };

/**
 * Makes (once, cached under the test cache) a folder with the numbered title: testsrc2 with the
 * frame number N drawn as 12 black/white blocks across the top eighth of the picture (most
 * significant bit left; FIELD_NOTES, "Checked 2026-12-07"), a tone, in three renditions whose
 * keyframes are aligned every 2 s (so the server remuxes them into segments without re-encoding).
 *
 * @returns The folder, for `serve --videos`.
 */
export async function numberedVideos(): Promise<string> {
  const dir = `${TEST_CACHE}/numbered-v1`;
  const names = NUMBERED.heights.map((h) => `${NUMBERED.title}_${h}p.mp4`);
  try {
    for (const name of names) await Deno.stat(`${dir}/${name}`);
    return dir;
  } catch {
    // Not made yet: make it in a folder of its own and move it in place whole.
  }
  await Deno.mkdir(TEST_CACHE, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: TEST_CACHE, prefix: ".numbered-" });
  const { fps, seconds, heights } = NUMBERED;
  // The band is drawn on a 12×1 picture (cheap for geq), then scaled up without smoothing.
  const band = `format=gray,geq=lum='255*mod(floor(N/pow(2\\,11-X))\\,2)',` +
    `scale=1280:90:flags=neighbor,format=yuv420p`;
  const filters = [
    `[1:v]${band}[band]`,
    `[0:v][band]overlay=0:0,format=yuv420p,split=${heights.length}${
      heights.map((_, i) => `[s${i}]`).join("")
    }`,
    ...heights.map((h, i) => `[s${i}]scale=-2:${h},setsar=1[o${i}]`),
  ];
  const args = ["-hide_banner", "-nostdin", "-y", "-v", "error"];
  args.push("-f", "lavfi", "-i", `testsrc2=size=1280x720:rate=${fps}:duration=${seconds}`);
  args.push("-f", "lavfi", "-i", `nullsrc=size=12x1:rate=${fps}:duration=${seconds}`);
  args.push("-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`);
  args.push("-filter_complex", filters.join(";"));
  heights.forEach((h, i) => {
    args.push("-map", `[o${i}]`, "-map", "2:a", "-c:v", "libx264", "-profile:v", PROFILES[h]);
    args.push("-preset", "veryfast", "-force_key_frames", "expr:gte(t,n_forced*2)");
    args.push("-g", String(fps * 2), "-keyint_min", String(fps * 2), "-sc_threshold", "0");
    args.push("-c:a", "aac", "-b:a", "64k", `${tmp}/${names[i]}`);
  });
  const result = await runTool("ffmpeg", args);
  if (result.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`Cannot make the numbered test title: ${result.stderr}`);
  }
  try {
    await Deno.rename(tmp, dir);
  } catch (error) {
    // Another test process (the cache is shared) made it meanwhile: use theirs.
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    for (const name of names) {
      await Deno.stat(`${dir}/${name}`).catch(() => {
        throw new Error(`Cannot make the numbered test title in "${dir}": ${error}`);
      });
    }
  }
  return dir;
}

/** One frame the page presented. */
export interface PresentedFrame {
  /** `performance.now()` in the page when it was presented, ms. */
  at: number;
  /** Its media time, s. */
  mediaTime: number;
  /** Its decoded height. */
  height: number;
  /** The frame number read from its pixels. */
  number: number;
  /** The height the page's status line claimed at that moment (0 before it says one). */
  label: number;
}

/**
 * Starts recording every frame the page's video presents (`window.__frames`), until the page
 * goes away. Reading the number: the top eighth of the frame is drawn onto a 96×8 canvas, and the
 * centre of each 8-pixel block is one bit; a frame with a grey block or a number past the title's
 * last frame (decoded with missing references, seen once under load: 3121 between 49 and 51) has
 * none (-1).
 */
export const FRAME_PROBE = `(() => {
  const video = document.getElementById("video");
  const line = document.getElementById("now-playing");
  const canvas = document.createElement("canvas");
  canvas.width = 96;
  canvas.height = 8;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  window.__frames = [];
  const onFrame = (now, meta) => {
    let number = -1;
    if (meta.height > 0) {
      ctx.drawImage(video, 0, 0, meta.width, meta.height / 8, 0, 0, 96, 8);
      const px = ctx.getImageData(0, 4, 96, 1).data;
      number = 0;
      for (let bit = 0; bit < 12 && number >= 0; bit++) {
        const v = px[(bit * 8 + 4) * 4];
        // A block neither black nor white (a frame decoded from missing references after a hole)
        // has no number; nor has a number past the title's last frame.
        number = v < 64 ? number * 2 : v > 191 ? number * 2 + 1 : -1;
      }
      if (number >= ${NUMBERED.fps * NUMBERED.seconds}) number = -1;
    }
    window.__frames.push({ at: performance.now(), mediaTime: meta.mediaTime, height: meta.height,
      number, label: Number(line.dataset.height ?? 0) });
    if (window.__frames.length > 5000) window.__frames.splice(0, 1000);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
})()`;

/**
 * Chooses a quality in the page's menu, as a person would, and says when (page clock).
 *
 * @param page The tab.
 * @param height The height.
 * @returns `performance.now()` in the page just before the choice.
 */
export async function chooseQuality(page: Page, height: number | "auto"): Promise<number> {
  return await page.evaluate(inPage(
    `(value) => {
      const select = document.getElementById("quality");
      const at = performance.now();
      select.value = value;
      select.dispatchEvent(new Event("change"));
      return at;
    }`,
    String(height),
  )) as number;
}

/**
 * Waits for the first frame of a height presented after a moment.
 *
 * @param page The tab.
 * @param height The height.
 * @param since Page clock, ms.
 * @param timeoutMs The deadline.
 * @returns That frame.
 */
export function waitForHeight(
  page: Page,
  height: number,
  since: number,
  timeoutMs = 20_000,
): Promise<PresentedFrame> {
  return waitInPage<PresentedFrame>(
    page,
    inPage(
      `(h, t) => window.__frames.find((f) => f.at > t && f.height === h) ?? false`,
      height,
      since,
    ),
    timeoutMs,
  );
}

/**
 * The frames presented after a moment.
 *
 * @param page The tab.
 * @param since Page clock, ms.
 * @returns The frames in order.
 */
export async function framesSince(page: Page, since: number): Promise<PresentedFrame[]> {
  return await page.evaluate(
    inPage(`(t) => window.__frames.filter((f) => f.at > t)`, since),
  ) as PresentedFrame[];
}

/**
 * The page's clock now.
 *
 * @param page The tab.
 * @returns `performance.now()` in the page.
 */
export async function pageNow(page: Page): Promise<number> {
  return await page.evaluate("performance.now()") as number;
}
