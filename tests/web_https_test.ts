/**
 * The LAN story for WebCrypto's secure-context rule: with `--tls-self-signed` the page comes over
 * https (a secure context) and the server prints the certificate's fingerprint; opened over plain
 * http from another machine, the page says what to do instead of failing.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { startCli } from "./_helpers.ts";
import { launchBrowser } from "./_browser.ts";
import { joinAs, openPage, startWebServer, waitForPeer, waitInPage } from "./_page.ts";

Deno.test("with --tls-self-signed the page is served over https, joins, and the printed fingerprint is the certificate's", async () => {
  const data = await Deno.makeTempDir({ prefix: "peerstream-tls-data-" });
  const server = await startWebServer({ args: ["--data", data, "--tls-self-signed"] });
  // The person accepts the certificate after comparing fingerprints: the test trusts it.
  const browser = await launchBrowser("chromium", { acceptInsecureCerts: true });
  try {
    ok(server.url.startsWith("https://127.0.0.1:"), server.url);
    const printed = await server.out.waitFor(/^TLS certificate SHA-256 /);
    const pem = await Deno.readTextFile(`${data}/tls/self-signed.pem`);
    equal(printed.split(" ").pop(), new X509Certificate(pem).fingerprint256);
    const { page, errors } = await openPage(browser, server.url);
    equal(await page.evaluate("isSecureContext"), true);
    await joinAs(page, "ann");
    // A terminal client trusts the same certificate with --ca.
    const bob = await startCli(server.port, "bob", {
      args: ["--tls", "--ca", `${data}/tls/self-signed.pem`, "--player", "none"],
    });
    await waitForPeer(page, "bob");
    await bob.type("QUIT");
    equal(await bob.finish(), 0);
    await Deno.remove(bob.home, { recursive: true });
    equal(errors.length, 0, errors.join("\n"));
  } finally {
    await browser.close();
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("opened over plain http from another machine, the page says it needs https and how to get it", async () => {
  const server = await startWebServer();
  // Another machine's view: a LAN name that is not this machine's loopback to the browser.
  const browser = await launchBrowser("chromium", {
    chromiumArgs: ["--host-resolver-rules=MAP peerstream-box.lan 127.0.0.1"],
  });
  try {
    const port = new URL(server.url).port;
    const { page } = await openPage(browser, `http://peerstream-box.lan:${port}/`);
    equal(await page.evaluate("isSecureContext"), false);
    const shown = await waitInPage<string>(
      page,
      `!document.getElementById("insecure").hidden && document.getElementById("insecure").textContent`,
    );
    ok(shown.includes("needs a secure connection"), shown);
    ok(shown.includes("--tls-self-signed"), shown);
    ok(shown.includes(`https://peerstream-box.lan:${port}/`), shown);
    equal(await page.$eval("#join-form", (form) => form.hasAttribute("hidden")), true);
  } finally {
    await browser.close();
    await server.stop();
  }
});
