/**
 * Rooms in the page (issue 20) in Chromium and Firefox, with a real `serve --web` and real terminal
 * clients: two terminals and a page chat both ways, the page accepts an invitation, shows every
 * change and keeps the room across a refresh; the page's owner invites, removes a member who then
 * gets nothing more, hands the room over and leaves.
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { type CliClient, startCli } from "./_helpers.ts";
import { BROWSER_KINDS, launchBrowser } from "./_browser.ts";
import {
  inPage,
  joinAs,
  openPage,
  sendFromPage,
  startWebServer,
  waitForPeer,
  waitInPage,
} from "./_page.ts";
import { openRoom, roomLines, sendToRoom, waitForLine, waitOut } from "./_web_rooms.ts";

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
