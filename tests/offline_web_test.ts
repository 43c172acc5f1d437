/**
 * Sealed offline delivery in a real browser (Chromium): a message queued while the page was
 * closed is shown on its next join, marked as sent earlier, and its sender told it was delivered.
 * @module
 */

import { deepEqual, equal } from "node:assert/strict";
import { connectClient } from "./_helpers.ts";
import { launchBrowser } from "./_browser.ts";
import { inPage, joinAs, openPage, startWebServer, waitForMessage, waitInPage } from "./_page.ts";

Deno.test("a page that was closed gets the message queued for it on its next join, marked as sent earlier", async () => {
  const server = await startWebServer();
  const chromium = await launchBrowser("chromium");
  try {
    const alice = await connectClient(server.port, "alice");
    const first = await openPage(chromium, server.url);
    await joinAs(first.page, "pat");
    await alice.waitFor((e) => e.kind === "joined" && e.name === "pat");
    await first.page.close();
    await alice.waitFor((e) => e.kind === "left" && e.name === "pat");
    deepEqual(await alice.session.sendText("pat", "while your tab was closed"), {
      queued: true,
      qseq: 1,
    });
    // The same browser profile: the page keeps its identity in IndexedDB.
    const again = await openPage(chromium, server.url);
    await joinAs(again.page, "pat");
    await waitForMessage(again.page, "alice", "while your tab was closed");
    const shown = await waitInPage(
      again.page,
      inPage(`() => {
        const item = document.querySelector("#messages li[data-from='alice']");
        return item === null ? false : { queued: item.dataset.queued ?? "", text: item.textContent };
      }`),
    ) as { queued: string; text: string };
    equal(shown.queued, "true");
    equal(shown.text.includes("sent earlier, while you were away"), true, shown.text);
    await alice.waitFor((e) => e.kind === "queue-notice" && e.to === "pat");
    deepEqual(again.errors, []);
    await alice.session.quit();
  } finally {
    await chromium.close();
    await server.stop();
  }
});
