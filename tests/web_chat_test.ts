/**
 * The page in real browsers, with a terminal user on the same server: presence, end-to-end chat
 * with `delivered` in every direction, trust on first use, a second tab, a closed tab.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { releaseName, startCli } from "./_helpers.ts";
import { launchBrowser } from "./_browser.ts";
import {
  joinAs,
  openPage,
  sendFromPage,
  startWebServer,
  waitForMessage,
  waitForNotice,
  waitForPeer,
  waitInPage,
} from "./_page.ts";

Deno.test("two browsers (Chromium, Firefox) and a terminal user chat in every direction; a terminal key change is caught by the page's trust on first use", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-web-data-" });
  const server = await startWebServer({ args: ["--data", data] });
  const chromium = await launchBrowser("chromium");
  const firefox = await launchBrowser("firefox");
  try {
    const ann = await openPage(chromium, server.url);
    const ben = await openPage(firefox, server.url);
    await joinAs(ann.page, "ann");
    await joinAs(ben.page, "ben");
    const carol = await startCli(server.port, "carol");

    // Presence both ways.
    await waitForPeer(ann.page, "ben");
    await waitForPeer(ann.page, "carol");
    await waitForPeer(ben.page, "ann");
    await waitForPeer(ben.page, "carol");
    await carol.type("WHO");
    await carol.out.waitFor(/^ann\b/);
    await carol.out.waitFor(/^ben\b/);

    // Every direction, each with "delivered".
    equal(await sendFromPage(ann.page, "ben", "hello ben, from ann"), "delivered");
    await waitForMessage(ben.page, "ann", "hello ben, from ann");
    equal(await sendFromPage(ben.page, "ann", "hi ann, ben here"), "delivered");
    await waitForMessage(ann.page, "ben", "hi ann, ben here");
    equal(await sendFromPage(ann.page, "carol", "carol, ann here"), "delivered");
    await carol.out.waitFor(/^<ann> carol, ann here$/);
    equal(await sendFromPage(ben.page, "carol", "carol, ben here"), "delivered");
    await carol.out.waitFor(/^<ben> carol, ben here$/);
    await carol.type("MESSAGE ann from the terminal");
    await carol.out.waitFor(/delivered to ann/);
    await waitForMessage(ann.page, "carol", "from the terminal");
    await carol.type("MESSAGE ben also from the terminal");
    await carol.out.waitFor(/delivered to ben/);
    await waitForMessage(ben.page, "carol", "also from the terminal");

    // A second tab of the same browser with the same name is told so, before the server.
    const again = await openPage(chromium, server.url);
    await again.page.waitForSelector("#join-form:not([hidden])");
    await again.page.$eval("#name", (input) => {
      (input as unknown as { value: string }).value = "";
    });
    await again.page.type("#name", "ann");
    await again.page.click("#join");
    await waitInPage(
      again.page,
      `document.getElementById("join-error").textContent.includes("another tab")`,
    );
    await again.page.close();

    // carol's key changes: the operator frees the name, carol joins with new keys.
    await carol.type("QUIT");
    equal(await carol.finish(), 0);
    await waitForNotice(ann.page, "carol left");
    await releaseName(data, "carol");
    await server.out.waitFor(/release "carol"/, { timeoutMs: 20_000 });
    const newCarol = await startCli(server.port, "carol");
    await waitForPeer(ann.page, "carol", "changed");
    await waitForNotice(ann.page, "the key of carol changed");
    equal(await sendFromPage(ann.page, "carol", "are you really carol?"), "KEY_CHANGED");
    // The page speaks of its own controls; wire codes stay in the console.
    const shown = String(await ann.page.evaluate(`document.body.innerText`));
    ok(!/\b[A-Z]{2,}_[A-Z_]{2,}\b/.test(shown), `a wire code on the page: ${shown}`);
    ok(shown.includes("Accept new key"), shown);
    // Verify says in one sentence what to do, with carol's key beside ann's own, each as the
    // terminal shows it.
    await newCarol.type("VERIFY carol");
    const carolKey = (await newCarol.out.waitFor(/^carol \(you\): /)).slice("carol (you): ".length);
    await newCarol.type("VERIFY ann");
    const annKey = (await newCarol.out.waitFor(/^ann: \S{4} /)).slice("ann: ".length);
    await ann.page.click('#peers li[data-peer="carol"] button.verify');
    await ann.page.waitForSelector("#verify-dialog[open]");
    const dialog = await ann.page.evaluate(`(() => {
      const at = (id) => document.getElementById(id).getBoundingClientRect();
      const theirs = at("verify-fingerprint");
      const mine = at("verify-mine");
      return {
        text: document.getElementById("verify-text").textContent,
        theirs: document.getElementById("verify-fingerprint").textContent,
        mine: document.getElementById("verify-mine").textContent,
        sideBySide: theirs.right <= mine.left && theirs.top < mine.bottom && mine.top < theirs.bottom,
      };
    })()`) as { text: string; theirs: string; mine: string; sideBySide: boolean };
    equal(dialog.theirs, carolKey);
    equal(dialog.mine, annKey);
    ok(dialog.sideBySide, "the two keys are not side by side");
    equal(dialog.text.match(/[.;:!?](\s|$)/g)?.filter((end) => end.startsWith(".")).length, 1);
    ok(!/\b(VERIFY|ACCEPT)\b|[A-Z]{2,}_[A-Z]/.test(dialog.text), dialog.text);
    await ann.page.click("#verify-close");
    // Accepting the new key lets messages through again.
    await ann.page.click('#peers li[data-peer="carol"] button.accept');
    await waitForPeer(ann.page, "carol", "known");
    equal(await sendFromPage(ann.page, "carol", "welcome back"), "delivered");
    await newCarol.out.waitFor(/^<ann> welcome back$/);

    // A tab that closes is a leave.
    await ben.page.close();
    await waitForNotice(ann.page, "ben left");
    await newCarol.out.waitFor(/^\* ben left/);
    await newCarol.type("QUIT");
    equal(await newCarol.finish(), 0);
    ok(ann.errors.length === 0, `page errors: ${ann.errors.join("\n")}`);
    await Deno.remove(carol.home, { recursive: true });
    await Deno.remove(newCarol.home, { recursive: true });
  } finally {
    await chromium.close();
    await firefox.close();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});
