import { equal } from "node:assert/strict";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";

for (const kind of BROWSER_KINDS) {
  Deno.test(`launchBrowser() drives Debian ${kind} under Deno`, async () => {
    const browser = await launchBrowser(kind);
    try {
      const page = await browser.newPage();
      await page.goto("data:text/html,<title>probe</title><p id=p>hello</p>");
      equal(await page.title(), "probe");
      equal(await page.$eval("#p", (p) => p.textContent), "hello");
      // What the page's video path feature-detects: fMP4 through MSE in both browsers.
      const mp4 = await page.evaluate(
        `MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001F, mp4a.40.2"')`,
      );
      equal(mp4, true, `${kind} takes H.264 + AAC in fragmented MP4 through MSE`);
    } finally {
      await browser.close();
    }
  });
}
