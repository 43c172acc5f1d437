/**
 * Rooms in the page (issue 20) against a server that lies: a room rolled back by a server restarted
 * on cut data, and a membership change the server makes up, are both caught by the page, which
 * shows the room read-only.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { generateIdentity } from "../protocol/e2e.ts";
import { hashEntry, parseEntry, signEntry } from "../protocol/room_chain.ts";
import { type CliClient, connectClient, startCli } from "./_helpers.ts";
import { startWsTap } from "./_ws_tap.ts";
import { launchBrowser } from "./_browser.ts";
import { lookAt } from "./_look.ts";
import { joinAs, openPage, startWebServer, waitForPeer, waitInPage } from "./_page.ts";
import { openRoom, roomLines, sendToRoom, waitForLine, waitOut } from "./_web_rooms.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("rooms in chromium: a server that comes back with a room rolled back is caught by the page, which shows the room read-only with a warning", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-web-data-" });
  const args = ["--data", data, "--port", String(freePort()), "--web", `127.0.0.1:${freePort()}`];
  let server = await startWebServer({ args });
  const browser = await launchBrowser("chromium");
  const clients: CliClient[] = [];
  try {
    const { page, errors } = await openPage(browser, server.url);
    await joinAs(page, "ann");
    const bob = await startCli(server.port, "bob");
    clients.push(bob);
    await waitForPeer(page, "bob");
    await page.type("#room-name", "club");
    await page.click("#room-create");
    await openRoom(page, "club");
    await page.waitForSelector('#room-invite-who option[value="bob"]');
    await page.select("#room-invite-who", "bob");
    await page.click("#room-invite");
    await waitOut(bob, /^\* #club: ann invited you; ACCEPT #club or DECLINE #club$/);
    await bob.type("ACCEPT #club");
    await waitForLine(page, "bob joined");
    ok(await page.$eval("#room-broken", (e) => (e as unknown as { hidden: boolean }).hidden));

    // The server goes away; its data comes back without bob's accept (a rollback).
    await server.stop();
    await bob.finish();
    const logs = [...Deno.readDirSync(`${data}/rooms`)].filter((e) => e.name.endsWith(".log"));
    equal(logs.length, 1);
    const path = `${data}/rooms/${logs[0].name}`;
    const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
    equal(lines.length, 3);
    await Deno.writeTextFile(path, lines.slice(0, 2).join("\n") + "\n");
    server = await startWebServer({ args });

    // The page rejoins by itself and says the room cannot be trusted; it sends nothing to it.
    const warning = await waitInPage<string>(
      page,
      `!document.getElementById("room-broken").hidden &&
        document.getElementById("room-broken").textContent`,
      60_000,
    );
    ok(warning.startsWith("This room is read-only: "), warning);
    ok(warning.includes("(a rollback)"), warning);
    await page.waitForSelector('#rooms li[data-room="club"][data-broken]');
    await page.waitForSelector("#room-send-form[hidden]");
    await page.waitForSelector("#room-invite-form[hidden]");
    await lookAt(page, "chromium-room-read-only");
    const shown = String(await page.evaluate(`document.body.innerText`));
    ok(!/\b[A-Z]{2,}_[A-Z_]{2,}\b|\bVERIFY\b/.test(shown), `a wire code on the page: ${shown}`);
    // Checked again, the server still shows the older history: the room stays read-only.
    await page.click("#room-check");
    const still = await waitInPage<string>(
      page,
      `!document.getElementById("room-checked").hidden &&
        document.getElementById("room-checked").textContent`,
      60_000,
    );
    equal(
      still,
      "Checked again: the server still shows an older history of this room than the one this page saw (a rollback), so the room stays read-only",
    );
    await page.waitForSelector("#room-send-form[hidden]");
    ok(!(await page.$eval("#room-broken", (e) => (e as unknown as { hidden: boolean }).hidden)));
    // The browser's own errors for the tries while the server was away are not the page's.
    const other = errors.filter((error) => !/ERR_CONNECTION_REFUSED/.test(error));
    equal(other.length, 0, `page errors: ${other.join("\n")}`);
  } finally {
    for (const client of clients) await client.finish();
    await browser.close();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("rooms in chromium: a membership change the server makes up is caught by the page, which shows the room read-only with no way to send to it", async () => {
  const server = await startWebServer();
  const webPort = Number(new URL(server.url).port);
  const tap = startWsTap(webPort);
  const browser = await launchBrowser("chromium");
  // dave is a real peer with a registered key: his made-up entry is signed by him.
  const daveIdentity = await generateIdentity();
  const dave = await connectClient(server.port, "dave", { identity: daveIdentity });
  try {
    const { page, errors } = await openPage(browser, `http://127.0.0.1:${tap.port}/`);
    await joinAs(page, "ann");
    await page.type("#room-name", "club");
    await page.click("#room-create");
    await openRoom(page, "club");
    await waitForLine(page, "You created the room");
    const entries = tap.received.flatMap((m) => m.type === "room-entries" ? m.entries : []);
    equal(entries.length, 1);
    const last = await hashEntry(parseEntry(entries[0]));
    // The server "adds" dave: an accept of an invitation nobody made.
    const forged = await signEntry({
      room: last.entry.room,
      seq: 1,
      prev: last.hash,
      author: "dave",
      op: "accept",
      subject: "dave",
      keys: null,
      settings: null,
      time: Date.now(),
    }, daveIdentity);
    await tap.inject({
      type: "room-entries",
      room: last.entry.room,
      entries: [forged.toBase64()],
      name: "club",
    });
    const warning = await waitInPage<string>(
      page,
      `!document.getElementById("room-broken").hidden &&
        document.getElementById("room-broken").textContent`,
      60_000,
    );
    ok(warning.includes("does not check out"), warning);
    await page.waitForSelector('#rooms li[data-room="club"][data-broken]');
    await page.waitForSelector("#room-send-form[hidden]");
    // The members shown are those the page checked; dave's made-up arrival is not a line.
    deepEqual(
      await page.$$eval("#room-members li", (items) => items.map((li) => li.dataset.member)),
      ["ann"],
    );
    ok(!(await roomLines(page)).some((line) => line.includes("dave")));
    // The server itself never made that change: checked again, its history extends the page's,
    // and the room is usable again.
    await page.click("#room-check");
    await page.waitForSelector("#room-broken[hidden]");
    await page.waitForSelector("#room-send-form:not([hidden])");
    equal(
      await page.$eval("#room-checked", (e) => e.textContent),
      "Checked again: the server's history agrees with what this page saw, so the room works again",
    );
    equal(await page.$('#rooms li[data-room="club"][data-broken]'), null);
    equal(await sendToRoom(page, "back to normal"), "nobody else is in the room");
    equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
  } finally {
    await dave.session.quit();
    await browser.close();
    await tap.close();
    await server.stop();
  }
});
