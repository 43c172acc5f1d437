/**
 * The page's session survives (issue 19, part 2), in real browsers against a real `serve --web`:
 * a refresh rejoins by itself with the conversation and the title that was playing near where it
 * was; the history is encrypted at rest; "Forget this browser" leaves nothing behind; a server
 * restarted under a playing page is met with "Reconnecting…", then the page rejoins by itself
 * and chat with a terminal user works again; a second tab with the same name takes the
 * conversation over only when asked, and the first says so and can take it back.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { startCli } from "./_helpers.ts";
import { launchBrowser } from "./_browser.ts";
import {
  inPage,
  joinAs,
  openPage,
  sendFromPage,
  startWebServer,
  waitForMessage,
  waitForPeer,
  waitInPage,
} from "./_page.ts";

/** What the video shows and which title the page says plays. */
const PLAYING = `(() => {
  const v = document.getElementById("video");
  return { title: document.body.dataset.playing ?? "", time: v.currentTime, paused: v.paused };
})()`;

/**
 * Every value in every object store of the page's database, with bytes read as Latin-1 text, so
 * that a plaintext anywhere in a stored value shows up in the result.
 */
const STORED_TEXT = `(async () => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open("peerstream");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const latin1 = new TextDecoder("latin1");
  const show = (value) => {
    if (value instanceof ArrayBuffer) return latin1.decode(new Uint8Array(value));
    if (ArrayBuffer.isView(value)) {
      return latin1.decode(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    }
    if (value instanceof Map) return [...value].map(([k, v]) => show(k) + show(v)).join(" ");
    if (typeof value === "object" && value !== null) {
      return Object.entries(value).map(([k, v]) => k + "=" + show(v)).join(" ");
    }
    return String(value);
  };
  const out = { stores: [...db.objectStoreNames], records: 0, text: "" };
  for (const name of db.objectStoreNames) {
    const values = await new Promise((resolve, reject) => {
      const req = db.transaction(name, "readonly").objectStore(name).getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    if (name === "history") out.records += values.length;
    out.text += values.map(show).join("\\n");
  }
  db.close();
  return out;
})()`;

/** What this origin keeps: database names (where the browser lists them) and localStorage keys. */
const LEFT_BEHIND = `(async () => {
  const names = typeof indexedDB.databases === "function"
    ? (await indexedDB.databases()).map((d) => d.name) : ["(cannot list)"];
  return { databases: names, local: Object.keys(localStorage), session: Object.keys(sessionStorage) };
})()`;

async function pageText(page: Page): Promise<string> {
  return String(await page.evaluate(`document.body.innerText`));
}

