/**
 * The page as people see it, in Chromium and Firefox: the landing, chat, rooms (a room open, an
 * invitation), playing, reconnecting and
 * key-changed states at 1280×800 and 390×844 (chat with its times, key states and unread counts; the
 * library's cards with the posters the server extracts and serves), saved as screenshots and
 * checked not blank, not scrolling sideways nor cut off at the edge, the video in view while it
 * plays, and with no serious or critical axe-core violation; the key-changed state in the dark
 * theme (the system asking for dark), the others in the light one.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { connectClient, releaseName } from "./_helpers.ts";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import { checkDark, lookAt, VIEWPORTS } from "./_look.ts";
import {
  inPage,
  joinAs,
  openPage,
  sendFromPage,
  startWebServer,
  waitForMessage,
  waitForNotice,
  waitForPeer,
  waitInPage,
} from "./_page.ts";

/** Where the page's parts are, at each of the look's sizes. */
async function layoutAtEverySize(page: Page): Promise<unknown[]> {
  const out = [];
  for (const size of VIEWPORTS) {
    await page.setViewport({ width: size.width, height: size.height });
    out.push(
      await page.evaluate(`(() => {
        const box = (id) => document.getElementById(id).getBoundingClientRect();
        return {
          size: innerWidth,
          activity: box("notice-list").height,
          messages: box("messages").top + scrollY,
          library: box("library").top + scrollY,
          page: document.documentElement.scrollHeight,
        };
      })()`),
    );
  }
  return out;
}

/** Reads a response's body, so the connection is not left open. */
async function drain(response: Response): Promise<Response> {
  await response.body?.cancel();
  return response;
}

for (const kind of BROWSER_KINDS) {
  Deno.test(`the page looks right and passes axe in ${kind}: landing, chat, rooms, playing, reconnecting, at desktop and phone sizes`, async () => {
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
      // Every title's poster is served (an image the browser may keep) and shown on its card.
      const titles = await page.$$eval(
        "#titles li[data-title]",
        (items) => items.map((item) => item.getAttribute("data-title") ?? ""),
      );
      equal(titles.length, 3);
      for (const title of titles) {
        const response = await fetch(`${server.url}posters/${encodeURIComponent(title)}.jpg`);
        equal(response.status, 200, title);
        equal(response.headers.get("content-type"), "image/jpeg");
        ok(/max-age=\d+/.test(response.headers.get("cache-control") ?? ""));
        const bytes = new Uint8Array(await response.arrayBuffer());
        deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], `${title}: a JPEG`);
      }
      equal((await fetch(`${server.url}posters/nope.jpg`).then(drain)).status, 404);
      await waitInPage(
        page,
        inPage(
          `(n) => [...document.querySelectorAll("#titles .poster img")]
            .filter((img) => img.complete && img.naturalWidth > 0).length === n`,
          titles.length,
        ),
      );
      await lookAt(page, `${kind}-chat`);
      await page.select("#to", "carol");
      deepEqual(await page.evaluate(unread), { carol: "", bob: false, title: "peerstream" });

      // Rooms beside the people: an invitation from bob, and ann's own room open with its lines.
      await page.setViewport({ width: 1280, height: 800 });
      await bob.session.rooms.create("film");
      await bob.session.rooms.change("film", { op: "invite", subject: "ann" });
      await page.waitForSelector('#rooms li[data-room="film"][data-role="invited"]');
      await page.type("#room-name", "club");
      await page.click("#room-create");
      await page.waitForSelector("#room:not([hidden]) #room-messages li[data-change]");
      await page.select("#room-invite-who", "bob");
      await page.click("#room-invite");
      await page.waitForSelector('#room-members li[data-member="bob"][data-invited]');
      await lookAt(page, `${kind}-rooms`);
      await page.click('#rooms li[data-room="film"] button.room-open');
      await page.waitForSelector("#room-invitation:not([hidden])");
      await lookAt(page, `${kind}-room-invitation`);
      await page.click("#room-close");
      // Back at the top, where a person starts a title (the player does not scroll itself).
      await page.evaluate("scrollTo(0, 0)");

      await page.setViewport({ width: 1280, height: 800 });
      await page.click('#titles button[data-title="testcard"]');
      await waitInPage(page, `document.getElementById("video").currentTime > 1`);
      await lookAt(page, `${kind}-playing`);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);

      // The server goes away under the page: it says it is reconnecting (its failed tries are
      // the browser's own console errors, so they are not counted).
      await page.setViewport({ width: 1280, height: 800 });
      await server.stop();
      await page.waitForSelector('body[data-connection="reconnecting"] #offline:not([hidden])');
      await lookAt(page, `${kind}-reconnecting`);
    } finally {
      await bob.session.close();
      await carol.session.close();
      await browser.close();
      await server.stop();
    }
  });
}

for (const kind of BROWSER_KINDS) {
  Deno.test(`the key-changed state looks right and passes axe in ${kind}'s dark theme, at desktop and phone sizes`, async () => {
    const data = await Deno.makeTempDir({ prefix: "peerstream-look-data-" });
    // Titles ready first: a title becoming ready grows the library while the layout is compared.
    const server = await startWebServer({ args: ["--data", data], waitReady: true });
    const browser = await launchBrowser(kind, { colorScheme: "dark" });
    let carol = await connectClient(server.port, "carol");
    try {
      const { page, errors } = await openPage(browser, server.url);
      await page.setViewport({ width: 1280, height: 800 });
      await joinAs(page, "ann");
      await waitForPeer(page, "carol", "new");
      equal(await sendFromPage(page, "carol", "see you at the film"), "delivered");
      // carol comes back with new keys: the operator frees the name, she joins again.
      await carol.session.close();
      await waitForNotice(page, "carol left");
      await releaseName(data, "carol");
      await server.out.waitFor(/release "carol"/, { timeoutMs: 20_000 });
      carol = await connectClient(server.port, "carol");
      await waitForPeer(page, "carol", "changed");
      equal(await sendFromPage(page, "carol", "are you really carol?"), "KEY_CHANGED");
      // The activity list has a height of its own: six more notices move nothing on the page.
      const before = await layoutAtEverySize(page);
      for (const name of ["dan", "eve", "fay"]) {
        const guest = await connectClient(server.port, name);
        await waitForNotice(page, `${name} joined`);
        await guest.session.close();
        await waitForNotice(page, `${name} left`);
      }
      deepEqual(await layoutAtEverySize(page), before);
      await checkDark(page, `${kind}-key-changed`);
      await lookAt(page, `${kind}-key-changed-dark`);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      await carol.session.close();
      await browser.close();
      await server.stop();
      await Deno.remove(data, { recursive: true });
    }
  });
}
