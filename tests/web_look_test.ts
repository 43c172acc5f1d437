/**
 * The page as people see it, in Chromium and Firefox: the landing, chat and playing states at
 * 1280×800 and 390×844 (chat with its times, key states and unread counts), saved as screenshots and checked not blank, not scrolling sideways, the
 * video in view while it plays, and with no serious or critical axe-core violation.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { connectClient } from "./_helpers.ts";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import { lookAt } from "./_look.ts";
import {
  joinAs,
  openPage,
  sendFromPage,
  startWebServer,
  waitForMessage,
  waitForPeer,
  waitInPage,
} from "./_page.ts";

for (const kind of BROWSER_KINDS) {
  Deno.test(`the page looks right and passes axe in ${kind}: landing, chat, playing, at desktop and phone sizes`, async () => {
    const server = await startWebServer({ waitReady: true });
    const browser = await launchBrowser(kind);
    const bob = await connectClient(server.port, "bob");
    const carol = await connectClient(server.port, "carol");
    try {
      const { page, errors } = await openPage(browser, server.url);
      await page.waitForSelector("#join-form:not([hidden])");
      await lookAt(page, `${kind}-landing`);

      await page.setViewport({ width: 1280, height: 800 });
      await joinAs(page, "ann");
      await waitForPeer(page, "bob", "new");
      await page.waitForSelector('#titles button[data-title="testcard"]:not([disabled])');
      equal(await sendFromPage(page, "bob", "Shall we watch the test card?"), "delivered");
      await bob.session.sendText("ann", "Yes, start it");
      await waitForMessage(page, "bob", "start it");
      // Chat's details: each message has its time, a received one its sender's key state.
      const meta = await page.$$eval("#messages li", (items) =>
        items.map((item) => ({
          time: item.querySelector("time")?.getAttribute("datetime") ?? "",
          badge: item.querySelector(".badge")?.textContent ?? "",
        })));
      equal(meta.length, 2);
      ok(meta.every((m) => !Number.isNaN(Date.parse(m.time))), JSON.stringify(meta));
      equal(meta[0].badge, "");
      equal(meta[1].badge, "new key");
      // Messages from carol while ann talks to bob are counted on carol, and in the tab's title.
      await waitForPeer(page, "carol");
      await carol.session.sendText("ann", "Room for one more?");
      await carol.session.sendText("ann", "I'm bringing popcorn");
      await waitForMessage(page, "carol", "popcorn");
      const unread = `(() => ({
        carol: document.querySelector('#peers li[data-peer="carol"] .unread')?.firstChild?.textContent ?? "",
        bob: document.querySelector('#peers li[data-peer="bob"] .unread') !== null,
        title: document.title,
      }))()`;
      deepEqual(await page.evaluate(unread), { carol: "2", bob: false, title: "(2) peerstream" });
      await lookAt(page, `${kind}-chat`);
      await page.select("#to", "carol");
      deepEqual(await page.evaluate(unread), { carol: "", bob: false, title: "peerstream" });

      await page.setViewport({ width: 1280, height: 800 });
      await page.click('#titles button[data-title="testcard"]');
      await waitInPage(page, `document.getElementById("video").currentTime > 1`);
      await lookAt(page, `${kind}-playing`);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      await bob.session.close();
      await carol.session.close();
      await browser.close();
      await server.stop();
    }
  });
}