Deno.test("a refresh during playback in Chromium rejoins by itself, keeps the conversation (encrypted at rest) and resumes the title near where it was; a second tab takes over only when asked; Forget this browser leaves nothing", async () => {
  const server = await startWebServer({ waitReady: true });
  const browser = await launchBrowser("chromium");
  const carol = await startCli(server.port, "carol");
  try {
    const { page, errors } = await openPage(browser, server.url);
    await joinAs(page, "ann");
    await waitForPeer(page, "carol");
    equal(await sendFromPage(page, "carol", "secret plans at noon"), "delivered");
    await carol.out.waitFor(/^<ann> secret plans at noon$/);
    await carol.type("MESSAGE ann the password is marmalade");
    await waitForMessage(page, "carol", "marmalade");

    await page.waitForSelector('#titles button[data-title="testcard"]:not([disabled])');
    await page.click('#titles button[data-title="testcard"]');
    const before = await waitInPage<{ time: number }>(page, `${PLAYING}.time > 5 && ${PLAYING}`);

    await page.reload();
    // No typing: the page rejoins by itself, with the same name.
    await page.waitForSelector('body[data-joined="ann"]', { timeout: 30_000 });
    const shown = await waitForMessage(page, "carol", "marmalade");
    ok(shown.text.includes("the password is marmalade"));
    await waitInPage(
      page,
      `[...document.querySelectorAll("#messages li[data-to]")]
        .some((li) => li.textContent.includes("secret plans at noon"))`,
    );
    const resumed = await waitInPage<{ title: string; time: number }>(
      page,
      `${PLAYING}.title === "testcard" && ${PLAYING}.time > 0 && !${PLAYING}.paused && ${PLAYING}`,
      30_000,
    );
    // It starts again at the segment (2 s) holding the saved position, not from the start.
    ok(
      resumed.time >= before.time - 2.5,
      `resumed at ${resumed.time.toFixed(1)} s, was at ${before.time.toFixed(1)} s`,
    );
    ok(resumed.time < before.time + 8, `resumed at ${resumed.time} s, past ${before.time} s`);
    await waitInPage(
      page,
      inPage(`(t) => document.getElementById("video").currentTime > t`, resumed.time + 1),
    );

    // At rest the history is ciphertext: the stored values hold neither message.
    const stored = await page.evaluate(STORED_TEXT) as {
      stores: string[];
      records: number;
      text: string;
    };
    ok(stored.stores.includes("history"), `stores: ${stored.stores.join(", ")}`);
    ok(stored.records >= 2, `${stored.records} history records`);
    ok(!stored.text.includes("marmalade"), "a received message is stored in plaintext");
    ok(!stored.text.includes("secret plans"), "a sent message is stored in plaintext");

    // A second tab with the same name says so and offers to move the conversation; the first
    // tab then says it moved, and takes it back with the same button.
    const second = await openPage(browser, server.url);
    await second.page.bringToFront();
    await waitInPage(
      second.page,
      `document.getElementById("join-error").textContent.includes("open in another tab")`,
    );
    await second.page.bringToFront();
    await second.page.click("#join-take-back");
    await second.page.waitForSelector('body[data-joined="ann"]');
    await waitForMessage(second.page, "carol", "marmalade");
    // The tab in front is the one waited on (a background tab runs no animation frames).
    await page.bringToFront();
    await waitInPage(page, `document.body.dataset.connection === "moved"`);
    ok((await pageText(page)).includes("moved to another tab"), await pageText(page));
    ok(await page.$eval("#send", (b) => (b as unknown as { disabled: boolean }).disabled));
    await page.click("#take-back");
    await page.waitForSelector('body[data-joined="ann"][data-connection="connected"]');
    await second.page.bringToFront();
    await waitInPage(second.page, `document.body.dataset.connection === "moved"`);
    await second.page.close();
    await page.bringToFront();
    equal(await sendFromPage(page, "carol", "back in the first tab"), "delivered");
    await carol.out.waitFor(/^<ann> back in the first tab$/);

    // Forget this browser: identity, history and keys go; the page is back at the join form.
    await page.click("#forget");
    await page.click("#forget-yes");
    await page.waitForSelector("#join-form:not([hidden])");
    await carol.out.waitFor(/^\* ann left/);
    const left = await waitInPage<{ databases: string[]; local: string[] }>(
      page,
      `${LEFT_BEHIND}.then((r) => !r.databases.includes("peerstream") && r)`,
    );
    equal(left.local.length, 0, `localStorage keeps ${left.local.join(", ")}`);
    equal(await page.$eval("#name", (input) => (input as unknown as { value: string }).value), "");
    ok(!(await pageText(page)).includes("marmalade"), "the forgotten conversation is still shown");
    equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
  } finally {
    await carol.finish();
    await browser.close();
    await server.stop();
    await Deno.remove(carol.home, { recursive: true }).catch(() => {});
  }
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("a server restarted under a playing page in Firefox: the page says Reconnecting…, disables Send, then rejoins by itself, plays the title again near where it was, and chat with a terminal user works again", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-web-data-" });
  const args = [
    "--data",
    data,
    "--port",
    String(freePort()),
    "--web",
    `127.0.0.1:${freePort()}`,
  ];
  let server = await startWebServer({ args });
  const browser = await launchBrowser("firefox");
  let carol = await startCli(server.port, "carol");
  try {
    const { page, errors } = await openPage(browser, server.url);
    await joinAs(page, "ben");
    await waitForPeer(page, "carol");
    equal(await sendFromPage(page, "carol", "before the restart"), "delivered");
    await carol.out.waitFor(/^<ben> before the restart$/);
    await page.waitForSelector('#titles button[data-title="testcard"]:not([disabled])');
    await page.click('#titles button[data-title="testcard"]');
    const before = await waitInPage<{ time: number }>(page, `${PLAYING}.time > 4 && ${PLAYING}`);

    await server.stop();
    await carol.finish();
    await waitInPage(
      page,
      `document.body.dataset.connection === "reconnecting" &&
        document.getElementById("status").textContent.includes("Reconnecting")`,
    );
    ok(await page.$eval("#send", (b) => (b as unknown as { disabled: boolean }).disabled));
    const plays = await page.$$eval(
      "#titles button[data-title]",
      (buttons) => buttons.map((b) => (b as unknown as { disabled: boolean }).disabled),
    );
    ok(plays.length > 0 && plays.every((disabled) => disabled), `Play enabled: ${plays}`);
    const reason = await pageText(page);
    ok(reason.includes("Reconnecting"), reason);
    ok(!/\b[A-Z]{2,}_[A-Z_]{2,}\b/.test(reason), `a wire code on the page: ${reason}`);

    server = await startWebServer({ args });
    await waitInPage(
      page,
      `document.body.dataset.connection === "connected" && document.body.dataset.joined === "ben"`,
      60_000,
    );
    // The title that was playing plays again, near where it was when the server went away.
    const resumed = await waitInPage<{ title: string; time: number }>(
      page,
      `${PLAYING}.title === "testcard" && ${PLAYING}.time > 0 && !${PLAYING}.paused && ${PLAYING}`,
      60_000,
    );
    ok(
      resumed.time >= before.time - 2.5,
      `resumed at ${resumed.time.toFixed(1)} s, was at ${before.time.toFixed(1)} s`,
    );
    await waitInPage(
      page,
      inPage(`(t) => document.getElementById("video").currentTime > t`, resumed.time + 1),
    );
    carol = await startCli(server.port, "carol", { home: carol.home });
    await waitForPeer(page, "carol");
    ok(!(await page.$eval("#send", (b) => (b as unknown as { disabled: boolean }).disabled)));
    equal(await sendFromPage(page, "carol", "after the restart"), "delivered");
    await carol.out.waitFor(/^<ben> after the restart$/);
    await carol.type("MESSAGE ben welcome back");
    await waitForMessage(page, "carol", "welcome back");
    // The conversation from before the restart is still there.
    await waitInPage(
      page,
      `[...document.querySelectorAll("#messages li[data-to]")]
        .some((li) => li.textContent.includes("before the restart"))`,
    );
    // The browser itself logs each refused WebSocket while the server is down; nothing else.
    const refused = /can.t establish a connection|WebSocket connection to .* failed/;
    const other = errors.filter((error) => !refused.test(error));
    equal(other.length, 0, `page errors: ${other.join("\n")}`);
  } finally {
    await carol.finish();
    await browser.close();
    await server.stop();
    await Deno.remove(carol.home, { recursive: true }).catch(() => {});
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
});
