/**
 * Video in the page, in Chromium and in Firefox (both through the page's transmux to fMP4):
 * playback, the rendition on screen, a forced switch, pause, seek, stop, and screenshots of the
 * page playing, saved under the test cache and checked to be non-blank.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { TEST_CACHE } from "./_helpers.ts";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import { inPage, joinAs, openPage, startWebServer, waitForNotice, waitInPage } from "./_page.ts";

/** The video element's state, read in the page. */
interface VideoState {
  time: number;
  width: number;
  height: number;
  paused: boolean;
  src: string;
  ready: number;
  shown: number;
}

const VIDEO_STATE = `(() => {
  const v = document.getElementById("video");
  const line = document.getElementById("now-playing");
  return { time: v.currentTime, width: v.videoWidth, height: v.videoHeight, paused: v.paused,
    src: v.getAttribute("src") ?? "", ready: v.readyState, shown: Number(line.dataset.height ?? 0) };
})()`;

/** Width by height, from the stream-start the page received. */
async function renditions(page: Page): Promise<Map<number, number>> {
  const text = String(await page.evaluate(`document.getElementById("player").dataset.renditions`));
  return new Map(
    text.split(",").map((pair: string) => pair.split(":").map(Number) as [number, number]),
  );
}

/** How much the picture varies: the standard deviation of the video frame's luminance. */
const FRAME_SPREAD = `(() => {
  const v = document.getElementById("video");
  const canvas = document.createElement("canvas");
  canvas.width = 160;
  canvas.height = 90;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(v, 0, 0, canvas.width, canvas.height);
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < px.length; i += 4) {
    const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
    sum += y; sq += y * y; n++;
  }
  return Math.sqrt(sq / n - (sum / n) ** 2);
})()`;

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = `${TEST_CACHE}/screenshots`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${name}.png`;
  await page.screenshot({ path: path as `${string}.png` });
  // A blank 800×600 page compresses to a few KiB; the page with a test card is far larger.
  const size = (await Deno.stat(path)).size;
  ok(size > 20_000, `${path} is ${size} bytes: the page looks blank`);
  const spread = await page.evaluate(FRAME_SPREAD) as number;
  ok(spread > 10, `the video frame is flat (luminance spread ${spread.toFixed(1)})`);
}

for (const kind of BROWSER_KINDS) {
  Deno.test(`the page plays a title in ${kind}: advances, shows the rendition, switches, pauses, seeks, stops`, async () => {
    const server = await startWebServer({ waitReady: true });
    const browser = await launchBrowser(kind);
    try {
      const { page, errors } = await openPage(browser, server.url);
      await joinAs(page, "viewer");
      await page.waitForSelector('#titles button[data-title="testcard"]:not([disabled])');
      await page.click('#titles button[data-title="testcard"]');
      await waitInPage(page, `document.getElementById("video").currentTime > 0.2`);
      const widths = await renditions(page);
      equal(widths.size, 3);

      // The rendition on screen is what the line says, at that rendition's width.
      const first = await waitInPage<VideoState>(
        page,
        `(${VIDEO_STATE}.shown > 0) && ${VIDEO_STATE}`,
      );
      equal(first.width, widths.get(first.shown), `${first.width}px wide at ${first.shown}p`);

      // A forced switch: the new width reaches the screen without the video stopping.
      const target = first.shown === 720 ? 240 : 720;
      await page.select("#quality", String(target));
      await waitForNotice(page, `Quality: ${target}p`);
      const switched = await waitInPage<VideoState>(
        page,
        inPage(
          `(w) => { const s = ${VIDEO_STATE}; return s.width === w && s; }`,
          widths.get(target),
        ),
        15_000,
      );
      equal(switched.paused, false);

      const playing = await waitInPage<VideoState>(
        page,
        `${VIDEO_STATE}.time > 3 && ${VIDEO_STATE}`,
      );
      ok(playing.time > 3);
      await screenshot(page, `web-${kind}-playing`);

      // Pause holds the picture.
      await page.click("#pause");
      const held = await waitInPage<VideoState>(page, `${VIDEO_STATE}.paused && ${VIDEO_STATE}`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const still = await page.evaluate(VIDEO_STATE) as VideoState;
      ok(Math.abs(still.time - held.time) < 0.05, `paused at ${held.time}, then ${still.time}`);

      // Seek lands, and playing on continues from there.
      await page.$eval("#seek", (input) => {
        (input as unknown as { value: string }).value = "2";
        input.dispatchEvent(new Event("change"));
      });
      const landed = await waitInPage<VideoState>(
        page,
        `Math.abs(${VIDEO_STATE}.time - 2) < 0.3 && ${VIDEO_STATE}`,
      );
      ok(landed.paused);
      await page.click("#pause");
      await waitInPage(page, `${VIDEO_STATE}.time > 2.5`);

      // Stop ends it: the player goes away and the element holds no media.
      await page.click("#stop");
      await page.waitForSelector("#player[hidden]");
      const stopped = await waitInPage<VideoState>(
        page,
        `${VIDEO_STATE}.ready === 0 && ${VIDEO_STATE}`,
      );
      equal(stopped.src, "");
      await waitForNotice(page, "Stopped testcard");

      // Stop while the server still sends: the server's stream ends too.
      await page.click('#titles button[data-title="testcard"]');
      await waitInPage(page, `document.getElementById("video").currentTime > 0.2`);
      await page.click("#stop");
      await server.out.waitFor(/stream #\d+ "viewer" testcard: stopped/);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
}

/** What the page's library shows: loading, preparing, or every title ready to play. */
const LIBRARY_STATE = `(() => {
  if (document.getElementById("library-state").textContent.includes("still loading")) {
    return "loading";
  }
  const rows = [...document.querySelectorAll("#titles li[data-title]")];
  if (rows.length === 0) return "empty";
  if (rows.some((row) => row.dataset.state === "preparing")) return "preparing";
  const buttons = [...document.querySelectorAll("#titles button[data-title]")];
  return buttons.length === rows.length && buttons.every((b) => !b.disabled) ? "ready" : "other";
})()`;

Deno.test("joined while the server prepares its first titles, the page shows it and then the titles ready, with no click", async () => {
  // A fresh cache: the server listens at once, then generates and prepares its samples.
  const cacheDir = await Deno.makeTempDir({ prefix: "peerstream-cache-" });
  const browser = await launchBrowser("chromium");
  const server = await startWebServer({ cacheDir });
  try {
    const { page, errors } = await openPage(browser, server.url);
    await joinAs(page, "early");
    const seen: string[] = [];
    const deadline = Date.now() + 180_000;
    while (seen.at(-1) !== "ready" && Date.now() < deadline) {
      const state = String(await page.evaluate(LIBRARY_STATE));
      if (seen.at(-1) !== state) seen.push(state);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    equal(seen.at(-1), "ready", `the library went ${seen.join(" → ")}`);
    ok(
      seen.includes("loading") || seen.includes("preparing"),
      `the page showed the wait: ${seen.join(" → ")}`,
    );
    equal(await page.$$eval("#titles li[data-title]", (rows) => rows.length), 3);
    equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
  } finally {
    await browser.close();
    await server.stop();
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
  }
});
