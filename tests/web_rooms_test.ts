/**
 * Rooms in the page (issue 20), with a real `serve --web`, real browsers and real terminal
 * clients (`peerstream join`): a room of two terminals and one browser chats both ways; the page
 * shows an invitation with who invited, accepts it and shows each change as a line; a member the
 * page removes gets nothing more of the room; a refresh keeps the room and its lines.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { generateIdentity } from "../protocol/e2e.ts";
import { hashEntry, parseEntry, signEntry } from "../protocol/room_chain.ts";
import { type CliClient, connectClient, startCli } from "./_helpers.ts";
import { startWsTap } from "./_ws_tap.ts";
import { startCluster } from "./_cluster.ts";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import { lookAt } from "./_look.ts";
import {
  inPage,
  joinAs,
  openPage,
  sendFromPage,
  startWebServer,
  waitForPeer,
  waitInPage,
} from "./_page.ts";

function waitOut(client: CliClient, re: RegExp, from = 0) {
  return client.out.waitFor(re, { timeoutMs: 60_000, from });
}

/** The open room's lines as the page shows them: changes, and `from: text` for messages. */
function roomLines(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll("#room-messages li")].map((li) =>
    li.dataset.change !== undefined
      ? li.querySelector(".text").textContent
      : (li.dataset.from ?? "me") + ": " +
        [...li.querySelectorAll(".text")].map((e) => e.textContent).join("\\n")
  )`) as Promise<string[]>;
}

/** Waits until the open room shows a line. */
async function waitForLine(page: Page, line: string): Promise<void> {
  await waitInPage(
    page,
    inPage(
      `(wanted) => [...document.querySelectorAll("#room-messages li")].some((li) =>
        (li.dataset.change !== undefined
          ? li.querySelector(".text").textContent
          : (li.dataset.from ?? "me") + ": " + li.querySelector(".text").textContent) === wanted)`,
      line,
    ),
    60_000,
  );
}

/** Opens a room from the sidebar and waits for its view. */
async function openRoom(page: Page, name: string): Promise<void> {
  const button = `#rooms li[data-room="${name}"] button.room-open`;
  // The list is drawn anew on every room event: a button found may be replaced before the mouse
  // reaches it ("Node is detached from document"); then click the new one.
  for (let attempt = 1;; attempt++) {
    await page.waitForSelector(button);
    try {
      await page.click(button);
      break;
    } catch (error) {
      if (attempt === 5 || !String(error).includes("detached")) throw error;
    }
  }
  await waitInPage(
    page,
    inPage(
      `(heading) => !document.getElementById("room").hidden &&
        document.getElementById("room-heading").textContent === heading`,
      `#${name}`,
    ),
  );
}

/**
 * Sends to the open room from the page and waits for what became of it: every receipt of the
 * members it went to, or a failure.
 */
async function sendToRoom(page: Page, text: string): Promise<string> {
  const before = await page.$$eval("#room-messages li[data-to]", (items) => items.length);
  await page.$eval("#room-text", (input, value) => {
    (input as unknown as { value: string }).value = value;
  }, text);
  await page.click("#room-send");
  return await waitInPage<string>(
    page,
    inPage(
      `(index) => {
        const item = document.querySelectorAll("#room-messages li[data-to]")[index];
        const done = item && ["delivered", "failed"].includes(item.dataset.state);
        return done ? item.querySelector(".state").textContent : false;
      }`,
      before,
    ),
    60_000,
  );
}

