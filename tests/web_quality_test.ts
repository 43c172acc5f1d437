/**
 * Quality changes in the page, in Chromium and in Firefox, judged by what is on screen (issue 18):
 * every frame the video presents is recorded in the page (`requestVideoFrameCallback`) with its
 * height and the frame number drawn in its pixels. A chosen quality must show within 1.5 s (the
 * tight figure is the benchmark's), playback must keep advancing for 5 s after, the picture must
 * be the frame of its time, and the status line must never claim a height that is not on screen.
 * The title's renditions are separately encoded files (Baseline, Main, High) whose timestamps
 * differ by tens of milliseconds at segment boundaries: this froze Chromium at a switch down.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import { joinAs, openPage, startWebServer, waitInPage } from "./_page.ts";
import { startThrottleProxy } from "./_throttle_proxy.ts";
import {
  chooseQuality,
  FRAME_PROBE,
  framesSince,
  NUMBERED,
  numberedVideos,
  pageNow,
  type PresentedFrame,
  waitForHeight,
} from "./_page_video.ts";

/** How long a chosen quality may take to reach the screen here (the bench's target is 1 s). */
const SHOW_WITHIN_MS = 1_500;
/** How long playback must keep going after a switch. */
const KEEP_PLAYING_MS = 5_000;
/**
 * How many frames the picture may step back at a switch, or sit from its media time: the
 * renditions' first frames are up to 2 frames apart (B-frames), and Firefox's canvas copy in the
 * callback can be a frame late.
 */
const FRAME_TOLERANCE = 4;

/** Chooses a height and checks what the screen shows from then on; returns the switch's frame. */
async function switchTo(page: Page, height: number, label: string): Promise<PresentedFrame> {
  const since = await chooseQuality(page, height);
  const shown = await waitForHeight(page, height, since).catch(async () => {
    const last = (await framesSince(page, since)).at(-1);
    throw new Error(
      `${label}: ${height}p never reached the screen; the last frame shown after the choice: ${
        JSON.stringify(last ?? "none")
      }`,
    );
  });
  const delay = shown.at - since;
  ok(
    delay <= SHOW_WITHIN_MS,
    `${label}: ${height}p reached the screen after ${delay.toFixed(0)} ms`,
  );

  // Playback goes on: a frozen video presents no frame, and this wait fails at its deadline.
  await waitInPage(
    page,
    `window.__frames.some((f) => f.at > ${shown.at + KEEP_PLAYING_MS})`,
    KEEP_PLAYING_MS + 15_000,
  ).catch(() => {
    throw new Error(`${label}: the video stopped after switching to ${height}p`);
  });
  const frames = await framesSince(page, since);
  const after = frames.filter((f) => f.at >= shown.at && f.at <= shown.at + KEEP_PLAYING_MS);
  for (const f of after) equal(f.height, height, `${label}: a ${f.height}p frame after the switch`);
  // The picture moves on: judged by the frame numbers in the pixels, since Firefox's callback now
  // and then reports a media time 0.3 s ahead. Never back (but for the renditions' offset at the
  // switch; a jump back to the start of the segment the new rendition began with is up to 50),
  // and 5 s later at least 3.5 s of frames further.
  let highest = -1;
  for (const f of frames.filter((f) => f.number >= 0)) {
    ok(f.number >= highest - FRAME_TOLERANCE, `${label}: frame ${f.number} after ${highest}`);
    highest = Math.max(highest, f.number);
  }
  const advanced = (after.at(-1)!.number - shown.number) / NUMBERED.fps;
  ok(advanced > 3.5, `${label}: only ${advanced.toFixed(2)} s played in the 5 s after the switch`);
  // Each picture is the frame of its time (the median over the 5 s): the new rendition is placed
  // where it belongs on the timeline.
  const offsets = after.map((f) => f.number - f.mediaTime * NUMBERED.fps).sort((x, y) => x - y);
  const offset = offsets[Math.floor(offsets.length / 2)];
  ok(
    Math.abs(offset) <= FRAME_TOLERANCE,
    `${label}: the pictures are ${offset.toFixed(1)} frames from their media time`,
  );
  // The status line never claims the new height before it is on screen, and says it soon after.
  for (const f of frames) {
    ok(
      f.label !== height || f.height === height,
      `${label}: the line said ${height}p while ${f.height}p was on screen`,
    );
  }
  const late = after.filter((f) => f.at > shown.at + 1_000);
  ok(late.length > 0 && late.every((f) => f.label === height), `${label}: the line lags`);
  return shown;
}

