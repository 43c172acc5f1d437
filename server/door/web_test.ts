import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { UsageError } from "../../cli/output.ts";
import { webAddress, webUrl } from "../ops/serve_flags.ts";
import type { Transport } from "./transport.ts";
import {
  CONTENT_SECURITY_POLICY,
  isLanHost,
  POSTER_MAX_AGE_S,
  upgradeRefusal,
  WebServer,
  WEBSOCKET_PATH,
} from "./web.ts";

Deno.test("isLanHost() takes addresses and LAN names, not public DNS names a rebinding page could use", () => {
  const table: [string, boolean][] = [
    ["127.0.0.1:8080", true],
    ["192.168.1.20", true],
    ["[::1]:8080", true],
    ["[fe80::1]", true],
    ["localhost:8080", true],
    ["app.localhost", true],
    ["mybox:8080", true],
    ["mybox.local", true],
    ["evil.example.com:8080", false],
    ["rebind.attacker.net", false],
    ["", false],
    ["a b", false],
    ["[not-ipv6]", false],
  ];
  for (const [host, allowed] of table) equal(isLanHost(host), allowed, host);
  ok(isLanHost("peerstream.example.org:443", new Set(["peerstream.example.org"])));
});

Deno.test("upgradeRefusal() accepts only the page's own origin", () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  equal(
    upgradeRefusal(headers({ host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080" }), {
      secure: false,
    }),
    null,
  );
  equal(
    upgradeRefusal(headers({ host: "box.local:8443", origin: "https://box.local:8443" }), {
      secure: true,
    }),
    null,
  );
  const refused: Record<string, string>[] = [
    { host: "127.0.0.1:8080", origin: "http://127.0.0.1:9999" },
    { host: "127.0.0.1:8080", origin: "https://127.0.0.1:8080" },
    { host: "127.0.0.1:8080", origin: "null" },
    { host: "127.0.0.1:8080" },
    { host: "evil.example.com:8080", origin: "http://evil.example.com:8080" },
  ];
  for (const h of refused) ok(upgradeRefusal(headers(h), { secure: false }) !== null, h.origin);
});

Deno.test("webAddress() parses [HOST:]PORT and webUrl() prints a wildcard as localhost", () => {
  deepEqual(webAddress("8080", "0.0.0.0"), { hostname: "0.0.0.0", port: 8080 });
  deepEqual(webAddress("127.0.0.1:0", "0.0.0.0"), { hostname: "127.0.0.1", port: 0 });
  deepEqual(webAddress("[::1]:8080", "0.0.0.0"), { hostname: "::1", port: 8080 });
  throws(() => webAddress("host:", "0.0.0.0"), UsageError);
  throws(() => webAddress("70000", "0.0.0.0"), UsageError);
  const addr = (hostname: string): Deno.NetAddr => ({ transport: "tcp", hostname, port: 8080 });
  equal(webUrl(addr("0.0.0.0"), false), "http://localhost:8080/");
  equal(webUrl(addr("::1"), true), "https://[::1]:8080/");
});

Deno.test("WebServer serves the page with a strict CSP and mounted routes, and refuses other methods, paths and origins", async () => {
  const served: Transport[] = [];
  const web = new WebServer({
    hostname: "127.0.0.1",
    port: 0,
    codec: "mjpeg",
    target: { serveTransport: (t) => served.push(t) },
    assets: { "/": { type: "text/html; charset=utf-8", body: "<p>page</p>" } },
    routes: {
      "/metrics": () => ({
        status: 200,
        headers: { "content-type": "text/plain" },
        body: "up 1\n",
      }),
    },
  });
  const { port } = web.start();
  const base = `http://127.0.0.1:${port}`;
  try {
    const page = await fetch(`${base}/`);
    equal(page.status, 200);
    equal(await page.text(), "<p>page</p>");
    equal(page.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
    ok(!CONTENT_SECURITY_POLICY.includes("unsafe-inline"));
    equal(page.headers.get("x-content-type-options"), "nosniff");
    deepEqual(await (await fetch(`${base}/server.json`)).json(), { codec: "mjpeg" });
    const missing = await fetch(`${base}/../../etc/passwd`);
    equal(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${base}/`, { method: "POST", body: "x" });
    equal(post.status, 405);
    await post.body?.cancel();
    const upgrade = (origin: string) =>
      fetch(`${base}${WEBSOCKET_PATH}`, {
        headers: {
          origin,
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
        },
      });
    const refused = await upgrade("http://evil.example.com");
    equal(refused.status, 403);
    await refused.body?.cancel();
    equal(served.length, 0);
    // A mounted endpoint answers with what its handler says; HEAD gets no body.
    const metrics = await fetch(`${base}/metrics`);
    equal(metrics.status, 200);
    equal(await metrics.text(), "up 1\n");
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    equal(head.headers.get("content-length"), "5");
    equal(await head.text(), "");
    const inherited = await fetch(`${base}/toString`);
    equal(inherited.status, 404);
    await inherited.body?.cancel();
  } finally {
    await web.shutdown();
  }
});

Deno.test("WebServer serves a title's poster as a JPEG the browser may keep, and 404 for others", async () => {
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2]);
  const asked: string[] = [];
  const web = new WebServer({
    hostname: "127.0.0.1",
    port: 0,
    codec: "h264",
    target: { serveTransport: () => {} },
    assets: {},
    posters: (title) => {
      asked.push(title);
      return Promise.resolve(title === "my film" ? jpeg : null);
    },
  });
  const { port } = web.start();
  const base = `http://127.0.0.1:${port}`;
  try {
    const poster = await fetch(`${base}/posters/my%20film.jpg`);
    equal(poster.status, 200);
    equal(poster.headers.get("content-type"), "image/jpeg");
    equal(poster.headers.get("cache-control"), `private, max-age=${POSTER_MAX_AGE_S}`);
    equal(poster.headers.get("x-content-type-options"), "nosniff");
    deepEqual([...new Uint8Array(await poster.arrayBuffer())], [...jpeg]);
    for (const path of ["/posters/other.jpg", "/posters/my%20film.png", "/posters/a/b.jpg"]) {
      const missing = await fetch(`${base}${path}`);
      equal(missing.status, 404, path);
      await missing.body?.cancel();
    }
    // Only well-formed poster paths reach the library.
    deepEqual(asked, ["my film", "other"]);
  } finally {
    await web.shutdown();
  }
});
