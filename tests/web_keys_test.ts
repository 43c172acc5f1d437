/**
 * The page without a mouse, in Chromium and Firefox: join, send, play, the player's keys (mute,
 * pause, seek, volume, full screen) and stop, every control reached with Tab and showing where
 * the focus is.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { connectClient } from "./_helpers.ts";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import { inPage, openPage, startWebServer, waitForPeer, waitInPage } from "./_page.ts";

/** What has the focus, and whether it shows: an outline of at least 2 px. */
const FOCUS = `(() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  return {
    id: e.id, title: e.dataset?.title ?? "",
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
})()`;

/**
 * Presses Tab (Shift+Tab with `back`) until the element matching `selector` has the focus, and
 * checks the focus shows. (Firefox stops showing the focus once Tab has left the document and
 * come back, so a journey goes back rather than round.)
 *
 * @returns How many Tabs it took.
 */
async function tabTo(page: Page, selector: string, back = false, max = 80): Promise<number> {
  for (let i = 1; i <= max; i++) {
    if (back) {
      await page.keyboard.down("Shift");
      await page.keyboard.press("Tab");
      await page.keyboard.up("Shift");
    } else {
      await page.keyboard.press("Tab");
    }
    const here = await page.evaluate(inPage(`(s) => document.activeElement.matches(s)`, selector));
    if (here) {
      const focus = await page.evaluate(FOCUS) as { outline: boolean; id: string };
      ok(focus.outline, `the focus on ${selector} does not show`);
      return i;
    }
  }
  throw new Error(`Cannot reach ${selector} with ${max} Tabs`);
}

const TIME = `document.getElementById("video").currentTime`;

for (const kind of BROWSER_KINDS) {
  Deno.test(`the page works from the keyboard alone in ${kind}: join, send, play, keys, seek, full screen, stop`, async () => {
    const server = await startWebServer({ waitReady: true });
    const browser = await launchBrowser(kind);
    const bob = await connectClient(server.port, "bob");
    try {
      const { page, errors } = await openPage(browser, server.url);
      await page.setViewport({ width: 1280, height: 800 });
      // Join: the name field has the focus on arrival; Enter submits.
      await page.waitForSelector("#join-form:not([hidden])");
      equal((await page.evaluate(FOCUS) as { id: string }).id, "name");
      await page.keyboard.type("kim");
      await page.keyboard.press("Enter");
      await page.waitForSelector('body[data-joined="kim"]');
      await waitForPeer(page, "bob");

      // Send.
      await tabTo(page, "#text");
      await page.keyboard.type("hello from the keyboard");
      await page.keyboard.press("Enter");
      await page.waitForSelector('#messages li[data-to="bob"][data-state="delivered"]');

      // Play.
      await page.waitForSelector('#titles button[data-title="testcard"]:not([disabled])');
      await tabTo(page, '#titles button[data-title="testcard"]', true);
      await page.keyboard.press("Enter");
      await waitInPage(page, `${TIME} > 0.5`);

      // Mute and unmute, volume down.
      await page.keyboard.press("m");
      await page.waitForSelector('#mute[aria-pressed="true"]');
      equal(await page.evaluate(`document.getElementById("video").muted`), true);
      await page.keyboard.press("m");
      await page.waitForSelector('#mute[aria-pressed="false"]');
      await page.keyboard.press("ArrowDown");
      await waitInPage(page, `Math.abs(document.getElementById("video").volume - 0.9) < 0.01`);

      // Pause and resume.
      await page.keyboard.press("k");
      await waitInPage(page, `document.getElementById("video").paused`);
      await page.waitForSelector("#pause[data-paused]");
      await page.keyboard.press("k");
      await waitInPage(page, `!document.getElementById("video").paused`);

      // Seek with the position slider's arrows: 5 s at a time, not a tenth.
      await tabTo(page, "#seek", true);
      const before = await page.evaluate(TIME) as number;
      await page.keyboard.press("ArrowRight");
      const after = await waitInPage<number>(
        page,
        inPage(`(t) => { const now = ${TIME}; return now > t + 3 && now; }`, before),
      );
      ok(after > before + 3, `seeked from ${before} to ${after}`);
      // The scrubber shows where it is and what is buffered.
      await waitInPage(
        page,
        `parseFloat(document.getElementById("played").style.width) > 0 &&
         parseFloat(document.getElementById("buffered").style.width) > 0 &&
         document.getElementById("time").textContent.includes(" / 0:12")`,
      );

      // Full screen and back.
      await page.keyboard.press("f");
      await waitInPage(page, `document.fullscreenElement?.id === "player"`);
      await page.waitForSelector('#fullscreen[aria-pressed="true"]');
      await page.keyboard.press("f");
      await waitInPage(page, `document.fullscreenElement === null`);

      // Stop.
      await tabTo(page, "#stop");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#player[hidden]");
      await server.out.waitFor(/stream #\d+ "kim" testcard: (stopped|finished)/);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      await bob.session.close();
      await browser.close();
      await server.stop();
    }
  });
}