for (const kind of BROWSER_KINDS) {
  Deno.test(`the page shows a chosen quality within 1.5 s and keeps playing, down and up, in ${kind}`, async () => {
    const videos = await numberedVideos();
    const server = await startWebServer({ waitReady: true, args: ["--videos", videos] });
    const browser = await launchBrowser(kind);
    try {
      const { page, errors } = await openPage(browser, server.url);
      await joinAs(page, "viewer");
      const button = `#titles button[data-title="${NUMBERED.title}"]:not([disabled])`;
      await page.waitForSelector(button);
      await page.evaluate(FRAME_PROBE);
      await page.click(button);
      await waitInPage(page, `window.__frames.some((f) => f.mediaTime > 0.5)`);

      // The top first (auto may be there already), then down to the Baseline rendition (this
      // froze Chromium) and up again.
      await chooseQuality(page, 720);
      await waitForHeight(page, 720, 0);
      await switchTo(page, 240, `${kind} 720p → 240p`);
      await switchTo(page, 720, `${kind} 240p → 720p`);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
}

/** A link the 240p rendition fits (with its audio, ~0.4 Mbit/s) and the 480p one does not. */
const SLOW_LINK_BYTES_PER_S = 80_000;

for (const kind of BROWSER_KINDS) {
  Deno.test(`at auto, the page steps down on a slow link and up again, never stopping at the renditions' boundary, in ${kind}`, async () => {
    const videos = await numberedVideos();
    const server = await startWebServer({ waitReady: true, args: ["--videos", videos] });
    const proxy = startThrottleProxy(Number(new URL(server.url).port));
    const browser = await launchBrowser(kind);
    try {
      const { page, errors } = await openPage(browser, `http://127.0.0.1:${proxy.port}/`);
      await joinAs(page, "viewer");
      const button = `#titles button[data-title="${NUMBERED.title}"]:not([disabled])`;
      await page.waitForSelector(button);
      await page.evaluate(FRAME_PROBE);
      await page.click(button);
      // Auto reaches the top on the fast link.
      await waitForHeight(page, 720, 0);

      // The server steps down to 240p at a segment boundary; the page plays across it, where the
      // Baseline rendition's audio starts ~27 ms after the High one's ended.
      const slow = await pageNow(page);
      proxy.throttle.bytesPerSecond = SLOW_LINK_BYTES_PER_S;
      const down = await waitForHeight(page, 240, slow, 90_000).catch(async () => {
        const last = (await framesSince(page, slow)).at(-1);
        throw new Error(
          `${kind}: 240p never reached the screen; last frame: ${JSON.stringify(last)}`,
        );
      });
      await waitInPage(
        page,
        `window.__frames.some((f) => f.at > ${down.at + KEEP_PLAYING_MS})`,
        KEEP_PLAYING_MS + 20_000,
      ).catch(() => {
        throw new Error(`${kind}: the video stopped after stepping down to 240p`);
      });
      const after = (await framesSince(page, down.at - 1))
        .filter((f) => f.at <= down.at + KEEP_PLAYING_MS);
      const advanced = (after.at(-1)!.number - down.number) / NUMBERED.fps;
      ok(advanced > 3, `${kind}: only ${advanced.toFixed(2)} s played in the 5 s after 240p`);

      // Fast again: auto steps up.
      const fast = await pageNow(page);
      proxy.throttle.bytesPerSecond = Infinity;
      await waitForHeight(page, 720, fast, 40_000);
      for (const f of await framesSince(page, 0)) {
        ok(
          f.label === 0 || f.label === f.height,
          `${kind}: the line said ${f.label}p at ${f.height}p`,
        );
      }
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      await browser.close();
      await proxy.close();
      await server.stop();
    }
  });
}
