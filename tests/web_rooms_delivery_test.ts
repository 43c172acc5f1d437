/**
 * Rooms in the page (issue 20), delivery states: a room message queued for an offline member turns
 * delivered once they open it, and in a two-node cluster a member on the other node found offline
 * turns the page's line queued, then delivered.
 * @module
 */

import { equal } from "node:assert/strict";
import { type CliClient, startCli } from "./_helpers.ts";
import { startCluster } from "./_cluster.ts";
import { launchBrowser } from "./_browser.ts";
import { inPage, joinAs, openPage, startWebServer, waitForPeer, waitInPage } from "./_page.ts";
import { openRoom, sendToRoom, waitForLine, waitOut } from "./_web_rooms.ts";

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