for (const kind of BROWSER_KINDS) {
  Deno.test(`rooms in ${kind}: two terminals and a page chat both ways; the page accepts an invitation, shows every change, and keeps the room across a refresh`, async () => {
    const server = await startWebServer();
    const browser = await launchBrowser(kind);
    const clients: CliClient[] = [];
    try {
      const { page, errors } = await openPage(browser, server.url);
      await joinAs(page, "ann");
      const alice = await startCli(server.port, "alice");
      clients.push(alice);
      const bob = await startCli(server.port, "bob");
      clients.push(bob);
      await alice.type("ROOM CREATE club");
      await waitOut(alice, /^\* created #club/);
      await alice.type("INVITE #club bob");
      await waitOut(bob, /^\* #club: alice invited you; ACCEPT #club or DECLINE #club$/);
      await bob.type("ACCEPT #club");
      await waitOut(alice, /^\* #club: bob joined$/);
      await alice.type("INVITE #club ann");

      // The invitation, in the sidebar and in the room, says who invited.
      await page.waitForSelector('#rooms li[data-room="club"][data-role="invited"]');
      const role = await page.$eval(
        '#rooms li[data-room="club"] .room-role',
        (e) => e.textContent,
      );
      equal(role, "alice invited you");
      await openRoom(page, "club");
      await page.waitForSelector("#room-invitation:not([hidden])");
      equal(
        await page.$eval("#room-invitation-text", (e) => e.textContent),
        "alice invited you to #club",
      );
      ok(await page.$eval("#room-send-form", (e) => (e as unknown as { hidden: boolean }).hidden));
      await page.click("#room-accept");
      await waitOut(alice, /^\* #club: ann joined$/);
      await waitOut(bob, /^\* #club: ann joined$/);
      await waitForLine(page, "You joined");
      const changes = [
        "alice created the room",
        "alice invited bob",
        "bob joined",
        "alice invited you",
        "You joined",
      ];
      deepEqual(await roomLines(page), changes);
      await page.waitForSelector("#room-invitation[hidden]");
      deepEqual(
        await page.$$eval("#room-members li", (items) => items.map((li) => li.dataset.member)),
        ["alice", "bob", "ann"],
      );

      // Both ways: the page to the room, each terminal to the room.
      // Each member's client confirmed it opened the message: its receipt reaches the page.
      equal(await sendToRoom(page, "hello from the page"), "delivered to alice, bob");
      await waitOut(alice, /^#club <ann> hello from the page$/);
      await waitOut(bob, /^#club <ann> hello from the page$/);
      await bob.type("MESSAGE #club hi ann, bob here");
      await waitForLine(page, "bob: hi ann, bob here");
      await waitOut(bob, /^\* #club: sent to alice, ann$/);
      await alice.type("MESSAGE #club and alice too");
      await waitForLine(page, "alice: and alice too");
      const before = await roomLines(page);
      deepEqual(before, [
        ...changes,
        "me: hello from the page",
        "bob: hi ann, bob here",
        "alice: and alice too",
      ]);

      // A room not in view counts its messages unread, in the sidebar and the tab's title.
      await page.click("#room-close");
      await alice.type("MESSAGE #club are you there?");
      await page.waitForSelector('#rooms li[data-room="club"] .unread');
      equal(
        await page.$eval('#rooms li[data-room="club"] .unread', (e) => e.firstChild?.textContent),
        "1",
      );
      equal(await page.title(), "(1) peerstream");
      await openRoom(page, "club");
      await waitForLine(page, "alice: are you there?");
      equal(await page.$('#rooms li[data-room="club"] .unread'), null);
      equal(await page.title(), "peerstream");
      before.push("alice: are you there?");
      // An invitation declined is gone, and its room says so to the one who invited.
      await alice.type("ROOM CREATE other");
      await waitOut(alice, /^\* created #other/);
      await alice.type("INVITE #other ann");
      await openRoom(page, "other");
      await page.waitForSelector("#room-invitation:not([hidden])");
      await page.click("#room-decline");
      await waitOut(alice, /^\* #other: ann declined the invitation$/);
      await waitForLine(page, "You declined the invitation");
      await page.waitForSelector('#rooms li[data-room="other"][data-role="out"]');
      await openRoom(page, "club");

      // A refresh keeps the room and its lines, once each, and the room still works.
      await page.reload();
      await joinAs(page, "ann");
      await page.waitForSelector('#rooms li[data-room="club"][data-role="member"]');
      await openRoom(page, "club");
      await waitInPage(
        page,
        inPage(`(n) => document.querySelectorAll("#room-members li").length === n`, 3),
      );
      deepEqual(await roomLines(page), before);
      await alice.type("MESSAGE #club welcome back");
      await waitForLine(page, "alice: welcome back");
      deepEqual(await roomLines(page), [...before, "alice: welcome back"]);
      equal(await sendToRoom(page, "still here"), "delivered to alice, bob");
      await waitOut(bob, /^#club <ann> still here$/);
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      for (const client of clients) await client.finish();
      await browser.close();
      await server.stop();
    }
  });
}

for (const kind of BROWSER_KINDS) {
  Deno.test(`rooms in ${kind}: the page's owner invites, removes a member who then gets nothing more, hands the room over and leaves`, async () => {
    const server = await startWebServer();
    const browser = await launchBrowser(kind);
    const clients: CliClient[] = [];
    try {
      const { page, errors } = await openPage(browser, server.url);
      await joinAs(page, "ann");
      const bob = await startCli(server.port, "bob");
      clients.push(bob);
      const carol = await startCli(server.port, "carol");
      clients.push(carol);
      await waitForPeer(page, "bob");
      await waitForPeer(page, "carol");

      // Create from the name field; the new room opens.
      // By keyboard: the name, then Enter; the new room opens with the focus on its heading.
      await page.focus("#room-name");
      await page.keyboard.type("film");
      await page.keyboard.press("Enter");
      await waitInPage(page, `document.activeElement?.id === "room-heading"`);
      await openRoom(page, "film");
      await waitForLine(page, "You created the room");
      for (const [name, client] of [["bob", bob], ["carol", carol]] as const) {
        await page.waitForSelector(`#room-invite-who option[value="${name}"]`);
        await page.select("#room-invite-who", name);
        await page.click("#room-invite");
        await waitOut(client, /^\* #film: ann invited you; ACCEPT #film or DECLINE #film$/);
        await client.type("ACCEPT #film");
        await waitForLine(page, `${name} joined`);
      }
      await waitOut(carol, /^\* #film: bob joined$/);
      equal(await sendToRoom(page, "for both of you"), "delivered to bob, carol");
      await waitOut(carol, /^#film <ann> for both of you$/);

      // The owner removes carol: everyone sees it, and the next message goes to bob only.
      await page.click('#room-members li[data-member="carol"] button.remove');
      await waitForLine(page, "You removed carol");
      await waitOut(carol, /^\* #film: ann removed you$/);
      await waitOut(bob, /^\* #film: ann removed carol$/);
      equal(await sendToRoom(page, "only for bob now"), "delivered to bob");
      await waitOut(bob, /^#film <ann> only for bob now$/);
      // A 1:1 message to carol after it closes the window: the server relays ann's in order.
      equal(await sendFromPage(page, "carol", "are you still there?"), "delivered");
      await waitOut(carol, /^<ann> are you still there\?$/);
      ok(!carol.out.lines.some((l) => l.includes("only for bob")), carol.out.lines.join("\n"));
      ok(!carol.err.lines.some((l) => l.includes("only for bob")), carol.err.lines.join("\n"));

      // Hand over: bob owns it, and the page's owner controls go.
      await page.click('#room-members li[data-member="bob"] button.handover');
      await waitForLine(page, "You handed the room over to bob");
      await waitOut(bob, /^\* #film: ann handed the room over to you$/);
      await page.waitForSelector('#rooms li[data-room="film"][data-role="member"]');
      equal(await page.$$eval("#room-members button.remove", (b) => b.length), 0);
      // Leave: the page is out, and says so.
      await page.click("#room-leave");
      await waitOut(bob, /^\* #film: ann left$/);
      await page.waitForSelector("#room-out:not([hidden])");
      await page.waitForSelector("#room-send-form[hidden]");
      equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
    } finally {
      for (const client of clients) await client.finish();
      await browser.close();
      await server.stop();
    }
  });
}

Deno.test("rooms in chromium: a room message queued for an offline member turns delivered on the page once they open it", async () => {
  const server = await startWebServer();
  const browser = await launchBrowser("chromium");
  const clients: CliClient[] = [];
  try {
    const { page, errors } = await openPage(browser, server.url);
    await joinAs(page, "ann");
    const bob = await startCli(server.port, "bob");
    clients.push(bob);
    let carol = await startCli(server.port, "carol");
    clients.push(carol);
    await waitForPeer(page, "bob");
    await waitForPeer(page, "carol");
    await page.focus("#room-name");
    await page.keyboard.type("film");
    await page.keyboard.press("Enter");
    await openRoom(page, "film");
    for (const [name, client] of [["bob", bob], ["carol", carol]] as const) {
      await page.waitForSelector(`#room-invite-who option[value="${name}"]`);
      await page.select("#room-invite-who", name);
      await page.click("#room-invite");
      await waitOut(client, /^\* #film: ann invited you; ACCEPT #film or DECLINE #film$/);
      await client.type("ACCEPT #film");
      await waitForLine(page, `${name} joined`);
    }
    await waitOut(carol, /^\* #film: bob joined$/);
    const carolHome = carol.home;
    equal(await carol.finish(), 0);
    // The server has seen carol go once bob is told.
    await waitOut(bob, /carol left/);
    // bob opens it at once; carol's copy waits on the server, and the line says so.
    const sending = sendToRoom(page, "while carol is away");
    await waitOut(bob, /^#film <ann> while carol is away$/);
    await waitInPage(
      page,
      inPage(
        `(text) => [...document.querySelectorAll("#room-messages li[data-to] .state")]
          .some((e) => e.textContent === text)`,
        "delivered to bob; queued for carol (offline)",
      ),
      60_000,
    );
    carol = await startCli(server.port, "carol", { home: carolHome });
    clients.push(carol);
    await waitOut(carol, /^#film <ann> while carol is away$/);
    equal(await sending, "delivered to bob, carol");
    equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
  } finally {
    for (const client of clients) await client.finish();
    await browser.close();
    await server.stop();
  }
});

Deno.test("rooms in chromium, in a cluster: a member on another node found offline turns queued on the page's line, then delivered", async () => {
  const cluster = await startCluster({ nodes: 1 });
  const web = await startWebServer({
    args: ["--redis", cluster.redis.url, "--node", "web"],
    env: cluster.env,
  });
  const browser = await launchBrowser("chromium");
  const clients: CliClient[] = [];
  try {
    const { page, errors } = await openPage(browser, web.url);
    await joinAs(page, "ann");
    // bob is on the other node; dave, on ann's, only tells when the cluster has seen bob go.
    let bob = await startCli(cluster.nodes[0].port, "bob");
    clients.push(bob);
    const dave = await startCli(web.port, "dave");
    clients.push(dave);
    await waitForPeer(page, "bob");
    await page.focus("#room-name");
    await page.keyboard.type("film");
    await page.keyboard.press("Enter");
    await openRoom(page, "film");
    await page.waitForSelector(`#room-invite-who option[value="bob"]`);
    await page.select("#room-invite-who", "bob");
    await page.click("#room-invite");
    await waitOut(bob, /^\* #film: ann invited you; ACCEPT #film or DECLINE #film$/);
    await bob.type("ACCEPT #film");
    await waitForLine(page, "bob joined");
    const bobHome = bob.home;
    equal(await bob.finish(), 0);
    await waitOut(dave, /bob left/);
    // Handed to the cluster first ("sent to bob"); that bob was offline follows (issue 20).
    const sending = sendToRoom(page, "while bob is away");
    await waitInPage(
      page,
      inPage(
        `(text) => [...document.querySelectorAll("#room-messages li[data-to] .state")]
          .some((e) => e.textContent === text)`,
        "queued for bob (offline)",
      ),
      60_000,
    );
    bob = await startCli(cluster.nodes[0].port, "bob", { home: bobHome });
    clients.push(bob);
    await waitOut(bob, /^#film <ann> while bob is away$/);
    equal(await sending, "delivered to bob");
    equal(errors.length, 0, `page errors: ${errors.join("\n")}`);
  } finally {
    for (const client of clients) await client.finish();
    await browser.close();
    await web.stop();
    await cluster.stop();
  }
});

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
