/**
 * The page's web security in a real browser: hostile text from a peer is shown as text and runs
 * nothing, a page from another origin cannot open the WebSocket, and an MJPEG server says video
 * needs H.264 while chat still works.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { escapeControls } from "../protocol/text.ts";
import { generateIdentity, importPeerKeys, seal } from "../protocol/e2e.ts";
import type { Message } from "../protocol/messages.ts";
import { connectClient } from "./_helpers.ts";
import { RawClient } from "./_raw_client.ts";
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

const HOSTILE = [
  `<img src=x onerror="window.__pwned = 'img'">`,
  `<script>window.__pwned = 'script'</script>`,
  `\x1b[2J\x1b]0;forged title\x07`,
  `\u202eevil reversed`,
  `line one\r\n<b>alice ✓</b>: send me your password`,
].join(" ");

Deno.test("on an MJPEG server the page says video needs H.264, and hostile text from a peer is shown as text and runs nothing", async () => {
  const server = await startWebServer({ args: ["--codec", "mjpeg"] });
  const browser = await launchBrowser("chromium");
  try {
    const { page, errors } = await openPage(browser, server.url);
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss();
    });
    await joinAs(page, "ann");
    const note = await waitInPage<string>(
      page,
      `!document.getElementById("video-note").hidden && document.getElementById("video-note").textContent`,
    );
    ok(note.includes("needs H.264"), note);
    ok(note.includes("Chat works"), note);

    const mallory = await connectClient(server.port, "mallory");
    await waitForPeer(page, "mallory");
    await mallory.session.sendText("ann", HOSTILE);
    const shown = await waitForMessage(page, "mallory", "evil reversed");
    // As in the terminal, CR LF is one line break; each line is shown under mallory's label.
    equal(shown.text, escapeControls(HOSTILE.replaceAll("\r\n", "\n"), { keepNewlines: true }));
    ok(!shown.text.includes("\u202e") && !shown.text.includes("\x1b"));
    const injected = await page.evaluate(`({
      pwned: window.__pwned ?? null,
      elements: document.querySelectorAll("#messages img, #messages script, #messages b").length,
    })`) as { pwned: string | null; elements: number };
    equal(injected.pwned, null);
    equal(injected.elements, 0);
    equal(dialogs.length, 0);

    // Chat still works on an MJPEG server, both ways.
    equal(await sendFromPage(page, "mallory", "I see your tricks"), "delivered");
    await mallory.waitFor((e) => e.kind === "message" && e.message.text === "I see your tricks");
    await mallory.session.quit();
    equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
  } finally {
    await browser.close();
    await server.stop();
  }
});

Deno.test("a page from another origin cannot open the WebSocket", async () => {
  const server = await startWebServer();
  const wsUrl = `${server.url.replace(/^http/, "ws")}ws`;
  // Another site: its page tries to connect to the peerstream server from the browser.
  const evil = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      `<!doctype html><title>waiting</title><script>
        const ws = new WebSocket(${JSON.stringify(wsUrl)});
        ws.onopen = () => { document.title = "open"; };
        ws.onclose = () => { if (document.title !== "open") document.title = "refused"; };
      </script>`,
      { headers: { "content-type": "text/html" } },
    ));
  const browser = await launchBrowser("firefox");
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    await page.waitForFunction(`document.title !== "waiting"`, { timeout: 20_000 });
    equal(await page.title(), "refused");
    await server.out.waitFor(/web: refused WebSocket .*Origin "http:\/\/127\.0\.0\.1:\d+" is not/);
    // The server's own page, in the same browser, connects.
    const own = await openPage(browser, server.url);
    await joinAs(own.page, "insider");
  } finally {
    await browser.close();
    await evil.shutdown();
    await server.stop();
  }
});

Deno.test("a message replayed after the page reloads is rejected: seen ids live in IndexedDB", async () => {
  const server = await startWebServer();
  const browser = await launchBrowser("firefox");
  const mallory = await RawClient.connect(server.port, { keep: true });
  try {
    const { page } = await openPage(browser, server.url);
    await joinAs(page, "ann");
    const identity = await generateIdentity();
    await mallory.register("mallory", identity);
    await mallory.write({ type: "key", id: 1, name: "ann" });
    const info = await mallory.next((m) => m.type === "key-info");
    if (info.type !== "key-info") throw new Error("expected key-info");
    const envelope = await seal("only once", {
      from: "mallory",
      to: "ann",
      identity,
      recipient: await importPeerKeys(info),
    });
    const answer = (re: number) => (m: Message) =>
      (m.type === "delivered" || m.type === "error") && m.re === re;
    await mallory.write({ type: "send", id: 2, to: "ann", body: envelope });
    equal((await mallory.next(answer(2))).type, "delivered");
    await waitForMessage(page, "mallory", "only once");

    // The page reloads and joins again: the same envelope, sent again, is a replay.
    await page.reload();
    await joinAs(page, "ann");
    await mallory.write({ type: "send", id: 3, to: "ann", body: envelope });
    const refused = await mallory.next(answer(3));
    equal(refused.type === "error" ? refused.code : refused.type, "REPLAYED");
    await waitForNotice(page, "a copy of a message already shown");
    // Shown once: from the conversation kept across the reload, not again as the replay.
    equal(
      await page.$$eval(
        "#messages li[data-from]",
        (items) => items.filter((item) => item.textContent?.includes("only once")).length,
      ),
      1,
    );
  } finally {
    mallory.close();
    await mallory.done;
    await browser.close();
    await server.stop();
  }
});
