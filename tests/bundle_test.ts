/**
 * The single file to hand out: `deno task bundle` writes the whole program, the page embedded,
 * into one JavaScript file, which runs `serve` and `join` from an empty folder. The compile task
 * uses the same entry point, so this holds for the binary too.
 * @module
 */

import { equal, ok } from "node:assert/strict";
import { startCli, startServer, waitForReady } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("the bundle alone, in an empty folder, serves the page and runs serve and join: chat and a PLAY", async () => {
  const build = await Deno.makeTempDir({ prefix: "peerstream-bundle-" });
  const empty = await Deno.makeTempDir({ prefix: "peerstream-empty-" });
  try {
    // The task's command, into a folder of our own.
    const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
    ok(String(tasks.bundle).includes("main.ts") && String(tasks.compile).endsWith("main.ts"));
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", `${build}/peerstream.js`, "main.ts"],
      cwd: ROOT,
      stderr: "piped",
    }).output();
    equal(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
    const file = `${empty}/peerstream.js`;
    await Deno.copyFile(`${build}/peerstream.js`, file);
    equal([...Deno.readDirSync(empty)].length, 1);

    const server = await startServer({ main: file, cwd: empty, args: ["--web", "127.0.0.1:0"] });
    try {
      const web = await server.out.waitFor(/^Web page at /);
      const url = web.slice("Web page at ".length).trim();
      const page = await fetch(url);
      ok((await page.text()).includes("/app.js"));
      const script = await (await fetch(`${url}app.js`)).text();
      ok(script.length > 50_000, `app.js is ${script.length} bytes`);
      await waitForReady(server.port);

      const ann = await startCli(server.port, "ann", { main: file });
      const bob = await startCli(server.port, "bob", { main: file });
      await ann.out.waitFor(/^\* bob joined$/);
      await bob.type("MESSAGE ann hello from the bundle");
      await ann.out.waitFor(/^<bob> hello from the bundle$/);
      await bob.out.waitFor(/delivered to ann/);
      await ann.type("PLAY pattern");
      await ann.out.waitFor(/finished|ended/i, { timeoutMs: 30_000 });
      await server.out.waitFor(/stream #\d+ "ann" pattern: finished/);
      for (const client of [ann, bob]) {
        await client.type("QUIT");
        equal(await client.finish(), 0);
        await Deno.remove(client.home, { recursive: true });
      }
    } finally {
      equal(await server.stop(), 0);
    }
  } finally {
    await Deno.remove(build, { recursive: true });
    await Deno.remove(empty, { recursive: true });
  }
});
